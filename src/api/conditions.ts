/**
 * The condition vocabulary, in one table: condition types per kind, the reasons each may carry, and a severity for
 * every reason. Severity drives the roll-up and the kstatus conditions:
 *   ready       the happy reason of a condition
 *   progressing the operator is doing expected work (Reconciling=True)
 *   retrying    a transient failure; the operator retries with backoff (Reconciling=True)
 *   needsHuman  the operator stopped and says what a human must do (Stalled=True)
 */
import type { Condition } from './common.js';

export type Severity = 'ready' | 'progressing' | 'retrying' | 'needsHuman';
export const SEVERITIES: readonly Severity[] = ['ready', 'progressing', 'retrying', 'needsHuman'];

interface ReasonInfo {
  severity: Severity;
  meaning: string;
}

export const REASONS = {
  // ready: happy reasons
  Ready: { severity: 'ready', meaning: 'Every check passed.' },
  Observing: { severity: 'ready', meaning: 'Observe mode (dedicatedhsm.io/reconcile=observe): state is reported as found, nothing is written to Azure or the device.' },
  Delegated: { severity: 'ready', meaning: 'The subnet is delegated to Microsoft.HardwareSecurityModules/dedicatedHSMs.' },
  GatewaySucceeded: { severity: 'ready', meaning: 'The ExpressRoute gateway exists and its provisioningState is Succeeded.' },
  WithinQuota: { severity: 'ready', meaning: 'Quota (2 per stamp, 4 per region) and capacity allow this HSM, or it exists already.' },
  Succeeded: { severity: 'ready', meaning: 'The Azure resource is provisioned (provisioningState Succeeded).' },
  Reachable: { severity: 'ready', meaning: 'The appliance answers (SSH with the pinned host key, or TCP/TLS on the NTLS port).' },
  PatchInstalled: { severity: 'ready', meaning: 'The reboot-hang patch (Thales KB0019789) is installed.' },
  NotBlocked: { severity: 'ready', meaning: 'Nothing blocks deletion.' },
  Valid: { severity: 'ready', meaning: 'The client certificate is valid and outside its renewal window.' },
  Registered: { severity: 'ready', meaning: 'The client is registered on every target with its partitions assigned.' },
  InSync: { severity: 'ready', meaning: 'Every target holds the expected client certificate, registration and partitions, and a mutual-TLS handshake succeeds.' },
  Healthy: { severity: 'ready', meaning: 'Every HA group member is alive.' },
  Configured: { severity: 'ready', meaning: 'Auto recovery (hagroup retry/interval) is set as the spec asks.' },
  Consistent: { severity: 'ready', meaning: 'All members share one cloning domain; synchronisation can work.' },

  // progressing: expected work in flight
  Pending: { severity: 'progressing', meaning: 'Not checked yet.' },
  WaitingForGateway: { severity: 'progressing', meaning: 'The ExpressRoute gateway is missing or still provisioning; deploying now would hit the gateway race.' },
  Provisioning: { severity: 'progressing', meaning: 'The Azure deployment is in flight (roughly 25-30 minutes).' },
  Deleting: { severity: 'progressing', meaning: 'The object is being deleted (Azure resource deletion or finalizer clean-up in progress).' },
  Zeroizing: { severity: 'progressing', meaning: 'The HSM is being zeroized after the confirm-zeroize annotation named it.' },
  Issuing: { severity: 'progressing', meaning: 'A client certificate is being generated or renewed.' },
  CertificateExpiring: { severity: 'progressing', meaning: 'The client certificate is inside its renewal window; renewal is due.' },
  Registering: { severity: 'progressing', meaning: 'The client certificate is being uploaded and registered on a target.' },
  Repushing: { severity: 'progressing', meaning: 'Drift was found and the client configuration is being pushed again.' },
  Recovering: { severity: 'progressing', meaning: 'hagroup recover is running for a down member.' },
  WaitingForDedicatedHsm: { severity: 'progressing', meaning: 'A referenced DedicatedHsm exists but its appliance is not reachable yet.' },
  ConfiguringGroup: { severity: 'progressing', meaning: 'The HA group, its members or its recovery settings are being set up.' },

  // retrying: transient failures
  DeploymentRace: { severity: 'retrying', meaning: 'The deployment failed on a networking dependency (the gateway race); it is retried with backoff.' },
  Redeploying: { severity: 'retrying', meaning: 'Retries are used up; the failed resource is deleted and deployed again.' },
  Throttled: { severity: 'retrying', meaning: 'Azure answered 429; retrying after Retry-After.' },
  AzureUnavailable: { severity: 'retrying', meaning: 'Azure failed transiently (5xx, timeout, connection error); retrying with backoff.' },
  OperationInProgress: { severity: 'retrying', meaning: 'Another operation on the Azure resource is in progress; retrying later.' },
  ApplianceUnreachable: { severity: 'retrying', meaning: 'SSH to the appliance fails (network, timeout); retrying with backoff.' },
  NtlsUnreachable: { severity: 'retrying', meaning: 'The NTLS port (TCP 1792) does not answer or the TLS handshake fails; retrying.' },
  ClientHostUnreachable: { severity: 'retrying', meaning: 'SSH to the LunaCM client host fails; retrying with backoff.' },
  TargetNotFound: { severity: 'retrying', meaning: 'A referenced DedicatedHsm does not exist (yet); checked again later.' },
  SecretNotFound: { severity: 'retrying', meaning: 'A referenced Secret or key does not exist (yet); checked again when it appears.' },
  Drifted: { severity: 'retrying', meaning: 'The device differs from the spec (registration, fingerprint, partitions or server certificate); a re-push is scheduled.' },
  MemberDown: { severity: 'retrying', meaning: 'An HA group member is down; recovery is scheduled within the rate limit.' },

  // needsHuman: the operator stopped; the message says what to do
  InvalidSpec: { severity: 'needsHuman', meaning: 'The spec cannot be acted on (a rule admission cannot check); fix the spec.' },
  Paused: { severity: 'needsHuman', meaning: 'dedicatedhsm.io/reconcile=paused: nothing is done until the annotation is removed.' },
  SubnetNotDelegated: { severity: 'needsHuman', meaning: 'Delegate the subnet to Microsoft.HardwareSecurityModules/dedicatedHSMs (the number one cause of failed deployments).' },
  SubnetNotFound: { severity: 'needsHuman', meaning: 'The subnet does not exist; create it or fix spec.azure.subnetId.' },
  SubnetMisconfigured: {
    severity: 'needsHuman',
    meaning: 'The HSM subnet has a network security group or a route table (UDR); the Dedicated HSM subnet must carry neither. Remove them.',
  },
  GatewayMisconfigured: { severity: 'needsHuman', meaning: 'The gateway is not an ExpressRoute gateway or its provisioning Failed; fix the gateway.' },
  NotAllowlisted: { severity: 'needsHuman', meaning: 'The subscription is not registered for the AzureDedicatedHSM / AllowBaremetalServers features; ask the Microsoft account team.' },
  QuotaExceeded: { severity: 'needsHuman', meaning: 'The quota (2 per stamp, 4 per region) is used; delete failed leftovers or ask for a quota increase.' },
  CapacityExhausted: { severity: 'needsHuman', meaning: 'The stamp or region has no free HSMs; choose another stamp or region or open a support request.' },
  PolicyDenied: { severity: 'needsHuman', meaning: 'An Azure Policy denied the request (RequestDisallowedByPolicy).' },
  AuthorizationFailed: { severity: 'needsHuman', meaning: "The operator's Azure identity is missing, refused, or lacks a permission; provide it or grant the permission." },
  SkuNotAvailable: { severity: 'needsHuman', meaning: 'The SKU is not offered in this location or stamp.' },
  DeploymentFailed: { severity: 'needsHuman', meaning: 'The deployment failed for good (retries and redeploys used up, or a terminal error); see status.lastFailure.' },
  AdoptionConflict: { severity: 'needsHuman', meaning: 'An Azure resource with this name exists with different immutable properties; it is not adopted.' },
  AdoptionRefused: {
    severity: 'needsHuman',
    meaning: "An Azure HSM with this name exists without this object's ownership tag; it is adopted only when the dedicatedhsm.io/adopt annotation names it.",
  },
  NotPermitted: {
    severity: 'needsHuman',
    meaning: "The operator's tenancy policy does not let this namespace use this subscription, resource group or Azure identity; nothing is sent to Azure until the platform team allows it.",
  },
  DuplicateResource: {
    severity: 'needsHuman',
    meaning: 'An older DedicatedHsm manages the same Azure HSM (subscription, resource group, name); this one does nothing in Azure.',
  },
  ResourceMissing: {
    severity: 'needsHuman',
    meaning: 'The Azure resource does not exist (never deployed, or deleted out of band) and observe mode deploys nothing; set the reconcile annotation to manage to deploy it.',
  },
  CredentialRejected: {
    severity: 'needsHuman',
    meaning: "A credential was rejected; it is not tried again until its Secret changes. Or the appliance's failed-login budget is spent: no new value is tried until dedicatedhsm.io/credential-budget-reset.",
  },
  CredentialNotOptedIn: {
    severity: 'needsHuman',
    meaning: 'A Secret named as a device credential does not list this object in its dedicatedhsm.io/credential-for annotation; it is never sent. Annotate the Secret.',
  },
  HostKeyMismatch: { severity: 'needsHuman', meaning: 'The SSH host key differs from the pinned one; all traffic to that host stopped. Verify and update hostKey.' },
  RebootPatchMissing: { severity: 'needsHuman', meaning: 'Install the Thales reboot patch (KB0019789) before configuring or rebooting the HSM.' },
  DeletionBlocked: {
    severity: 'needsHuman',
    meaning: 'deletionPolicy Delete needs a zeroized HSM: set dedicatedhsm.io/confirm-zeroize to the ARM resource name, or zeroize it yourself.',
  },
  HostKeyNotPinned: {
    severity: 'needsHuman',
    meaning: 'Zeroization is read and done only over the NIC IP Azure reports with the host key pinned in spec.appliance.hostKey, never under trust-on-first-use; pin the key, or zeroize the HSM yourself.',
  },
  LastLiveCopy: {
    severity: 'needsHuman',
    meaning: 'The HSM holds the only live copy of an HA group\'s key material (no other member alive and in sync); bring another member back in sync, or accept the loss with dedicatedhsm.io/accept-key-material-loss.',
  },
  CertificateExpired: { severity: 'needsHuman', meaning: 'The client certificate has expired and was not renewed.' },
  CertificateInvalid: { severity: 'needsHuman', meaning: 'The certificate Secret is not a usable kubernetes.io/tls key pair for this identity.' },
  PartitionNotFound: { severity: 'needsHuman', meaning: 'A named partition (label or serial) does not exist on the HSM; create it or fix the spec.' },
  NotGranted: {
    severity: 'needsHuman',
    meaning: "A DedicatedHsm in another namespace is referred to, and no HsmGrant there admits this namespace, kind, partitions and client name; its owners must grant it. Nothing reaches that HSM.",
  },
  ClientExists: {
    severity: 'needsHuman',
    meaning: 'A client of this name is registered on the HSM and was not registered by this binding; it is neither replaced nor deleted. Choose another client name, or adopt it with dedicatedhsm.io/adopt-client.',
  },
  RecoveryCircuitOpen: { severity: 'needsHuman', meaning: 'Recovery attempts hit maxAttemptsPerWindow; the operator stopped recovering. Investigate, then use dedicatedhsm.io/recover-now.' },
  RecoverySettingsConflict: {
    severity: 'needsHuman',
    meaning: 'HsmHaGroups sharing one LunaCM client host ask for different auto recovery settings (hagroup retry/interval are client-wide); neither is applied until they agree.',
  },
  CloningDomainMismatch: {
    severity: 'needsHuman',
    meaning: 'Members have conflicting cloning domains; add a partition with the right domain to the group, then remove the wrong one.',
  },
} as const satisfies Record<string, ReasonInfo>;

export type Reason = keyof typeof REASONS;

export function severityOf(reason: string): Severity | undefined {
  return Object.hasOwn(REASONS, reason) ? REASONS[reason as Reason].severity : undefined;
}

export function isReason(reason: string): reason is Reason {
  return Object.hasOwn(REASONS, reason);
}

// ---------------------------------------------------------------------------------------------------------------
// Condition types per kind

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface ConditionInfo {
  /** The status that means "fine": True for all but DeletionBlocked (abnormal-true polarity). */
  normal: ConditionStatus;
  meaning: string;
  reasons: readonly Reason[];
}

/** Reasons any kind's Ready (and Reconciling/Stalled) may carry besides those of its checks. */
const LIFECYCLE_REASONS = ['Ready', 'Observing', 'Paused', 'InvalidSpec', 'Deleting', 'Pending'] as const satisfies readonly Reason[];

const AZURE_TRANSIENT = ['AzureUnavailable', 'Throttled', 'AuthorizationFailed'] as const satisfies readonly Reason[];

export const DEDICATED_HSM_CONDITIONS = {
  SubnetDelegated: {
    normal: 'True',
    meaning: 'The subnet in spec.azure.subnetId exists and is delegated to Dedicated HSM.',
    reasons: ['Delegated', 'SubnetNotDelegated', 'SubnetNotFound', 'SubnetMisconfigured', ...AZURE_TRANSIENT, 'Pending'],
  },
  GatewayReady: {
    normal: 'True',
    meaning: 'The ExpressRoute gateway in spec.azure.expressRouteGatewayId is an ExpressRoute gateway in state Succeeded.',
    reasons: ['GatewaySucceeded', 'WaitingForGateway', 'GatewayMisconfigured', ...AZURE_TRANSIENT, 'Pending'],
  },
  QuotaAvailable: {
    normal: 'True',
    meaning: 'Quota and capacity leave room for this HSM.',
    reasons: ['WithinQuota', 'QuotaExceeded', 'CapacityExhausted', ...AZURE_TRANSIENT, 'Pending'],
  },
  Provisioned: {
    normal: 'True',
    meaning: 'The Azure resource exists and is Succeeded.',
    reasons: [
      'Succeeded',
      'Provisioning',
      'DeploymentRace',
      'Redeploying',
      'DeploymentFailed',
      'NotAllowlisted',
      'PolicyDenied',
      'SkuNotAvailable',
      'AdoptionConflict',
      'AdoptionRefused',
      'NotPermitted',
      'DuplicateResource',
      'ResourceMissing',
      'OperationInProgress',
      'QuotaExceeded',
      'CapacityExhausted',
      'SubnetNotDelegated',
      'SubnetMisconfigured',
      'InvalidSpec',
      ...AZURE_TRANSIENT,
      'Pending',
    ],
  },
  ApplianceReachable: {
    normal: 'True',
    meaning: 'lunash answers over SSH with the pinned host key and the credentials work.',
    reasons: ['Reachable', 'ApplianceUnreachable', 'CredentialRejected', 'HostKeyMismatch', 'SecretNotFound', 'CredentialNotOptedIn', 'Pending'],
  },
  NtlsReachable: {
    normal: 'True',
    meaning: 'The NTLS port answers with the server certificate the appliance reports.',
    reasons: ['Reachable', 'NtlsUnreachable', 'Pending'],
  },
  RebootPatchInstalled: {
    normal: 'True',
    meaning: 'The reboot-hang patch (KB0019789) is installed.',
    reasons: ['PatchInstalled', 'RebootPatchMissing', 'Pending'],
  },
  DeletionBlocked: {
    normal: 'False',
    meaning: 'Deletion waits for something only a human can give (zeroization or its confirmation).',
    reasons: ['NotBlocked', 'DeletionBlocked', 'Zeroizing', 'Deleting', 'ApplianceUnreachable', 'CredentialRejected', 'HostKeyNotPinned', 'LastLiveCopy', 'NotPermitted'],
  },
} as const satisfies Record<string, ConditionInfo>;

export const NTLS_CLIENT_BINDING_CONDITIONS = {
  CertificateValid: {
    normal: 'True',
    meaning: 'The client certificate exists, matches the identity and is not expired.',
    reasons: ['Valid', 'Issuing', 'CertificateExpiring', 'CertificateExpired', 'CertificateInvalid', 'SecretNotFound', 'Pending'],
  },
  Registered: {
    normal: 'True',
    meaning: 'The client is registered on every target with the listed partitions assigned.',
    reasons: [
      'Registered',
      'Registering',
      'TargetNotFound',
      'WaitingForDedicatedHsm',
      'ApplianceUnreachable',
      'CredentialRejected',
      'HostKeyMismatch',
      'PartitionNotFound',
      'NotGranted',
      'ClientExists',
      'SecretNotFound',
      'CredentialNotOptedIn',
      'Drifted',
      'Pending',
    ],
  },
  InSync: {
    normal: 'True',
    meaning: 'Every target matches the expected state and a mutual-TLS handshake on the NTLS port succeeds.',
    reasons: ['InSync', 'Drifted', 'Repushing', 'NtlsUnreachable', 'ApplianceUnreachable', 'Pending'],
  },
} as const satisfies Record<string, ConditionInfo>;

export const HSM_HA_GROUP_CONDITIONS = {
  MembersHealthy: {
    normal: 'True',
    meaning: 'The group exists with every member, and every member is alive.',
    reasons: [
      'Healthy',
      'MemberDown',
      'Recovering',
      'RecoveryCircuitOpen',
      'ConfiguringGroup',
      'TargetNotFound',
      'WaitingForDedicatedHsm',
      'PartitionNotFound',
      'NotGranted',
      'ClientHostUnreachable',
      'CredentialRejected',
      'HostKeyMismatch',
      'SecretNotFound',
      'CredentialNotOptedIn',
      'Pending',
    ],
  },
  AutoRecoveryConfigured: {
    normal: 'True',
    meaning: 'hagroup retry and interval match spec.recovery.',
    reasons: ['Configured', 'ConfiguringGroup', 'RecoverySettingsConflict', 'ClientHostUnreachable', 'CredentialRejected', 'HostKeyMismatch', 'Pending'],
  },
  CloningDomainConsistent: {
    normal: 'True',
    meaning: 'No member has a conflicting private-key cloning setting.',
    reasons: ['Consistent', 'CloningDomainMismatch', 'Pending'],
  },
} as const satisfies Record<string, ConditionInfo>;

export type DedicatedHsmConditionType = keyof typeof DEDICATED_HSM_CONDITIONS | CommonConditionType;
export type NtlsClientBindingConditionType = keyof typeof NTLS_CLIENT_BINDING_CONDITIONS | CommonConditionType;
export type HsmHaGroupConditionType = keyof typeof HSM_HA_GROUP_CONDITIONS | CommonConditionType;

/** Every kind carries these three: Ready (the roll-up) and the kstatus pair. */
export const COMMON_CONDITION_TYPES = ['Ready', 'Reconciling', 'Stalled'] as const;
export type CommonConditionType = (typeof COMMON_CONDITION_TYPES)[number];

export const CONDITIONS = {
  DedicatedHsm: DEDICATED_HSM_CONDITIONS,
  NtlsClientBinding: NTLS_CLIENT_BINDING_CONDITIONS,
  HsmHaGroup: HSM_HA_GROUP_CONDITIONS,
} as const satisfies Record<string, Record<string, ConditionInfo>>;

export type ConditionKind = keyof typeof CONDITIONS;

/**
 * The status that means "fine" for a condition type of any kind: False for DeletionBlocked, Reconciling and Stalled
 * (abnormal-true polarity), True for every other. The one place that says so; views and `plan` ask here.
 */
export function normalStatus(type: string): ConditionStatus {
  if (type === 'Reconciling' || type === 'Stalled') return 'False';
  for (const table of Object.values(CONDITIONS) as Record<string, ConditionInfo>[]) {
    const info = table[type];
    if (info) return info.normal;
  }
  return 'True';
}

/** All condition types a kind may carry, checks first, then Ready, Reconciling, Stalled. */
export function conditionTypes(kind: ConditionKind): string[] {
  return [...Object.keys(CONDITIONS[kind]), ...COMMON_CONDITION_TYPES];
}

/** Reasons Ready, Reconciling and Stalled of a kind may carry: every reason of its checks plus the lifecycle ones. */
export function readyReasons(kind: ConditionKind): Reason[] {
  const all = new Set<Reason>(LIFECYCLE_REASONS);
  for (const info of Object.values(CONDITIONS[kind]) as ConditionInfo[]) for (const r of info.reasons) all.add(r);
  return [...all];
}

/** A check in the Ready roll-up: the condition type and the status that passes. */
export interface ReadyCheck {
  type: string;
  normal: ConditionStatus;
}

function checks(table: Record<string, ConditionInfo>, order: readonly string[]): ReadyCheck[] {
  return order.map((type) => ({ type, normal: table[type]?.normal ?? 'True' }));
}

/**
 * Ready roll-up order per kind: the first known failure in this order sets Ready's reason and message, else the first
 * check that does not pass (see rollUpReady). Deletion blocks come first (they are the most urgent), then the deploy
 * flow in the order the operator walks it.
 */
export const READY_CHECKS = {
  DedicatedHsm: checks(DEDICATED_HSM_CONDITIONS, [
    'DeletionBlocked',
    'SubnetDelegated',
    'GatewayReady',
    'QuotaAvailable',
    'Provisioned',
    'ApplianceReachable',
    'NtlsReachable',
    'RebootPatchInstalled',
  ]),
  NtlsClientBinding: checks(NTLS_CLIENT_BINDING_CONDITIONS, ['CertificateValid', 'Registered', 'InSync']),
  HsmHaGroup: checks(HSM_HA_GROUP_CONDITIONS, ['MembersHealthy', 'CloningDomainConsistent', 'AutoRecoveryConfigured']),
} as const satisfies Record<ConditionKind, readonly ReadyCheck[]>;

// ---------------------------------------------------------------------------------------------------------------
// Roll-up

export type ConditionLike = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

export interface Verdict {
  status: ConditionStatus;
  reason: string;
  message: string;
  severity: Severity;
}

/**
 * Whether a failing check's verdict is a known failure: a definite status (False, or abnormal True), or Unknown
 * with a reason the operator retries (retrying) or stopped on (needsHuman). Unknown with a progressing reason
 * (Pending, ...) is "not known yet", like a check never reported.
 */
function isKnownFailure(v: Verdict): boolean {
  return v.status === 'False' || v.severity === 'retrying' || v.severity === 'needsHuman';
}

/**
 * Ready from the kind's conditions (cert-manager style), walking `order`. A known failure wins over a check that has
 * not run: the first condition in order that is a known failure (False, or Unknown with a retrying or needsHuman
 * reason) decides Ready, even when an earlier check was never reported (a missing Azure credential fails the first
 * read; the checks before it in the order have not run, and Ready must say what is wrong, not "Pending"). Only when
 * no check is a known failure does the first one not passing decide: a missing normal-True condition is "not checked
 * yet" (Unknown, Pending); a missing normal-False condition passes. When all pass, Ready is True with `happy`
 * (default reason Ready).
 */
export function rollUpReady(
  conditions: readonly ConditionLike[],
  order: readonly ReadyCheck[],
  happy: { reason: string; message: string } = { reason: 'Ready', message: 'All checks passed.' },
): Verdict {
  let firstNotPassing: Verdict | undefined;
  for (const check of order) {
    const c = conditions.find((x) => x.type === check.type);
    if (!c) {
      if (check.normal === 'False') continue;
      firstNotPassing ??= { status: 'Unknown', reason: 'Pending', message: `${check.type} has not been checked yet.`, severity: 'progressing' };
      continue;
    }
    if (c.status === check.normal) continue;
    const declared = severityOf(c.reason);
    // A happy reason on a failing condition is a controller slip; it still is not ready, so treat it as progressing.
    // An unknown reason is treated as transient: it never hides the failure and never claims a human must act.
    const severity: Severity = declared === undefined ? 'retrying' : declared === 'ready' ? 'progressing' : declared;
    const verdict: Verdict = { status: c.status === 'Unknown' ? 'Unknown' : 'False', reason: c.reason, message: c.message, severity };
    if (isKnownFailure(verdict)) return verdict;
    firstNotPassing ??= verdict;
  }
  return firstNotPassing ?? { status: 'True', reason: happy.reason, message: happy.message, severity: 'ready' };
}

export interface KstatusConditions {
  reconciling: ConditionLike;
  stalled: ConditionLike;
}

/**
 * Reconciling and Stalled from Ready's verdict (kstatus: abnormal-true polarity). progressing/retrying ->
 * Reconciling=True; needsHuman -> Stalled=True; ready -> both False. Both carry Ready's reason and message, which
 * explain why they have the status they have.
 */
export function deriveKstatus(ready: Verdict): KstatusConditions {
  const reconciling = ready.severity === 'progressing' || ready.severity === 'retrying';
  const stalled = ready.severity === 'needsHuman';
  const base = { reason: ready.reason, message: ready.message };
  return {
    reconciling: { type: 'Reconciling', status: reconciling ? 'True' : 'False', ...base },
    stalled: { type: 'Stalled', status: stalled ? 'True' : 'False', ...base },
  };
}
