/**
 * HsmHaGroup: a Luna HA group of partitions on several DedicatedHsms, driven through LunaCM on a client host; the
 * operator keeps members in, configures auto recovery and recovers down members within a rate limit.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  Conditions,
  CredentialGuard,
  Duration,
  HostKey,
  HostKeyRules,
  HsmRef,
  InsecureTrustOnFirstUse,
  LastHandled,
  ObservedGeneration,
  Patterns,
  Port,
  SecretKeyRef,
  Timestamp,
  cel,
  immutable,
} from './common.js';
import type { KindDefinition } from './crd.js';

const Member = Type.Object(
  {
    dedicatedHsmRef: HsmRef(
      'The DedicatedHsm holding the member partition: in this namespace, or in another one whose owners granted it (an HsmGrant there admitting HsmHaGroup from this namespace and the partition, named by label).',
    ),
    partitionSerial: Type.Optional(
      Type.String({ description: 'Serial number of the member partition (digits). Exactly one of partitionSerial or partitionLabel.', maxLength: 20, pattern: Patterns.serial }),
    ),
    partitionLabel: Type.Optional(
      Type.String({ description: 'Label of the member partition. Exactly one of partitionSerial or partitionLabel.', maxLength: 32, pattern: Patterns.lunaLabel }),
    ),
  },
  {
    description: 'One member partition of the group.',
    ...cel({ rule: 'has(self.partitionSerial) != has(self.partitionLabel)', message: 'set exactly one of partitionSerial or partitionLabel' }),
  },
);


const Client = Type.Object(
  {
    host: Type.String({ description: 'Host name or IPv4 address of the client host where LunaCM runs (reached over SSH).', maxLength: 253, pattern: Patterns.hostname }),
    port: Port('SSH port of the client host.', 22),
    username: Type.String({ description: 'SSH user on the client host allowed to run lunacm.', maxLength: 32, pattern: Patterns.username }),
    credentialsRef: SecretKeyRef(
      'Secret with the SSH password of username on the client host. A rejected password is never tried again until this Secret changes.',
      'Key in the Secret holding the password.',
      'password',
    ),
    hostKey: Type.Optional(HostKey('the client host')),
    insecureTrustOnFirstUse: InsecureTrustOnFirstUse(),
  },
  { description: 'The Luna client host where LunaCM runs the hagroup commands.', ...HostKeyRules },
);

const Recovery = Type.Object(
  {
    autoRecoveryRetries: Type.Integer({
      description: 'Auto recovery attempts by the Luna client (hagroup retry -count): 0 disables it (the Luna default), -1 is unlimited, at most 500.',
      format: 'int32',
      default: 10,
      minimum: -1,
      maximum: 500,
    }),
    autoRecoveryInterval: Type.Integer({
      description: 'Seconds between auto recovery attempts (hagroup interval -interval), 60 to 1200.',
      format: 'int32',
      default: 60,
      minimum: 60,
      maximum: 1200,
    }),
    operatorRecovery: Type.Boolean({
      description: 'Whether the operator runs hagroup recover for down members whose appliance is reachable again.',
      default: true,
    }),
    maxAttemptsPerWindow: Type.Integer({
      description: 'Operator recovery attempts allowed per window; past it the circuit opens (RecoveryCircuitOpen) until the window passes or dedicatedhsm.io/recover-now is set.',
      format: 'int32',
      default: 3,
      minimum: 1,
      maximum: 100,
    }),
    window: Duration('Sliding window for maxAttemptsPerWindow.', { default: '1h', min: '1m', max: '24h' }),
  },
  { description: 'How failed members are brought back.', default: {} },
);

export const HsmHaGroupSpecSchema = Type.Object(
  {
    label: Type.String({
      description: 'Label of the HA group in LunaCM (hagroup creategroup -label). Immutable.',
      minLength: 1,
      maxLength: 32,
      pattern: Patterns.lunaLabel,
      ...cel(immutable('label', 'the group is found on the client host by its label; create a new HsmHaGroup to use another label')),
    }),
    members: Type.Array(Member, {
      description: 'Member partitions; at least one, no duplicates. The first is the primary when the group is created.',
      minItems: 1,
      maxItems: 16,
      ...cel(
        {
          // A member is its HSM reference plus exactly one of serial or label: equal members are the same partition.
          rule: 'self.all(m, self.exists_one(n, n == m))',
          message: 'duplicate member: each partition may appear only once in members',
          },
        {
          rule: 'self.all(m, !has(m.partitionSerial) || self.exists_one(n, has(n.partitionSerial) && n.partitionSerial == m.partitionSerial))',
          message: 'duplicate member: a partition serial may appear only once in members',
          },
      ),
    }),
    client: Client,
    passwordSecretRef: SecretKeyRef(
      'Secret with the partition password the HA group uses (hagroup creategroup/addmember -password). Never logged; never retried once rejected until the Secret changes.',
      'Key in the Secret holding the password.',
      'password',
    ),
    recovery: Recovery,
    synchronize: Type.Boolean({ description: 'Whether HA synchronisation is enabled (hagroup synchronize -enable|-disable).', default: true }),
    pollInterval: Duration('How often hagroup listgroups is polled for member state.', { default: '30s', min: '5s', max: '1h' }),
  },
  { description: 'Desired state of the HA group.' },
);

const MemberStatus = Type.Object(
  {
    serial: Type.Optional(Type.String({ description: 'Serial number of the member partition.', maxLength: 32 })),
    label: Type.Optional(Type.String({ description: 'Label of the member partition.', maxLength: 64 })),
    dedicatedHsm: Type.Optional(Type.String({ description: 'The DedicatedHsm holding the partition: its name, or namespace/name in another namespace.', maxLength: 317 })),
    state: Type.Optional(Type.String({ description: 'Member state as LunaCM reports it: alive, down, or standby; unknown before the first poll.', maxLength: 32 })),
    lastRecoveryAt: Type.Optional(Timestamp('When the operator last ran hagroup recover for this member.')),
    recoveries: Type.Optional(Type.Integer({ description: 'Successful recoveries of this member.', format: 'int32', minimum: 0 })),
    failedRecoveries: Type.Optional(Type.Integer({ description: 'Failed recoveries of this member.', format: 'int32', minimum: 0 })),
  },
  { description: 'One member as last polled.' },
);

const RecoveryAttempt = Type.Object(
  {
    at: Timestamp('When the attempt was made.'),
    serial: Type.String({ description: 'Serial of the member the attempt was for.', maxLength: 32 }),
    outcome: Type.String({ description: 'Result: Succeeded, Failed or Skipped, optionally followed by detail.', maxLength: 256 }),
  },
  { description: 'One recovery attempt.' },
);

export const HsmHaGroupStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(ObservedGeneration()),
    conditions: Type.Optional(Conditions('HsmHaGroup')),
    groupNumber: Type.Optional(Type.String({ description: 'HA group number ("1" followed by the primary member serial).', maxLength: 32 })),
    slot: Type.Optional(Type.Integer({ description: 'HA group slot ID on the client host.', format: 'int32', minimum: 0 })),
    members: Type.Optional(Type.Array(MemberStatus, { description: 'Members as last polled.', maxItems: 16 })),
    aliveMembers: Type.Optional(Type.Integer({ description: 'Number of members in state alive (for kubectl get).', format: 'int32', minimum: 0 })),
    needsSync: Type.Optional(Type.Boolean({ description: 'Whether LunaCM reports that the group needs synchronisation.' })),
    recoveryAttempts: Type.Optional(
      Type.Array(RecoveryAttempt, { description: 'The most recent recovery attempts, newest last (at most 50 are kept).', maxItems: 50 }),
    ),
    credentialGuard: Type.Optional(CredentialGuard()),
    lastHandledResyncAt: LastHandled('lastHandledResyncAt', 'a pass now'),
    lastHandledRecoverAt: LastHandled('lastHandledRecoverAt', 'one hagroup recover, also with the recovery circuit open'),
  },
  { description: 'Observed state of the HA group, written by the operator.' },
);

export type HsmHaGroupSpec = Static<typeof HsmHaGroupSpecSchema>;
export type HsmHaGroupStatus = Static<typeof HsmHaGroupStatusSchema>;

const cond = (t: string) => `.status.conditions[?(@.type=="${t}")]`;

export const HsmHaGroupDefinition: KindDefinition = {
  kind: 'HsmHaGroup',
  plural: 'hsmhagroups',
  singular: 'hsmhagroup',
  shortNames: ['hsmha'],
  description:
    'HsmHaGroup is a Luna HA group across partitions on several DedicatedHsms: the operator creates it through LunaCM, configures auto recovery, recovers down members (rate-limited) and reports cloning-domain problems.',
  spec: HsmHaGroupSpecSchema,
  status: HsmHaGroupStatusSchema,
  rootRules: [],
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: `${cond('Ready')}.status`, description: 'Whether every member is alive and the group configured.' },
    { name: 'Reason', type: 'string', jsonPath: `${cond('Ready')}.reason`, description: 'Why Ready has its status.' },
    { name: 'Label', type: 'string', jsonPath: '.spec.label', description: 'HA group label.', priority: 1 },
    { name: 'Members', type: 'string', jsonPath: '.spec.members[*].dedicatedHsmRef.name', description: 'DedicatedHsms holding the members.' },
    { name: 'Alive', type: 'integer', jsonPath: '.status.aliveMembers', description: 'Members in state alive.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
  ],
};
