/**
 * HsmGrant: the owners of DedicatedHsms lend them, within bounds, to objects in other namespaces (Gateway API's
 * ReferenceGrant, made specific). A grant lives in the HSMs' namespace, so only who may edit that namespace can
 * write one; it names which namespaces may refer, with which kinds, to which HSMs, which partitions, how many
 * clients and which client names. Without a grant a reference across namespaces reaches nothing. No status: like
 * ReferenceGrant it is a statement of policy; the objects it admits (or refuses) say so in their own conditions.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ObjectName, Patterns, StringEnum, StringMap, cel } from './common.js';
import type { KindDefinition } from './crd.js';

/** Kinds that may refer to a DedicatedHsm in another namespace. */
export const GRANTABLE_KINDS = ['NtlsClientBinding', 'HsmHaGroup'] as const;
export type GrantableKind = (typeof GRANTABLE_KINDS)[number];

/** What happens to clients a grant admitted when it no longer admits them (deleted, narrowed). */
export const REVOCATION_POLICIES = ['Orphan', 'Unregister'] as const;
export type RevocationPolicy = (typeof REVOCATION_POLICIES)[number];

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

const LabelKey = Type.String({ description: 'Label key.', minLength: 1, maxLength: 317 });

const NamespaceSelector = Type.Object(
  {
    matchLabels: Type.Optional(StringMap({ description: 'Labels a namespace must carry, each with this value.', maxProperties: 32, maxValueLength: 63 })),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: LabelKey,
            operator: StringEnum(SELECTOR_OPERATORS, { description: 'In, NotIn, Exists or DoesNotExist.' }),
            values: Type.Optional(
              Type.Array(Type.String({ description: 'A label value.', maxLength: 63 }), { description: 'Values for In and NotIn (at least one); empty for Exists and DoesNotExist.', maxItems: 64 }),
            ),
          },
          {
            description: 'One requirement on a namespace label.',
            ...cel({
              rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
              message: 'In and NotIn need at least one value; Exists and DoesNotExist take none',
            }),
          },
        ),
        { description: 'Requirements on namespace labels; all must hold.', maxItems: 16 },
      ),
    ),
  },
  {
    description:
      'Namespaces whose labels match (a Kubernetes label selector; namespace labels are set by cluster administrators, not by the tenants in them). An empty selector matches no namespace: list namespaces by name to mean them.',
  },
);

export const HsmGrantSpecSchema = Type.Object(
  {
    namespaces: Type.Optional(
      Type.Array(ObjectName('A namespace name.'), {
        description: 'Namespaces, by name, whose objects may refer to the DedicatedHsms below.',
        maxItems: 256,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    namespaceSelector: Type.Optional(NamespaceSelector),
    kinds: Type.Array(StringEnum(GRANTABLE_KINDS, { description: 'A kind that may refer: NtlsClientBinding or HsmHaGroup.' }), {
      description: 'Which kinds of objects in those namespaces may refer: NtlsClientBinding (register clients) and HsmHaGroup (use partitions as HA group members).',
      default: ['NtlsClientBinding'],
      minItems: 1,
      maxItems: 2,
      'x-kubernetes-list-type': 'set',
    }),
    dedicatedHsms: Type.Array(ObjectName('Name of a DedicatedHsm in this namespace.'), {
      description: 'The DedicatedHsms of this namespace the grant lends; at least one, by name.',
      minItems: 1,
      maxItems: 64,
      'x-kubernetes-list-type': 'set',
    }),
    partitions: Type.Array(
      Type.String({
        description: 'A partition label, or a label prefix ending in "*" (team-a-* admits team-a-payments).',
        minLength: 1,
        maxLength: 33,
        pattern: '^([A-Za-z0-9][A-Za-z0-9._-]{0,31}\\*?|\\*)$',
      }),
      {
        description: 'Partitions that may be assigned to clients (or used as HA group members) under this grant, by label; "*" admits every partition.',
        minItems: 1,
        maxItems: 64,
        'x-kubernetes-list-type': 'set',
      },
    ),
    clientNamePrefix: Type.Optional(
      Type.String({
        description: 'Client names admitted under this grant must start with this prefix (the HSM owners keep names apart per team). Default: any name.',
        minLength: 1,
        maxLength: 32,
        pattern: Patterns.clientName,
      }),
    ),
    maxClientsPerHsm: Type.Integer({
      description: 'At most this many clients are admitted under this grant on each DedicatedHsm; the oldest bindings are admitted first.',
      format: 'int32',
      minimum: 0,
      maximum: 1000,
      default: 16,
    }),
    revocationPolicy: StringEnum(REVOCATION_POLICIES, {
      description:
        'What the operator does with a client this grant admitted once the grant no longer admits it (deleted, or narrowed): Orphan (default) leaves it registered and stops managing it (a Warning Event and the binding\'s NotGranted condition say so); Unregister deletes it from the HSM (client delete), only if the operator registered it for that binding.',
      default: 'Orphan',
    }),
  },
  {
    description: 'Who may use which DedicatedHsms of this namespace, and within which bounds.',
    ...cel({
      rule: 'has(self.namespaces) || has(self.namespaceSelector)',
      message: 'name the namespaces that may refer: set namespaces, namespaceSelector, or both',
    }),
  },
);

export type HsmGrantSpec = Static<typeof HsmGrantSpecSchema>;

export const HsmGrantDefinition: KindDefinition = {
  kind: 'HsmGrant',
  plural: 'hsmgrants',
  singular: 'hsmgrant',
  shortNames: ['hsmg'],
  description:
    'HsmGrant lets NtlsClientBindings and HsmHaGroups in other namespaces use DedicatedHsms of its namespace: which namespaces, which HSMs, which partitions, how many clients and which client names. Without one, a reference across namespaces reaches nothing.',
  spec: HsmGrantSpecSchema,
  rootRules: [],
  printerColumns: [
    { name: 'HSMs', type: 'string', jsonPath: '.spec.dedicatedHsms', description: 'DedicatedHsms the grant lends.' },
    { name: 'Namespaces', type: 'string', jsonPath: '.spec.namespaces', description: 'Namespaces admitted by name.' },
    { name: 'Partitions', type: 'string', jsonPath: '.spec.partitions', description: 'Partitions that may be assigned.', priority: 1 },
    { name: 'Revocation', type: 'string', jsonPath: '.spec.revocationPolicy', description: 'What happens to admitted clients when the grant stops admitting them.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
  ],
};
