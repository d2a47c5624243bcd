/**
 * Schema building blocks shared by the three kinds: references, durations, conditions, ARM ID patterns.
 *
 * Every schema here is both a TypeBox type (for `Static<>`) and, serialised, a structural OpenAPI v3 schema for the
 * CRDs. Patterns avoid Go-only regex syntax (no `(?i)`) so the same pattern works in the API server and in JS.
 */
import { Kind, Type, TypeRegistry, type Static, type TInteger, type TString, type TUnsafe, type StringOptions } from '@sinclair/typebox';
import { MAX_TRIGGER_VALUE, TRIGGERS, type TriggerStatusField } from './annotations.js';

/** One `x-kubernetes-validations` entry (a CEL rule evaluated by the API server at admission). */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** JSON path, relative to the node carrying the rule, of the field the error should name. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Spreads CEL rules into a schema's options. */
export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A rule that refuses any change to the field once set; `why` tells the user what to do instead. */
export function immutable(field: string, why: string): CelRule {
  return { rule: 'self == oldSelf', message: `${field} is immutable: ${why}` };
}

// Custom kinds so that TypeBox's Value.Check understands the two structural shapes TypeBox has no builder for.
TypeRegistry.Set<{ enum: string[] }>('StringEnum', (schema, value) => typeof value === 'string' && schema.enum.includes(value));
TypeRegistry.Set<{ maxProperties?: number; additionalProperties: { maxLength?: number } }>('StringMap', (schema, value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.values(value as Record<string, unknown>);
  if (schema.maxProperties !== undefined && entries.length > schema.maxProperties) return false;
  const max = schema.additionalProperties.maxLength ?? Infinity;
  return entries.every((v) => typeof v === 'string' && v.length <= max);
});

/** A string restricted to fixed values; `Static` is the union of the literals. */
export function StringEnum<const T extends readonly string[]>(values: T, options: StringOptions & Record<string, unknown>): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: 'StringEnum', type: 'string', enum: [...values] });
}

/** A string -> string map (structural: `additionalProperties`, never `patternProperties`). */
export function StringMap(options: { description: string; maxProperties?: number; maxValueLength?: number } & Record<string, unknown>): TUnsafe<Record<string, string>> {
  const { maxValueLength, ...rest } = options;
  return Type.Unsafe<Record<string, string>>({
    ...rest,
    [Kind]: 'StringMap',
    type: 'object',
    additionalProperties: { type: 'string', ...(maxValueLength === undefined ? {} : { maxLength: maxValueLength }) },
  });
}

/** An RFC 3339 timestamp as the API server serialises metav1.Time. */
export function Timestamp(description: string): TString {
  return Type.String({ description, format: 'date-time' });
}

// ---------------------------------------------------------------------------------------------------------------
// Patterns

/** Builds a regex fragment that matches `word` in any letter case (ARM treats segment names case-insensitively). */
export function anyCase(word: string): string {
  return [...word]
    .map((c) => {
      const lo = c.toLowerCase();
      const up = c.toUpperCase();
      if (lo !== up) return `[${up}${lo}]`;
      return /[.*+?^${}()|[\]\\/-]/.test(c) ? `\\${c}` : c;
    })
    .join('');
}

const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** Resource group names: 1-90 of letters, digits, `-_.()`, not ending in a period. */
const RESOURCE_GROUP = '[-A-Za-z0-9._()]{0,89}[-A-Za-z0-9_()]';
/** Virtual network names: 2-64, start alphanumeric, end alphanumeric or underscore. */
const VNET = '[A-Za-z0-9][-A-Za-z0-9_.]{0,62}[A-Za-z0-9_]';
/** Subnet and gateway names: 1-80, start alphanumeric, end alphanumeric or underscore. */
const CHILD = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,78}[A-Za-z0-9_])?';
const NETWORK_PREFIX = `^/${anyCase('subscriptions')}/${GUID}/${anyCase('resourceGroups')}/${RESOURCE_GROUP}/${anyCase('providers')}/${anyCase('Microsoft.Network')}/`;

export const Patterns = {
  guid: `^${GUID}$`,
  resourceGroup: `^${RESOURCE_GROUP}$`,
  /** ARM name of a Dedicated HSM (the provider's own rule). */
  armName: '^[a-zA-Z0-9-]{3,24}$',
  /** Azure region, programmatic form (`eastus`, not `East US`). */
  location: '^[a-z][a-z0-9]{1,39}$',
  subnetId: `${NETWORK_PREFIX}${anyCase('virtualNetworks')}/${VNET}/${anyCase('subnets')}/${CHILD}$`,
  gatewayId: `${NETWORK_PREFIX}${anyCase('virtualNetworkGateways')}/${CHILD}$`,
  ipv4: '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$',
  /** RFC 1123 host name (a dotted IPv4 address also matches). */
  hostname: '^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$',
  /** Kubernetes object name (DNS subdomain). */
  objectName: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  /** Key in a Secret's data. */
  secretKey: '^[-._a-zA-Z0-9]+$',
  /** OpenSSH SHA256 fingerprint: unpadded base64 of 32 bytes. */
  /** A line of `ssh-keygen -lf <(ssh-keyscan <host>)` (bits, fingerprint, comment, type), or its fingerprint alone. */
  sshFingerprint: '^(SHA256:[A-Za-z0-9+/]{43}=?|[0-9]{1,5} SHA256:[A-Za-z0-9+/]{43}=? .+ \\((ED25519|ECDSA|RSA)\\))$',
  /** NTLS client name as lunash accepts it in `client register -client <name>`. */
  clientName: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  /** Luna partition or HA group label: no spaces, so it is one lunash/lunacm argument. */
  lunaLabel: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$',
  /** Luna partition serial number. */
  serial: '^[0-9]{1,20}$',
  /** SSH login name. */
  username: '^[A-Za-z_][A-Za-z0-9_.-]{0,31}$',
  /** Go-style duration limited to h, m, s, ms: `30s`, `5m`, `1h`, `1h30m`. */
  duration: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$',
  /** Colon-separated hex digest (16, 20 or 32 bytes) as lunash and the operator print certificate fingerprints. */
  hexFingerprint: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,31}$',
} as const;

// ---------------------------------------------------------------------------------------------------------------
// References and small value types

export const ObjectNameLimit = 253;

export function ObjectName(description: string, extra: Record<string, unknown> = {}): TString {
  return Type.String({ description, minLength: 1, maxLength: ObjectNameLimit, pattern: Patterns.objectName, ...extra });
}

export function SecretKey(description: string, defaultKey?: string): TString {
  return Type.String({
    description,
    minLength: 1,
    maxLength: 253,
    pattern: Patterns.secretKey,
    ...(defaultKey === undefined ? {} : { default: defaultKey }),
  });
}

/** A reference to one key of a Secret in the same namespace. */
export function SecretKeyRef(description: string, keyDescription: string, defaultKey: string) {
  return Type.Object(
    {
      name: ObjectName('Name of the Secret, in the same namespace. Required and non-empty.'),
      key: SecretKey(keyDescription, defaultKey),
    },
    { description },
  );
}

/** A reference to an object by name in the same namespace. */
export function LocalRef(description: string, nameDescription: string) {
  return Type.Object({ name: ObjectName(nameDescription) }, { description });
}

/**
 * A reference to a DedicatedHsm: by name in the same namespace, or in another namespace under an HsmGrant there.
 * Namespace names are DNS labels (63 characters at most).
 */
export function HsmRef(description: string) {
  return Type.Object(
    {
      name: ObjectName('Name of the DedicatedHsm.'),
      namespace: Type.Optional(
        Type.String({
          description: 'Namespace of the DedicatedHsm. Default: this object\'s namespace. Another namespace needs an HsmGrant there that admits this one.',
          minLength: 1,
          maxLength: 63,
          pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        }),
      ),
    },
    { description },
  );
}


export function Port(description: string, defaultPort: number): TInteger {
  return Type.Integer({ description, minimum: 1, maximum: 65535, default: defaultPort, format: 'int32' });
}

/** CEL: whether the string expression `expr` is a duration `duration()` can convert (the CRD pattern). */
export function celIsDuration(expr: string): string {
  return `${expr}.matches('${Patterns.duration.replace(/\\/g, '\\\\')}')`;
}

/**
 * A duration string with bounds checked by CEL (`duration()` understands the same syntax).
 * maxLength keeps the CEL cost estimate small.
 */
export function Duration(description: string, bounds: { default?: string; min: string; max: string }): TString {
  return Type.String({
    description: `${description} A duration such as 30s, 5m, 1h or 1h30m; between ${bounds.min} and ${bounds.max}.`,
    maxLength: 32,
    pattern: Patterns.duration,
    ...(bounds.default === undefined ? {} : { default: bounds.default }),
    ...cel({
      // The pattern guard leaves a malformed value to the pattern error instead of a CEL conversion error.
      rule: `!${celIsDuration('self')} || (duration(self) >= duration('${bounds.min}') && duration(self) <= duration('${bounds.max}'))`,
      message: `must be between ${bounds.min} and ${bounds.max}`,
    }),
  });
}

export function Fingerprint(description: string): TString {
  return Type.String({ description, maxLength: 128 });
}

// ---------------------------------------------------------------------------------------------------------------
// SSH host key pinning (appliances and the LunaCM client host)

/** hostKey or the explicit insecure opt-in, never both. */
export const HostKeyRules = cel(
  {
    rule: 'has(self.hostKey) || (has(self.insecureTrustOnFirstUse) && self.insecureTrustOnFirstUse)',
    message: 'hostKey is required: pin the SSH host key (a line of ssh-keygen -lf <(ssh-keyscan <host>) output, or its SHA256:... fingerprint), or set insecureTrustOnFirstUse: true to trust the first key seen',
    fieldPath: '.hostKey',
    reason: 'FieldValueRequired',
  },
  {
    rule: '!(has(self.hostKey) && has(self.insecureTrustOnFirstUse) && self.insecureTrustOnFirstUse)',
    message: 'insecureTrustOnFirstUse must not be true when hostKey pins the key; remove one of them',
    fieldPath: '.insecureTrustOnFirstUse',
  },
);

export function HostKey(what: string) {
  return Type.String({
    description: `Pinned SSH host key of ${what}: one line of \`ssh-keygen -lf <(ssh-keyscan <host>)\` output, e.g. "256 SHA256:<43 base64 characters> 10.0.2.4 (ED25519)", or the SHA256:... fingerprint alone. Any of the host's keys (ED25519, ECDSA, RSA) may be pinned; the line's type lets the operator ask for that key directly. A host none of whose keys matches stops all traffic to it (HostKeyMismatch). Required unless insecureTrustOnFirstUse is true.`,
    maxLength: 300,
    pattern: Patterns.sshFingerprint,
  });
}

export function InsecureTrustOnFirstUse() {
  return Type.Boolean({
    description:
      'Trust the first host key seen and record it in status (insecure: a man in the middle on first contact goes unnoticed). Only without hostKey; later changes of the key still stop traffic.',
    default: false,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Status pieces

export const ConditionStatuses = ['True', 'False', 'Unknown'] as const;

/** metav1.Condition, field for field, with the same validation the Kubernetes API types carry. */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      description: 'Type of the condition, in CamelCase (for example Ready, Provisioned, InSync).',
      maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: StringEnum(ConditionStatuses, { description: 'Status of the condition: True, False or Unknown.' }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'The metadata.generation the condition was set for; older than metadata.generation means the condition is out of date.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    lastTransitionTime: Timestamp('Last time the condition changed from one status to another.'),
    reason: Type.String({
      description: 'Programmatic CamelCase identifier of the cause of the last transition; see docs/api.md for the vocabulary and its severities.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Type.String({ description: 'Human-readable detail: what happened and, when a human must act, what to do.', maxLength: 32768 }),
  },
  { description: 'A condition in the metav1.Condition format.' },
);

/** metav1.Condition as the API server serves it. */
export type Condition = Static<typeof ConditionSchema>;

export function Conditions(kind: string) {
  return Type.Array(ConditionSchema, {
    description: `Current state of the ${kind} as conditions: Ready rolls up the others; Reconciling and Stalled follow the kstatus conventions.`,
    maxItems: 32,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

/**
 * A trigger field of a kind's status (`lastHandledResyncAt`, ...): the value of the trigger annotation the operator
 * last handled, recorded before it acted (Flux's `lastHandledReconcileAt`).
 */
export function LastHandled(field: TriggerStatusField, what: string) {
  const t = TRIGGERS.find((x) => x.statusField === field);
  if (!t) throw new Error(`no trigger records into ${field}`);
  return Type.Optional(
    Type.String({
      description: `The value of the ${t.annotation} annotation last handled (${what}). Recorded before the operator acts, so each distinct value is acted on at most once; the annotation itself is never edited. Set the annotation to a new non-empty value, such as the current time in RFC 3339, to ask again.`,
      maxLength: MAX_TRIGGER_VALUE,
    }),
  );
}

export function ObservedGeneration() {
  return Type.Integer({ description: 'The metadata.generation the controller last acted on.', format: 'int64', minimum: 0 });
}

/**
 * A credential the operator refused to try again after it was rejected once (invariant: no credential is retried until
 * its Secret changes). Kept in status so the record survives restarts.
 */
export const CredentialGuardRecord = Type.Object(
  {
    key: Type.String({ description: 'Identity of the rejected value: `<role>@<host:port>/<secret uid>/<value digest prefix>` (unique in this list; one entry per rejected value, all counting against the appliance\'s failed-login budget).', minLength: 1, maxLength: 512 }),
    host: Type.String({ description: 'host:port the credential was presented to (records written by earlier versions name a bare host: port 22).', maxLength: 300 }),
    role: Type.String({
      description: 'What the credential logs in as: appliance-ssh (lunash over SSH), lunacm-ssh (SSH to the LunaCM client host) or hagroup-password (the HA group / partition password).',
      maxLength: 64,
    }),
    secretName: Type.Optional(Type.String({ description: 'namespace/name of the Secret that held the rejected value.', maxLength: 512 })),
    secretUid: Type.String({ description: 'metadata.uid of the Secret that held the rejected value.', maxLength: 64 }),
    secretResourceVersion: Type.String({
      description: 'metadata.resourceVersion of the Secret when the value was rejected (for reference: a metadata-only update does not lift the guard).',
      maxLength: 64,
    }),
    valueDigest: Type.Optional(
      Type.String({
        description: 'Keyed HMAC-SHA256 digest of the rejected value (never the value): the guard holds until the Secret holds a value with another digest.',
        maxLength: 128,
      }),
    ),
    rejectedAt: Timestamp('When the credential was rejected.'),
    message: Type.String({ description: 'What the far end answered (never the credential itself).', maxLength: 1024 }),
  },
  { description: 'One rejected credential value and the Secret that held it.' },
);

export function CredentialGuard() {
  return Type.Array(CredentialGuardRecord, {
    description: 'Credentials that were rejected and will not be tried again until the value in their Secret changes.',
    maxItems: 32,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['key'],
  });
}
