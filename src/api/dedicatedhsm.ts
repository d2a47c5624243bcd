/** DedicatedHsm: one Azure Dedicated HSM (a Thales Luna 7 A790 appliance), its Azure resource and its appliance. */
import { Type, type Static } from '@sinclair/typebox';
import {
  Conditions,
  CredentialGuard,
  Duration,
  Fingerprint,
  LastHandled,
  ObjectName,
  ObservedGeneration,
  Patterns,
  Port,
  SecretKey,
  SecretKeyRef,
  StringEnum,
  StringMap,
  Timestamp,
  HostKey,
  HostKeyRules,
  InsecureTrustOnFirstUse,
  cel,
  immutable,
} from './common.js';
import type { KindDefinition } from './crd.js';

export const SKU_A790 = 'SafeNet Luna Network HSM A790';
export const SKUS = [SKU_A790] as const;
export const STAMPS = ['stamp1', 'stamp2'] as const;
export const ZONES = ['1', '2', '3'] as const;
export const DELETION_POLICIES = ['Orphan', 'Delete'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

/**
 * The Azure tags the operator writes on every HSM it creates or adopts: whose it is (controllers/dedicatedhsm/
 * ownership.ts). ARM tag names are case-insensitive; spec.azure.tags may not use these names in any case.
 */
export const OWNER_TAGS = {
  namespace: 'dedicatedhsm.io-owner-namespace',
  name: 'dedicatedhsm.io-owner-name',
  uid: 'dedicatedhsm.io-owner-uid',
} as const;
/** ARM's limit of tags per resource, less the ownership tags. */
const MAX_SPEC_TAGS = 50 - Object.keys(OWNER_TAGS).length;

const MOVE = 'an HSM cannot be moved; create a new DedicatedHsm';
const REPLACE = 'Azure cannot change it on an existing HSM; create a new DedicatedHsm';

const AzureCredentialsRef = Type.Object(
  {
    name: ObjectName('Name of a Secret in the same namespace that holds a service principal. Required and non-empty.'),
    tenantIdKey: SecretKey('Key in the Secret holding the Microsoft Entra tenant ID.', 'tenantId'),
    clientIdKey: SecretKey('Key in the Secret holding the application (client) ID.', 'clientId'),
    clientSecretKey: SecretKey('Key in the Secret holding the client secret.', 'clientSecret'),
  },
  {
    description:
      "Service principal the operator uses for this HSM's Azure calls. Omit it to use the operator's own identity (workload identity or the default Azure credential chain).",
  },
);

const sameSubscription = (field: string) =>
  `self.${field}.lowerAscii().startsWith('/subscriptions/' + self.subscriptionId.lowerAscii() + '/')`;

export const DedicatedHsmAzureSchema = Type.Object(
  {
    subscriptionId: Type.String({
      description: 'Azure subscription (GUID) the HSM is deployed in. The subnet and the gateway must be in it too. Immutable.',
      maxLength: 36,
      pattern: Patterns.guid,
      ...cel(immutable('subscriptionId', MOVE)),
    }),
    resourceGroup: Type.String({
      description: 'Resource group of the HSM resource (1-90 characters). The operator never deletes resource groups. Immutable.',
      minLength: 1,
      maxLength: 90,
      pattern: Patterns.resourceGroup,
      ...cel(immutable('resourceGroup', MOVE)),
    }),
    name: Type.Optional(
      Type.String({
        description:
          'ARM resource name of the HSM (3-24 letters, digits and hyphens). Defaults to metadata.name, which must then follow the same rule. An existing HSM of this name is adopted instead of creating a second one. Immutable.',
        minLength: 3,
        maxLength: 24,
        pattern: Patterns.armName,
      }),
    ),
    location: Type.String({
      description: 'Azure region in its programmatic form, for example eastus (not "East US"). Immutable.',
      minLength: 2,
      maxLength: 40,
      pattern: Patterns.location,
      ...cel(immutable('location', MOVE)),
    }),
    sku: StringEnum(SKUS, {
      description: 'SKU of the HSM. Only the Luna 7 network HSM is supported (payShield SKUs are Payment HSM). Immutable.',
      default: SKU_A790,
      ...cel(immutable('sku', REPLACE)),
    }),
    stampId: Type.Optional(
      StringEnum(STAMPS, {
        description:
          'Stamp (set of racks) to deploy into, in regions without availability zones. Two HSMs on different stamps survive a stamp failure. Exactly one of stampId or zones. Immutable.',
        ...cel(immutable('stampId', MOVE)),
      }),
    ),
    zones: Type.Optional(
      Type.Array(StringEnum(ZONES, { description: 'Availability zone number.' }), {
        description: 'Availability zone to deploy into, in zonal regions: one zone. Exactly one of stampId or zones. Immutable.',
        minItems: 1,
        maxItems: 1,
        ...cel(immutable('zones', MOVE)),
      }),
    ),
    subnetId: Type.String({
      description:
        'ARM ID of the subnet the HSM NIC is placed in: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>. The subnet must be delegated to Microsoft.HardwareSecurityModules/dedicatedHSMs and hold only HSMs. Immutable.',
      maxLength: 1024,
      pattern: Patterns.subnetId,
      ...cel(immutable('subnetId', MOVE)),
    }),
    privateIpAddress: Type.Optional(
      Type.String({
        description: 'Fixed private IPv4 address for the HSM NIC, inside spec.azure.subnetId. Default: Azure picks one from the subnet. Immutable.',
        maxLength: 15,
        pattern: Patterns.ipv4,
        ...cel(immutable('privateIpAddress', REPLACE)),
      }),
    ),
    expressRouteGatewayId: Type.String({
      description:
        'ARM ID of the ExpressRoute virtual network gateway of the VNet: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworkGateways/<gateway>. The operator deploys only once it is Succeeded (the deployment race).',
      maxLength: 1024,
      pattern: Patterns.gatewayId,
    }),
    tags: Type.Optional(
      StringMap({
        description: `Azure tags on the HSM resource (at most ${MAX_SPEC_TAGS}; keys up to 512 characters, values up to 256). The only Azure property that can change after creation. The operator adds its ownership tags (${Object.values(OWNER_TAGS).join(', ')}: this object's namespace, name and uid); those names are reserved.`,
        maxProperties: MAX_SPEC_TAGS,
        maxValueLength: 256,
        ...cel(
          { rule: 'self.all(k, size(k) <= 512)', message: 'Azure tag names are at most 512 characters' },
          {
            rule: `self.all(k, !(k.lowerAscii() in [${Object.values(OWNER_TAGS).map((t) => `'${t}'`).join(', ')}]))`,
            message: `${Object.values(OWNER_TAGS).join(', ')} are the operator's ownership tags: they cannot be set in spec.azure.tags`,
          },
        ),
      }),
    ),
    credentialsRef: Type.Optional(AzureCredentialsRef),
  },
  {
    description: 'Where and how the HSM is deployed in Azure.',
    ...cel(
      {
        rule: 'has(self.stampId) != has(self.zones)',
        message: 'set exactly one of stampId (stamp1 or stamp2) or zones (in zonal regions)',
        fieldPath: '.stampId',
      },
      {
        rule: sameSubscription('subnetId'),
        message: 'subnetId must be in the subscription given by spec.azure.subscriptionId',
        fieldPath: '.subnetId',
      },
      {
        rule: sameSubscription('expressRouteGatewayId'),
        message: 'expressRouteGatewayId must be in the subscription given by spec.azure.subscriptionId',
        fieldPath: '.expressRouteGatewayId',
      },
      // Field rules only compare values present on both sides; adding or removing an optional field is checked here.
      { rule: 'has(self.stampId) == has(oldSelf.stampId)', message: `stampId is immutable: ${MOVE}`, fieldPath: '.stampId' },
      { rule: 'has(self.zones) == has(oldSelf.zones)', message: `zones is immutable: ${MOVE}`, fieldPath: '.zones' },
      {
        rule: 'has(self.privateIpAddress) == has(oldSelf.privateIpAddress)',
        message: `privateIpAddress is immutable: ${REPLACE}`,
        fieldPath: '.privateIpAddress',
      },
    ),
  },
);

export const DedicatedHsmApplianceSchema = Type.Object(
  {
    host: Type.Optional(
      Type.String({
        description: "Host name or IPv4 address of the appliance for SSH and NTLS. Default: the private IP of the HSM's NIC, read from Azure.",
        maxLength: 253,
        pattern: Patterns.hostname,
      }),
    ),
    port: Port('SSH port of the appliance shell (lunash).', 22),
    username: Type.String({
      description: 'Appliance user for lunash over SSH. On Azure this is tenantadmin.',
      default: 'tenantadmin',
      maxLength: 32,
      pattern: Patterns.username,
    }),
    credentialsRef: SecretKeyRef(
      'Secret with the appliance password of username. A rejected password is never tried again until this Secret changes.',
      'Key in the Secret holding the password.',
      'password',
    ),
    hostKey: Type.Optional(HostKey('the appliance')),
    insecureTrustOnFirstUse: InsecureTrustOnFirstUse(),
    ntlsPort: Port('TCP port of NTLS, the port Luna clients connect to.', 1792),
    maxChannels: Type.Optional(
      Type.Integer({
        description:
          'Most lunash commands the operator runs on this appliance at once (SSH exec channels on its one connection); the rest wait their turn. Default 4. Lower it to leave sessions for your own administration; a server that refuses a channel (sshd MaxSessions) lowers it further by itself.',
        format: 'int32',
        minimum: 1,
        maximum: 16,
      }),
    ),
  },
  { description: 'How the operator reaches the Luna appliance (lunash over SSH, NTLS on TCP).', ...HostKeyRules },
);

export const DedicatedHsmDeploymentSchema = Type.Object(
  {
    raceRetries: Type.Integer({
      description: 'How often a deployment that failed on the gateway race is retried, with backoff, before the failed resource is deleted and redeployed.',
      format: 'int32',
      default: 3,
      minimum: 0,
      maximum: 10,
    }),
    redeployAfter: Type.Integer({
      description: 'Rounds of delete-and-redeploy after raceRetries are used up; then the operator stops and says so (DeploymentFailed).',
      format: 'int32',
      default: 2,
      minimum: 0,
      maximum: 5,
    }),
  },
  { description: 'How hard the operator tries when a deployment fails on the gateway race.', default: {} },
);

export const DedicatedHsmSpecSchema = Type.Object(
  {
    azure: DedicatedHsmAzureSchema,
    appliance: DedicatedHsmApplianceSchema,
    deployment: DedicatedHsmDeploymentSchema,
    deletionPolicy: StringEnum(DELETION_POLICIES, {
      description:
        'What deleting this object does. Orphan (default): remove the finalizer and leave the HSM in Azure. Delete: delete the Azure resource, which needs the HSM zeroized (the operator zeroizes only when the dedicatedhsm.io/confirm-zeroize annotation names the ARM resource).',
      default: 'Orphan',
    }),
    resyncInterval: Duration('How often the operator re-reads Azure and the appliance when nothing else happens.', {
      default: '10m',
      min: '1m',
      max: '24h',
    }),
  },
  { description: 'Desired state of the HSM.' },
);

const LastFailure = Type.Object(
  {
    class: Type.String({ description: 'How the operator classified the failure (a reason, for example DeploymentRace or QuotaExceeded).', maxLength: 64 }),
    code: Type.Optional(Type.String({ description: 'Azure error code, for example QuotaExceeded or Conflict.', maxLength: 256 })),
    message: Type.String({ description: 'Azure error message.', maxLength: 4096 }),
    time: Timestamp('When the failure was seen.'),
  },
  { description: 'The last failed deployment or deletion.' },
);

const PendingOperation = Type.Object(
  {
    kind: StringEnum(['create', 'delete'] as const, { description: 'What is in flight: create (PUT) or delete.' }),
    token: Type.String({ description: 'Resume token of the long-running operation poller, so a restarted operator resumes instead of sending another PUT.', maxLength: 16384 }),
    startedAt: Timestamp('When the operation was sent.'),
  },
  { description: 'The Azure operation in flight (at most one per HSM).' },
);

const GatewayStatus = Type.Object(
  {
    state: Type.String({ description: 'Observed gateway state: its provisioningState, or NotFound / NotExpressRoute.', maxLength: 64 }),
    since: Type.Optional(Timestamp('Since when the gateway has been in this state.')),
  },
  { description: 'The ExpressRoute gateway as last observed.' },
);

const ApplianceStatus = Type.Object(
  {
    softwareVersion: Type.Optional(Type.String({ description: 'Appliance software version (hsm show), for example 7.2.0-220.', maxLength: 64 })),
    firmwareVersion: Type.Optional(Type.String({ description: 'HSM firmware version, for example 7.0.3.', maxLength: 64 })),
    serial: Type.Optional(Type.String({ description: 'HSM serial number.', maxLength: 32 })),
    model: Type.Optional(Type.String({ description: 'HSM model, for example Luna K7.', maxLength: 64 })),
    zeroized: Type.Optional(Type.Boolean({ description: 'Whether the HSM reports itself zeroized (new HSMs are).' })),
    soAttemptsLeft: Type.Optional(
      Type.Integer({ description: 'HSM SO login attempts left before zeroization, as the appliance reports them.', format: 'int32', minimum: 0 }),
    ),
    rebootPatchInstalled: Type.Optional(Type.Boolean({ description: 'Whether the reboot-hang patch (Thales KB0019789) is installed.' })),
    ntlsServerCertFingerprint: Type.Optional(Fingerprint('SHA-256 fingerprint of the NTLS server certificate (server.pem).')),
    ntlsServerCertNotAfter: Type.Optional(Timestamp('Expiry of the NTLS server certificate.')),
    hostKeyFingerprint: Type.Optional(Type.String({ description: 'SSH host key fingerprint seen on the last connection (SHA256:...).', maxLength: 64 })),
    credentialAccepted: Type.Optional(
      Type.Object(
        {
          secretName: Type.Optional(Type.String({ description: 'namespace/name of the Secret.', maxLength: 317 })),
          secretUid: Type.String({ description: 'UID of the Secret.', maxLength: 64 }),
          resourceVersion: Type.String({ description: 'resourceVersion of the Secret when the login succeeded.', maxLength: 64 }),
        },
        {
          description:
            'The version of the appliance credentials Secret the operator last logged in with successfully. hsm-operator plan --appliance logs in only with this version, so it never spends a value the operator has not proven (a rejection plan cannot record would be tried again by the operator).',
        },
      ),
    ),
    observedAt: Type.Optional(Timestamp('When these facts were read.')),
  },
  { description: 'Facts read from the appliance.' },
);

export const DedicatedHsmStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(ObservedGeneration()),
    conditions: Type.Optional(Conditions('DedicatedHsm')),
    resourceId: Type.Optional(Type.String({ description: 'ARM ID of the HSM resource.', maxLength: 1024 })),
    provisioningState: Type.Optional(
      Type.String({
        description: 'Azure provisioningState: CheckingQuota, Allocating, Connecting, Provisioning, Succeeded, Failed or Deleting.',
        maxLength: 64,
      }),
    ),
    statusMessage: Type.Optional(Type.String({ description: 'Azure statusMessage of the HSM resource.', maxLength: 4096 })),
    privateIpAddress: Type.Optional(Type.String({ description: "Private IP address of the HSM's NIC.", maxLength: 64 })),
    nicId: Type.Optional(Type.String({ description: "ARM ID of the HSM's network interface.", maxLength: 1024 })),
    attempts: Type.Optional(Type.Integer({ description: 'Deployment attempts in the current round.', format: 'int32', minimum: 0 })),
    redeploys: Type.Optional(Type.Integer({ description: 'Delete-and-redeploy rounds used.', format: 'int32', minimum: 0 })),
    lastFailure: Type.Optional(LastFailure),
    pendingOperation: Type.Optional(PendingOperation),
    gateway: Type.Optional(GatewayStatus),
    appliance: Type.Optional(ApplianceStatus),
    credentialGuard: Type.Optional(CredentialGuard()),
    lastHandledResyncAt: LastHandled('lastHandledResyncAt', 'Azure and the appliance re-read'),
  },
  { description: 'Observed state of the HSM, written by the operator.' },
);

export type DedicatedHsmSpec = Static<typeof DedicatedHsmSpecSchema>;
export type DedicatedHsmAzure = Static<typeof DedicatedHsmAzureSchema>;
export type DedicatedHsmAppliance = Static<typeof DedicatedHsmApplianceSchema>;
export type DedicatedHsmStatus = Static<typeof DedicatedHsmStatusSchema>;

const ready = (what: string) => `.status.conditions[?(@.type=="${what}")]`;

export const DedicatedHsmDefinition: KindDefinition = {
  kind: 'DedicatedHsm',
  plural: 'dedicatedhsms',
  singular: 'dedicatedhsm',
  shortNames: ['dhsm'],
  description:
    'DedicatedHsm is an Azure Dedicated HSM (Thales Luna 7 network HSM): the operator deploys it once the network is ready, reads its appliance, and never destroys key material by itself.',
  spec: DedicatedHsmSpecSchema,
  status: DedicatedHsmStatusSchema,
  rootRules: [
    {
      rule: "has(self.spec.azure.name) || self.metadata.name.matches('^[a-zA-Z0-9-]{3,24}$')",
      message: 'metadata.name is not a valid ARM name for an HSM (3-24 letters, digits, hyphens): set spec.azure.name',
      fieldPath: '.spec.azure.name',
      reason: 'FieldValueRequired',
    },
    {
      rule:
        '(has(self.spec.azure.name) ? self.spec.azure.name : self.metadata.name) == (has(oldSelf.spec.azure.name) ? oldSelf.spec.azure.name : oldSelf.metadata.name)',
      message: `spec.azure.name is immutable (it defaults to metadata.name): ${MOVE}`,
      fieldPath: '.spec.azure.name',
    },
  ],
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: `${ready('Ready')}.status`, description: 'Whether the HSM is deployed and its appliance reachable.' },
    { name: 'Reason', type: 'string', jsonPath: `${ready('Ready')}.reason`, description: 'Why Ready has its status.' },
    { name: 'Provisioning', type: 'string', jsonPath: '.status.provisioningState', description: 'Azure provisioningState.' },
    { name: 'IP', type: 'string', jsonPath: '.status.privateIpAddress', description: 'Private IP address of the HSM.' },
    { name: 'Stamp', type: 'string', jsonPath: '.spec.azure.stampId', description: 'Stamp the HSM is deployed in.' },
    { name: 'Software', type: 'string', jsonPath: '.status.appliance.softwareVersion', description: 'Appliance software version (hsm show).' },
    { name: 'Firmware', type: 'string', jsonPath: '.status.appliance.firmwareVersion', description: 'HSM firmware version (hsm show).' },
    { name: 'Reboot-Patch', type: 'boolean', jsonPath: '.status.appliance.rebootPatchInstalled', description: 'Whether the reboot-hang patch (Thales KB0019789) is installed.' },
    { name: 'Zone', type: 'string', jsonPath: '.spec.azure.zones[0]', description: 'Availability zone the HSM is deployed in.', priority: 1 },
    { name: 'Location', type: 'string', jsonPath: '.spec.azure.location', description: 'Azure region.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
  ],
};
