/**
 * NtlsClientBinding: one Luna client (name + registration identity + certificate) registered on one or more HSMs
 * with partitions assigned, kept in sync, and the server certificates it needs handed out in a Secret.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Conditions, Duration, celIsDuration, Fingerprint, HsmRef, LastHandled, LocalRef, ObjectName, ObservedGeneration, Patterns, StringEnum, Timestamp, cel, immutable } from './common.js';
import type { KindDefinition } from './crd.js';
import { DELETION_POLICIES } from './dedicatedhsm.js';
import { REVOCATION_POLICIES } from './hsmgrant.js';

export const KEY_ALGORITHMS = ['RSA2048', 'ECDSAP256'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const OUTPUT_SECRET_SUFFIX = '-ntls';

const Identity = Type.Object(
  {
    hostname: Type.Optional(
      Type.String({
        description: 'Register the client by host name (client register -hostname); the certificate is uploaded as <hostname>.pem.',
        maxLength: 253,
        pattern: Patterns.hostname,
      }),
    ),
    ip: Type.Optional(
      Type.String({ description: 'Register the client by IPv4 address (client register -ip).', maxLength: 15, pattern: Patterns.ipv4 }),
    ),
  },
  {
    description: 'How the client is registered on the HSMs: exactly one of hostname or ip.',
    ...cel({ rule: 'has(self.hostname) != has(self.ip)', message: 'set exactly one of hostname or ip' }),
  },
);

const Generate = Type.Object(
  {
    commonName: Type.Optional(
      Type.String({
        description: 'Subject common name of the generated certificate. Default: the identity (hostname or ip).',
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      }),
    ),
    duration: Duration('Lifetime of a generated certificate.', { default: '2160h', min: '1h', max: '87600h' }),
    keyAlgorithm: StringEnum(KEY_ALGORITHMS, { description: 'Key type of the generated certificate: RSA2048 or ECDSAP256.', default: 'RSA2048' }),
  },
  { description: 'Let the operator generate the client key and a self-signed certificate, and renew it before expiry.' },
);

const Certificate = Type.Object(
  {
    secretRef: Type.Optional(
      LocalRef(
        'A kubernetes.io/tls Secret in the same namespace (for example written by cert-manager) holding tls.crt and tls.key. Its changes are pushed to the HSMs.',
        'Name of the Secret. Required and non-empty.',
      ),
    ),
    generate: Type.Optional(Generate),
    renewBefore: Type.Optional(
      Duration(
        'How long before notAfter a generated certificate is renewed, or a Secret certificate is reported as CertificateExpiring. Default: one third of the lifetime.',
        { min: '1m', max: '87600h' },
      ),
    ),
  },
  {
    description: 'The client certificate: exactly one of secretRef (bring your own) or generate.',
    ...cel(
      { rule: 'has(self.secretRef) != has(self.generate)', message: 'set exactly one of secretRef or generate' },
      {
        rule: `!has(self.renewBefore) || !has(self.generate) || !${celIsDuration('self.renewBefore')} || !${celIsDuration('self.generate.duration')} || duration(self.renewBefore) < duration(self.generate.duration)`,
        message: 'renewBefore must be shorter than generate.duration',
        fieldPath: '.renewBefore',
      },
    ),
  },
);

const Target = Type.Object(
  {
    dedicatedHsmRef: HsmRef(
      'The DedicatedHsm to register the client on: in this namespace, or in another one whose owners granted it (an HsmGrant there admitting this namespace, these partitions and this client name).',
    ),
    partitions: Type.Array(
      Type.String({ description: 'Partition label.', minLength: 1, maxLength: 32, pattern: Patterns.lunaLabel }),
      {
        description: 'Labels of the partitions to assign to the client on this HSM (client assignPartition); at least one.',
        minItems: 1,
        maxItems: 16,
        'x-kubernetes-list-type': 'set',
      },
    ),
  },
  { description: 'One HSM the client is registered on, and its partitions there.' },
);

export const NtlsClientBindingSpecSchema = Type.Object(
  {
    clientName: Type.String({
      description: 'Client name on the HSMs (client register -client). Letters, digits, ".", "_", "-"; at most 64. Immutable.',
      minLength: 1,
      maxLength: 64,
      pattern: Patterns.clientName,
      ...cel(immutable('clientName', 'the client is registered on the HSMs under this name; create a new NtlsClientBinding to use another name')),
    }),
    identity: Identity,
    certificate: Certificate,
    targets: Type.Array(Target, {
      description: 'HSMs to register the client on; at least one, each HSM at most once.',
      minItems: 1,
      maxItems: 32,
      ...cel({
        rule: 'self.all(t, self.exists_one(u, u.dedicatedHsmRef == t.dedicatedHsmRef))',
        message: 'each DedicatedHsm may appear only once in targets; list all its partitions in one entry',
      }),
    }),
    outputSecretName: Type.Optional(
      ObjectName(
        'Secret the operator writes with every target\'s server.pem, the client certificate and a Chrystoki.conf fragment. Default: <metadata.name>-ntls.',
      ),
    ),
    driftCheckInterval: Duration('How often every target is compared with the spec (registration, fingerprint, partitions, server certificate).', {
      default: '5m',
      min: '30s',
      max: '24h',
    }),
    deletionPolicy: StringEnum(DELETION_POLICIES, {
      description:
        'What deleting this object does on the HSMs. Orphan (default): nothing; the client stays registered with its partitions (a GitOps prune or a kubectl delete never cuts an application off its HSM), and an Orphaned Event says so. Delete: unregister the client (client delete) from every target first; an unreachable HSM holds the deletion until it is reachable or dedicatedhsm.io/abandon is "true". Targets removed from the spec are unregistered either way.',
      default: 'Orphan',
    }),
  },
  { description: 'Desired state of the NTLS client registration.' },
);

const CertificateStatus = Type.Object(
  {
    fingerprint: Type.Optional(Fingerprint('SHA-256 fingerprint of the client certificate in use.')),
    notBefore: Type.Optional(Timestamp('Start of the certificate validity.')),
    notAfter: Type.Optional(Timestamp('End of the certificate validity.')),
    renewalTime: Type.Optional(Timestamp('When the certificate will be renewed (generated) or reported as expiring (from a Secret).')),
    secretName: Type.Optional(Type.String({ description: 'Secret holding the certificate and key in use.', maxLength: 253 })),
  },
  { description: 'The client certificate in use.' },
);

const TargetStatus = Type.Object(
  {
    dedicatedHsm: Type.String({
      description: 'The DedicatedHsm: its name, or namespace/name when it is in another namespace (unique in this list).',
      maxLength: 317,
    }),
    host: Type.Optional(Type.String({ description: 'Address of the appliance used.', maxLength: 253 })),
    registered: Type.Optional(Type.Boolean({ description: 'Whether the client is registered on this HSM.' })),
    expectedFingerprint: Type.Optional(Fingerprint('Fingerprint the HSM should report for the client (client fingerprint), in its digest size.')),
    fingerprintOnHsm: Type.Optional(Fingerprint('Fingerprint the HSM reported last.')),
    partitions: Type.Optional(
      Type.Array(Type.String({ description: 'Partition label.', maxLength: 64 }), {
        description: 'Partitions assigned to the client on this HSM, as reported.',
        maxItems: 64,
      }),
    ),
    serverCertFingerprint: Type.Optional(Fingerprint('SHA-256 fingerprint of the server.pem handed out for this HSM.')),
    lastPushedAt: Type.Optional(Timestamp('When the client configuration was last pushed to this HSM.')),
    pushes: Type.Optional(Type.Integer({ description: 'How often the configuration was pushed to this HSM.', format: 'int32', minimum: 0 })),
    owned: Type.Optional(
      Type.Boolean({
        description:
          'Whether this binding registered the client on this HSM (or took it over: its certificate, or the adopt-client annotation). Only then does the operator change, re-register or delete the client there.',
      }),
    ),
    grant: Type.Optional(Type.String({ description: 'The HsmGrant (in the HSM\'s namespace) that admitted this target, for an HSM in another namespace.', maxLength: 253 })),
    revocationPolicy: Type.Optional(
      StringEnum(REVOCATION_POLICIES, { description: 'The admitting grant\'s revocationPolicy when it last admitted this target: what happens to the client when no grant admits it any more.' }),
    ),
    lastDrift: Type.Optional(
      Type.Object(
        {
          at: Timestamp('When the drift was found.'),
          reason: Type.String({
            description: 'What drifted, in CamelCase: NotRegistered, FingerprintMismatch, PartitionMissing, ServerCertChanged, HandshakeFailed.',
            maxLength: 64,
          }),
          message: Type.Optional(Type.String({ description: 'Detail of the drift.', maxLength: 1024 })),
        },
        { description: 'The last drift found on this HSM.' },
      ),
    ),
  },
  { description: 'The client on one target HSM.' },
);

export const NtlsClientBindingStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(ObservedGeneration()),
    conditions: Type.Optional(Conditions('NtlsClientBinding')),
    certificate: Type.Optional(CertificateStatus),
    targets: Type.Optional(
      Type.Array(TargetStatus, {
        description: 'The client on each target HSM.',
        maxItems: 32,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['dedicatedHsm'],
      }),
    ),
    outputSecretName: Type.Optional(Type.String({ description: 'Secret the operator writes server certificates and Chrystoki.conf into.', maxLength: 253 })),
    lastCheckedAt: Type.Optional(Timestamp('When every target was last compared with the spec.')),
    lastHandledResyncAt: LastHandled('lastHandledResyncAt', 'a pass now'),
    lastHandledRepushAt: LastHandled('lastHandledRepushAt', 'the client deleted, registered and assigned again on every target'),
  },
  { description: 'Observed state of the client registration, written by the operator.' },
);

export type NtlsClientBindingSpec = Static<typeof NtlsClientBindingSpecSchema>;
export type NtlsClientBindingStatus = Static<typeof NtlsClientBindingStatusSchema>;

/** The output Secret name the operator uses: spec.outputSecretName or `<metadata.name>-ntls`. */
export function outputSecretName(name: string, spec: Pick<NtlsClientBindingSpec, 'outputSecretName'>): string {
  return spec.outputSecretName ?? `${name}${OUTPUT_SECRET_SUFFIX}`;
}

const cond = (t: string) => `.status.conditions[?(@.type=="${t}")]`;

export const NtlsClientBindingDefinition: KindDefinition = {
  kind: 'NtlsClientBinding',
  plural: 'ntlsclientbindings',
  singular: 'ntlsclientbinding',
  shortNames: ['ntlsb'],
  description:
    'NtlsClientBinding registers a Luna client on one or more DedicatedHsms (certificate, registration, partitions), repairs drift, and writes the server certificates and Chrystoki.conf the client needs into a Secret.',
  spec: NtlsClientBindingSpecSchema,
  status: NtlsClientBindingStatusSchema,
  rootRules: [
    {
      rule: `has(self.spec.outputSecretName) || size(self.metadata.name) <= ${253 - OUTPUT_SECRET_SUFFIX.length}`,
      message: 'metadata.name is too long for the default output Secret name <name>-ntls: set spec.outputSecretName',
      fieldPath: '.spec.outputSecretName',
      reason: 'FieldValueRequired',
    },
  ],
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: `${cond('Ready')}.status`, description: 'Whether the client works with every target.' },
    { name: 'Reason', type: 'string', jsonPath: `${cond('Ready')}.reason`, description: 'Why Ready has its status.' },
    { name: 'Client', type: 'string', jsonPath: '.spec.clientName', description: 'Client name on the HSMs.', priority: 1 },
    { name: 'Targets', type: 'string', jsonPath: '.spec.targets[*].dedicatedHsmRef.name', description: 'DedicatedHsms the client is registered on.' },
    { name: 'In-Sync', type: 'string', jsonPath: `${cond('InSync')}.status`, description: 'Whether every target matches the spec.' },
    { name: 'Expires', type: 'date', jsonPath: '.status.certificate.notAfter', description: 'Expiry of the client certificate.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
  ],
};
