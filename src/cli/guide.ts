/**
 * Failure reason -> the section of Microsoft's Dedicated HSM troubleshooting guide that covers it, and what to do
 * about it with this operator. `explain-failure` prints it; the README's troubleshooting table says the same.
 * Every reason that is not a happy one has an entry (a unit test keeps it that way).
 */
import { REASONS, severityOf, type Reason, type Severity } from '../api/index.js';

export interface GuideAdvice {
  /** Heading in the troubleshooting guide (or `hsm-operator` for the operator's own safety rules). */
  section: string;
  /** What to do, concretely. */
  action: string;
}

const RACE = 'HSM Deployment Race Condition';
const FAILURE_INFO = 'HSM Deployment Failure Information';
const TCP = 'Failed TCP Communication';
const LOGINS = 'Failed Logins';
const NTLS = 'NTLS Certificates out of sync';
const HA_RECOVER = "Failed HA Group Member Doesn't Recover";
const OPERATOR = 'hsm-operator';

/** Partial only so that a newly added reason never breaks the build; test/unit/cli/guide.test.ts demands an entry. */
export const GUIDE: Partial<Record<Exclude<Reason, ReadyReason>, GuideAdvice>> = {
  // progressing: nothing to do but wait; say what is awaited
  Pending: { section: OPERATOR, action: 'Nothing to do: the operator has not checked this yet. If it stays Pending, check that the operator runs and watches this namespace.' },
  WaitingForGateway: {
    section: RACE,
    action:
      'Nothing to do: the operator deploys only once the ExpressRoute gateway is Succeeded (deploying earlier hits the race). Check the gateway with `az resource show --ids <expressRouteGatewayId>`.',
  },
  Provisioning: { section: 'HSM Provisioning', action: 'Nothing to do: an Azure deployment takes roughly 25-30 minutes; the poller token is kept in status, so a restart resumes it.' },
  Deleting: { section: 'How to delete an HSM resource', action: 'Nothing to do: deletion is in progress.' },
  Zeroizing: { section: 'How to delete an HSM resource', action: 'Nothing to do: the HSM is being zeroized because dedicatedhsm.io/confirm-zeroize named it.' },
  Issuing: { section: NTLS, action: 'Nothing to do: a client certificate is being generated or renewed.' },
  CertificateExpiring: { section: NTLS, action: 'Nothing to do for generated certificates (they are renewed). For a certificate from a Secret (cert-manager), make sure its issuer renews it.' },
  Registering: { section: NTLS, action: 'Nothing to do: the client certificate is being uploaded and registered.' },
  Repushing: { section: NTLS, action: 'Nothing to do: drift was found and the client configuration is being pushed again (the guide: reapply the certificate exchange with each HSM).' },
  Recovering: { section: HA_RECOVER, action: 'Nothing to do: `hagroup recover` is running for a down member.' },
  WaitingForDedicatedHsm: { section: OPERATOR, action: 'Wait for the referenced DedicatedHsm to become Ready; `hsm-operator explain-failure dhsm/<name>` says why it is not.' },
  ConfiguringGroup: { section: HA_RECOVER, action: 'Nothing to do: the HA group, its members or its auto-recovery settings are being set up.' },

  // retrying: the operator retries by itself; when to step in
  DeploymentRace: {
    section: RACE,
    action: 'Nothing to do yet: the operator re-runs the deployment with backoff (spec.deployment.raceRetries), then deletes and redeploys (redeployAfter). If it ends in DeploymentFailed, open a support request ("Issues configuring the Azure setup").',
  },
  Redeploying: { section: RACE, action: 'Nothing to do yet: retries are used up, so the failed resource is deleted and deployed again, as the guide recommends.' },
  Throttled: { section: FAILURE_INFO, action: 'Nothing to do: Azure answered 429 and the operator waits for Retry-After. Many operators on one subscription share its ARM limits.' },
  AzureUnavailable: { section: FAILURE_INFO, action: 'Nothing to do unless it persists: retried with backoff. If it persists, check network egress from the operator to ARM (proxy, firewall, DNS).' },
  OperationInProgress: { section: FAILURE_INFO, action: 'Nothing to do: another operation runs on the resource (someone else may be deploying or deleting it); retried later.' },
  ApplianceUnreachable: {
    section: TCP,
    action: 'Check the network path from the operator pods to the appliance (SSH, TCP 22) through the ExpressRoute gateway: NSGs, routes, DNS. Retried with backoff.',
  },
  NtlsUnreachable: { section: TCP, action: 'Open TCP 1792 from the clients (and the operator) to the HSM; a network change often closes it. Retried with backoff.' },
  ClientHostUnreachable: { section: HA_RECOVER, action: 'Check SSH from the operator to the LunaCM client host (spec.client.host, port); retried with backoff.' },
  TargetNotFound: { section: OPERATOR, action: 'Create the DedicatedHsm the object refers to, or fix the reference; checked again when it appears.' },
  SecretNotFound: { section: 'Lost Credentials', action: 'Create the Secret (and key) the spec names in the same namespace; checked again as soon as it appears.' },
  Drifted: {
    section: NTLS,
    action: 'Nothing to do: the device differs from the spec (certificate overwritten, client deleted, partition revoked, server certificate regenerated) and a re-push is scheduled. Clients must reload server.pem from the output Secret.',
  },
  MemberDown: {
    section: HA_RECOVER,
    action: 'Nothing to do yet: once the member\'s appliance answers, the operator runs `hagroup recover` (rate-limited); auto recovery runs if spec.recovery.autoRecoveryRetries is not 0. If the appliance stays down, check its network and power.',
  },

  // needsHuman: the operator stopped; this is the human's part
  InvalidSpec: { section: OPERATOR, action: 'Fix the spec as the message says; the operator acts again on the next change.' },
  ResourceMissing: {
    section: 'How do I see HSMs when provisioned?',
    action:
      'The HSM does not exist in Azure (check with "Show hidden types" in the portal) and observe mode deploys nothing: set dedicatedhsm.io/reconcile to manage to deploy it, or fix spec.azure to point at the existing one.',
  },
  Paused: { section: OPERATOR, action: 'Remove the dedicatedhsm.io/reconcile=paused annotation (or set it to manage) to resume.' },
  SubnetNotDelegated: {
    section: 'HSM Subnet Delegation',
    action:
      'Delegate the subnet: `az network vnet subnet update -g <rg> --vnet-name <vnet> -n <subnet> --delegations Microsoft.HardwareSecurityModules/dedicatedHSMs`. The number one cause of failed deployments.',
  },
  SubnetNotFound: { section: 'HSM Subnet Delegation', action: 'Create the subnet (delegated to Microsoft.HardwareSecurityModules/dedicatedHSMs) or fix spec.azure.subnetId.' },
  SubnetMisconfigured: {
    section: 'HSM Subnet Delegation',
    action: 'Remove the network security group and the route table (UDR) from the HSM subnet: the Dedicated HSM subnet must carry neither (see the virtual network prerequisites of the deployment tutorials).',
  },
  GatewayMisconfigured: {
    section: 'Provisioning ExpressRoute',
    action: 'The gateway must be of type ExpressRoute and Succeeded (one gateway per VNet). Fix or recreate it; a Failed gateway does not heal by itself.',
  },
  NotAllowlisted: {
    section: 'Getting access to Dedicated HSM',
    action: 'Dedicated HSM is allowlisted: ask your Microsoft account manager to register the subscription (features AzureDedicatedHSM and AllowBaremetalServers).',
  },
  QuotaExceeded: {
    section: 'Deployment failure based on quota',
    action:
      'Delete the failed leftovers the message names (they count against the quota of 2 per stamp and 4 per region), or ask for a quota increase with a support ticket. Then run `hsm-operator request resync dhsm/<name>` (it sets dedicatedhsm.io/resync-now to a new value).',
  },
  CapacityExhausted: {
    section: 'Deployment failure based on capacity',
    action: 'The stamp or region is full: deploy to the other stamp or another region, or open a support ticket to ask about capacity.',
  },
  PolicyDenied: { section: FAILURE_INFO, action: 'An Azure Policy refused the request: ask the policy owner for an exemption, or change the spec to comply. Resource Explorer shows the full error.' },
  AuthorizationFailed: {
    section: FAILURE_INFO,
    action:
      "Give the operator a working Azure identity and grant it the permission the message names: in AKS the workload identity (chart value azure.workloadIdentity.clientId, federated with the operator's ServiceAccount), or the service principal Secret named in spec.azure.credentialsRef. A missing or refused identity is named in the message; the role and its permissions are in docs/install.md, Azure identity.",
  },
  SkuNotAvailable: { section: 'HSM Provisioning', action: 'The SKU is not offered in this location or stamp: choose another region or stamp, or ask Microsoft.' },
  DeploymentFailed: {
    section: RACE,
    action:
      'Retries and redeploys are used up: read status.lastFailure, look the deployment up in Resource Explorer, and open a support request ("Issues configuring the Azure setup"). Run `hsm-operator request resync dhsm/<name>` to try again.',
  },
  AdoptionConflict: {
    section: 'How do I see HSMs when provisioned?',
    action: 'An HSM of this name exists with other immutable properties (check with "Show hidden types" in the portal): use another spec.azure.name, or match the spec to it.',
  },
  AdoptionRefused: {
    section: OPERATOR,
    action:
      "An HSM of this name exists in Azure and does not carry this object's ownership tag (dedicatedhsm.io-owner-uid). If it is yours to manage, set the annotation dedicatedhsm.io/adopt to its name or ARM resource ID; otherwise choose another spec.azure.name.",
  },
  NotPermitted: {
    section: OPERATOR,
    action:
      "The platform team's tenancy policy (the operator's --tenancy-policy file, chart value tenancy.policy) does not let this namespace use this subscription or resource group, or names no Azure identity for it. Ask the platform team to add it, or deploy where the policy allows (docs/security.md, Azure scope).",
  },
  DuplicateResource: {
    section: OPERATOR,
    action: 'Another, older DedicatedHsm already manages this Azure HSM; this one does nothing in Azure. Delete this object, or give it another spec.azure.name.',
  },
  CredentialRejected: {
    section: LOGINS,
    action:
      'Put the right password into the Secret the spec names. The operator never retries a rejected credential until the Secret changes, so wrong passwords cannot lock out or zeroize anything (HSM SO: 3 tries zeroize the HSM). When the message says the failed-login budget is spent, find out who put the wrong values in, then set dedicatedhsm.io/credential-budget-reset to the current time on the object.',
  },
  CredentialNotOptedIn: {
    section: LOGINS,
    action:
      'The Secret the spec names does not opt in as a device credential: if it is meant for this object, annotate it with dedicatedhsm.io/credential-for naming the object (e.g. "DedicatedHsm/hsm-a, HsmHaGroup/ha1"). Nothing was sent to any device.',
  },
  HostKeyMismatch: {
    section: 'HSM Networking Configuration',
    action: "The appliance's SSH host key differs from spec.appliance.hostKey (or spec.client.hostKey): all traffic to it stopped. Verify the key out of band (`ssh-keygen -lf <(ssh-keyscan <host>)`), then update the pin.",
  },
  RebootPatchMissing: {
    section: 'HSM Device Reboot',
    action: 'Install the Thales reboot patch (KB0019789, from the Thales support portal) before configuring or rebooting the HSM; without it a reboot can hang and need a 48-hour hard reboot.',
  },
  DeletionBlocked: {
    section: 'How to delete an HSM resource',
    action: 'The Azure resource can only be deleted once the HSM is zeroized: set dedicatedhsm.io/confirm-zeroize to the ARM resource name, or zeroize it yourself. Never delete the resource group first.',
  },
  HostKeyNotPinned: {
    section: 'How to delete an HSM resource',
    action:
      "Deletion reads and zeroizes only over the NIC IP Azure reports with a pinned key, never at spec.appliance.host or under trust-on-first-use: verify the appliance's host key out of band (`ssh-keygen -lf <(ssh-keyscan <NIC IP>)` from a trusted host on the HSM network), set spec.appliance.hostKey and remove insecureTrustOnFirstUse. Or zeroize the HSM yourself, delete its Azure resource, then set deletionPolicy Orphan.",
  },
  LastLiveCopy: {
    section: 'How to delete an HSM resource',
    action:
      'The HSM holds the only live copy of an HA group\'s key material: bring another member back and synchronise the group (its status shows it alive, needsSync false), or accept the loss with dedicatedhsm.io/accept-key-material-loss set to exactly "the key material on <ARM name> may be lost".',
  },
  CertificateExpired: { section: NTLS, action: 'Renew the client certificate (or fix its issuer); the operator pushes the new one to every HSM.' },
  CertificateInvalid: { section: NTLS, action: 'The certificate Secret must be a kubernetes.io/tls pair whose certificate matches spec.identity (hostname or IP) and its key.' },
  PartitionNotFound: { section: 'HSM Initialization', action: 'Create the partition on the HSM, or fix the label/serial in the spec.' },
  NotGranted: {
    section: OPERATOR,
    action: "Ask the owners of the DedicatedHsm's namespace for an HsmGrant that admits this namespace, kind, the partitions and the client name (docs/security.md), or target an HSM of your own namespace.",
  },
  ClientExists: {
    section: NTLS,
    action: 'Another client of this name is registered on the HSM: choose another spec.clientName (a new binding), or take it over with the annotation dedicatedhsm.io/adopt-client set to the client name.',
  },
  RecoveryCircuitOpen: {
    section: HA_RECOVER,
    action: 'Recovery attempts hit spec.recovery.maxAttemptsPerWindow: investigate the member, then run `hsm-operator request recover hsmha/<name>` (a new dedicatedhsm.io/recover-now value) to run `hagroup recover` once more.',
  },
  RecoverySettingsConflict: {
    section: HA_RECOVER,
    action: 'HA groups on the same LunaCM client host ask for different spec.recovery.autoRecoveryRetries/autoRecoveryInterval (LunaCM keeps one setting per client): make them agree.',
  },
  CloningDomainMismatch: {
    section: "HA Group Doesn't Sync",
    action: 'Create a partition with the right cloning domain on that HSM, add it to the group (spec.members), then remove the wrongly configured partition.',
  },
};

/** The happy reasons: nothing to advise. */
export type ReadyReason = { [R in Reason]: (typeof REASONS)[R]['severity'] extends 'ready' ? R : never }[Reason];

export interface Explanation {
  reason: string;
  severity: Severity | undefined;
  /** Plain words for the severity. */
  failureClass: string;
  meaning: string | undefined;
  advice: GuideAdvice | undefined;
}

const CLASS: Record<Severity, string> = {
  ready: 'ready: nothing is wrong',
  progressing: 'progressing: the operator is doing expected work',
  retrying: 'retrying: a transient failure the operator retries by itself',
  needsHuman: 'needs a human: the operator stopped and waits for you',
};

/** What a Ready reason means, how serious it is, and what the guide says to do. */
export function explainReason(reason: string): Explanation {
  const severity = severityOf(reason);
  const known = Object.hasOwn(REASONS, reason) ? REASONS[reason as Reason] : undefined;
  const advice = Object.hasOwn(GUIDE, reason) ? GUIDE[reason as Exclude<Reason, ReadyReason>] : undefined;
  return {
    reason,
    severity,
    failureClass: severity ? CLASS[severity] : 'unknown reason: treated as transient',
    meaning: known?.meaning,
    advice,
  };
}
