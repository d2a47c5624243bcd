/**
 * Error classification for the Azure plane: every failure (a synchronous `RestError`, a failed long-running
 * operation, a resource that ended `Failed` with a statusMessage, a network error, an identity error) becomes one
 * `AzureFailure` saying whether to retry, when, and what a human must do, in the troubleshooting guide's words.
 *
 * Dedicated HSM publishes no provider-specific error codes. The rules (CLASSIFIER_RULES, each naming where its code
 * or text comes from) look at the whole error: the narrower causes an ARM error body carries in `details` and
 * `innererror` (with `target`) are searched innermost first, codes with a public source before assumed ones, message
 * text after every code, then the generic codes and the HTTP status. Pure: no I/O, no clock except the `now` used
 * for HTTP-date Retry-After values.
 */

export type FailureClass =
  | 'race'
  | 'quota'
  | 'capacity'
  | 'delegation'
  | 'notAllowlisted'
  | 'throttled'
  | 'transient'
  | 'auth'
  | 'invalid'
  | 'notFound'
  | 'conflict';

export interface AzureFailure {
  class: FailureClass;
  retryable: boolean;
  /** Wait at least this long before retrying (from Retry-After on 429s). */
  retryAfterMs?: number;
  /** ARM error code (or network error code) when one was given. */
  code?: string;
  statusCode?: number;
  /** What Azure said, secrets redacted, bounded length. */
  message: string;
  /** What a human must do. */
  action: string;
}

/** The error every AzurePlane method throws: the failure is already classified. */
export class AzurePlaneError extends Error {
  readonly failure: AzureFailure;
  constructor(failure: AzureFailure, operation?: string) {
    super(`${operation ? `${operation}: ` : ''}${failure.class}${failure.code ? ` (${failure.code})` : ''}: ${failure.message}`);
    this.name = 'AzurePlaneError';
    this.failure = failure;
  }
}

/**
 * The caller's AbortSignal fired (operator shutdown past its drain deadline, or the leader Lease lost). `inFlight:
 * false`: nothing was sent. `inFlight: true`: a request was on the wire and its answer was not awaited, so a PUT,
 * DELETE or PATCH may still take effect. Classified transient: the next leader, or the next pass, reads and decides again.
 */
export class AzureAbortedError extends AzurePlaneError {
  constructor(
    operation: string,
    readonly inFlight: boolean,
  ) {
    super(
      {
        class: 'transient',
        retryable: true,
        message: inFlight ? 'the request was abandoned in flight because the operation was aborted (operator shutdown or lost leadership)' : 'not sent: the operation was aborted (operator shutdown or lost leadership)',
        action: 'Nothing to do: the operator stopped this work because it is shutting down or no longer the leader; the next leader reads the HSM again and decides afresh.',
      },
      operation,
    );
    this.name = 'AzureAbortedError';
  }
}

/** The documented guide texts, one per situation. */
export const ACTIONS = {
  race:
    'The ExpressRoute gateway was not ready when the HSM was deployed (the documented deployment race). Make sure the gateway\'s provisioningState is Succeeded, then redeploy; rerunning usually fixes it. If it keeps failing, delete the failed resources and redeploy; if that still fails, raise a support request in the Azure portal with the problem type "Issues configuring the Azure setup".',
  quota:
    'Dedicated HSM quota is 2 HSMs per stamp and 4 per region, and failed deployments keep consuming it until deleted: delete the resources of previous failed deployments. If you need more than 4 HSMs in one region, submit a customer support ticket to request a quota increase.',
  capacity:
    'The stamp or region is at capacity (12 HSMs per stamp, 24 per region for customers). Submit a customer support ticket to inquire about available capacity in the region or the fill level of specific stamps, or choose another stamp or region.',
  delegation:
    'Delegate the HSM subnet to Microsoft.HardwareSecurityModules/dedicatedHSMs (a missing delegation is the number one reason for failed deployments), then redeploy.',
  subnetPolicy:
    'Remove the network security group and route table (UDR) from the HSM subnet: the Dedicated HSM subnet must carry only the delegation and only HSMs. Then redeploy.',
  notAllowlisted:
    'Dedicated HSM is an allowlisted service: the subscription needs the features Microsoft.HardwareSecurityModules/AzureDedicatedHSM and Microsoft.Network/AllowBaremetalServers registered. Contact your Microsoft account manager (or Microsoft Customer Support) to request access, stating your use case, regions and number of HSMs.',
  providerNotRegistered:
    'The resource provider is not registered on the subscription (this is not the Dedicated HSM allowlisting). Register it: az provider register --namespace Microsoft.HardwareSecurityModules (or the namespace the message names), wait until az provider show reports Registered, then retry.',
  stampInZonalRegion:
    'This region has availability zones, where Azure refuses stampId: deploy with spec.azure.zones (one zone) instead of stampId. stampId and zones cannot be changed on an existing DedicatedHsm: nothing was deployed, so delete the DedicatedHsm and create it again with zones.',
  throttled: 'Azure Resource Manager throttled the request; the operator retries after the Retry-After interval. If it persists, reduce other ARM traffic on the subscription.',
  transient: 'A transient Azure or network failure; the operator retries with backoff. If it persists, check Azure service health and connectivity to the ARM endpoint.',
  auth:
    "The operator's Azure identity is missing, was rejected or lacks permission: check the workload identity or the client secret, and grant the identity access to the HSM's resource group (create/delete dedicatedHSMs) and read access to the network resources.",
  invalid: 'Azure rejected the request as invalid: correct the DedicatedHsm spec as the message says; the operator does not retry until the spec changes.',
  immutable:
    'All properties of a dedicated HSM except tags are immutable: restore the original values in the spec, or delete the HSM (after zeroizing it) and create a new one.',
  policy: 'An Azure Policy assignment denies the request: ask the policy owner for an exemption or change the spec to comply.',
  notFound: 'A referenced Azure resource does not exist: check the IDs in the spec (subscription, resource group, subnet, gateway) or create the resource.',
  conflict: 'Another operation is in progress on the resource; the operator retries when it completes.',
  notZeroized:
    'The HSM cannot be deleted until it is zeroized: zeroize the HSM first (all key material is lost), then delete the resource. Never delete the resource group first: the HSM would be orphaned and still billed.',
} as const;

/** One node of an ARM error body: `{ code, message, target?, details?: [...], innererror? }`. */
export interface ErrorNode {
  code?: string;
  message?: string;
  target?: string;
}

/** What the rules look at, extracted once from whatever was thrown. */
interface Facts {
  statusCode?: number;
  /** The error and its narrower causes (`details`, `innererror`), innermost first, the outermost last. */
  chain: ErrorNode[];
  /** What Azure said, narrower causes included (for the report). */
  message: string;
  retryAfterMs?: number;
  network: boolean;
  identity: boolean;
  /** A long-running operation (or provisioning) that ended Failed. */
  operationFailed: boolean;
}

/**
 * Where a rule's code (or text) comes from:
 * - `documented`: ARM's documentation (the common deployment errors table, provider registration, throttling) or the
 *   documentation of the library that raises it;
 * - `seen`: in public reports of real responses (issues, troubleshooting pages), named in `ref`;
 * - `assumed`: nothing public names it (Dedicated HSM publishes no error codes); kept because the ARM simulator or
 *   plausible wording uses it, and tried only after the codes that have a source.
 */
export type RuleSource = 'documented' | 'seen' | 'assumed';

/**
 * When a rule is tried. `transport`: facts that are not an ARM answer (identity, network, HTTP 429). `code`: an ARM
 * code with a specific meaning, searched through the error chain innermost first (documented and seen codes before
 * assumed ones). `text`: the messages (and targets) of the chain. `generic`: documented codes that only say what kind of
 * failure it was (BadRequest, Conflict, InternalServerError). `status`: the HTTP status alone.
 */
export type RuleStage = 'transport' | 'code' | 'text' | 'generic' | 'status';

export interface ClassifierRule {
  class: FailureClass;
  retryable: boolean;
  action: string;
  stage: RuleStage;
  source: RuleSource;
  /** Where the code or text comes from. */
  ref: string;
  /** ARM codes (case-insensitive), for the `code` and `generic` stages. */
  codes?: readonly string[];
  /** Message text (all messages, targets and codes of the chain, innermost first), for the `text` stage. */
  text?: (text: string) => boolean;
  /** An extra condition (a code whose meaning depends on its message; a status; a transport fact). */
  when?: (f: Facts, text: string) => boolean;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const IDENTITY_ERRORS = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AuthenticationRequiredError', 'AggregateAuthenticationError']);

const ARM_ERRORS = 'ARM docs: Troubleshoot common Azure deployment errors (error code table)';
const ARM_REGISTRATION = 'ARM docs: Resolve errors for resource provider registration';
const ARM_THROTTLING = 'ARM docs: Throttling Resource Manager requests (429 with Retry-After)';
const HSM_GUIDE = 'Dedicated HSM troubleshooting guide (describes the situation, publishes no code or message)';

const QUOTA_TEXT = /\bquota\b/i;

/**
 * The rules, by stage; within a stage the first match wins. Every rule names its source; `CLASSIFIER_RULES` is
 * exported so that tests (and readers) can see which codes are assumed.
 */
export const CLASSIFIER_RULES: readonly ClassifierRule[] = [
  // ---- transport ----
  { stage: 'transport', class: 'auth', retryable: false, action: ACTIONS.auth, source: 'documented', ref: '@azure/identity credential error classes', when: (f) => f.identity },
  { stage: 'transport', class: 'transient', retryable: true, action: ACTIONS.transient, source: 'documented', ref: 'Node.js / undici network error codes', when: (f) => f.network },
  { stage: 'transport', class: 'throttled', retryable: true, action: ACTIONS.throttled, source: 'documented', ref: ARM_THROTTLING, when: (f) => f.statusCode === 429 },

  // ---- codes with a specific meaning ----
  { stage: 'code', class: 'throttled', retryable: true, action: ACTIONS.throttled, source: 'documented', ref: ARM_ERRORS, codes: ['SubscriptionRequestsThrottled'] },
  {
    stage: 'code',
    class: 'throttled',
    retryable: true,
    action: ACTIONS.throttled,
    source: 'seen',
    ref: 'ARM and resource provider 429 bodies (e.g. the Storage RP common error codes table)',
    codes: ['TooManyRequests', 'ResourceRequestsThrottled', 'ResourceCollectionRequestsThrottled'],
  },
  // Policy denials come as 403 but need the policy owner, not a role assignment.
  { stage: 'code', class: 'invalid', retryable: false, action: ACTIONS.policy, source: 'documented', ref: ARM_ERRORS, codes: ['RequestDisallowedByPolicy'] },
  {
    stage: 'code',
    class: 'auth',
    retryable: false,
    action: ACTIONS.auth,
    source: 'documented',
    ref: ARM_ERRORS,
    codes: ['AuthorizationFailed', 'LinkedAuthorizationFailed', 'InvalidAuthenticationTokenTenant'],
  },
  {
    stage: 'code',
    class: 'auth',
    retryable: false,
    action: ACTIONS.auth,
    source: 'seen',
    ref: 'ARM 401 bodies in public reports',
    codes: ['AuthenticationFailed', 'InvalidAuthenticationToken', 'InvalidAuthenticationTokenAudience', 'ExpiredAuthenticationToken'],
  },
  // The resource provider is not registered on the subscription: register it (not the allowlisting features).
  // FailureClass has no class of its own for this yet; `invalid` (terminal, needs a human) with its own advice.
  {
    stage: 'code',
    class: 'invalid',
    retryable: false,
    action: ACTIONS.providerNotRegistered,
    source: 'documented',
    ref: `${ARM_ERRORS}; ${ARM_REGISTRATION}`,
    codes: ['MissingSubscriptionRegistration', 'SubscriptionNotRegistered', 'NoRegisteredProviderFound', 'InvalidSubscriptionRegistrationState', 'MissingRegistrationForLocation'],
  },
  {
    stage: 'code',
    class: 'notAllowlisted',
    retryable: false,
    action: ACTIONS.notAllowlisted,
    source: 'seen',
    ref: 'ARM answers for missing feature flags in public reports (e.g. Microsoft.Network/AllowBringYourOwnPublicIpAddress); listed as 409 in the Storage RP error codes table',
    codes: ['SubscriptionNotRegisteredForFeature'],
  },
  {
    stage: 'code',
    class: 'notAllowlisted',
    retryable: false,
    action: ACTIONS.notAllowlisted,
    source: 'assumed',
    ref: 'no public source; plausible provider codes for a subscription not allowlisted',
    codes: ['SubscriptionNotAllowlisted', 'SubscriptionNotWhitelisted', 'FeatureNotRegistered'],
  },
  {
    stage: 'code',
    class: 'delegation',
    retryable: false,
    action: ACTIONS.delegation,
    source: 'seen',
    ref: 'Microsoft.Network code for a subnet lacking a required delegation, in public reports (AKS, Container Apps, Power Platform subnet injection)',
    codes: ['SubnetMissingRequiredDelegation'],
  },
  { stage: 'code', class: 'delegation', retryable: false, action: ACTIONS.delegation, source: 'assumed', ref: 'no public source', codes: ['InvalidSubnetDelegation'] },
  { stage: 'code', class: 'delegation', retryable: false, action: ACTIONS.subnetPolicy, source: 'assumed', ref: 'the ARM simulator\'s code for an NSG/UDR on the HSM subnet', codes: ['InvalidSubnetConfiguration'] },
  { stage: 'code', class: 'race', retryable: true, action: ACTIONS.race, source: 'assumed', ref: 'the ARM simulator\'s code for the gateway race', codes: ['NetworkingDependencyNotReady'] },
  { stage: 'code', class: 'quota', retryable: false, action: ACTIONS.quota, source: 'documented', ref: ARM_ERRORS, codes: ['ResourceQuotaExceeded'] },
  // OperationNotAllowed is documented with two meanings (not allowed on the SKU, or over quota): quota only when it says so.
  { stage: 'code', class: 'quota', retryable: false, action: ACTIONS.quota, source: 'documented', ref: ARM_ERRORS, codes: ['OperationNotAllowed'], when: (_f, t) => QUOTA_TEXT.test(t) || /\blimit\b/i.test(t) },
  { stage: 'code', class: 'quota', retryable: false, action: ACTIONS.quota, source: 'seen', ref: 'resource providers\' quota failures in public reports (e.g. Compute QuotaExceeded)', codes: ['QuotaExceeded'] },
  { stage: 'code', class: 'quota', retryable: false, action: ACTIONS.quota, source: 'assumed', ref: 'no public source', codes: ['SubscriptionQuotaExceeded'] },
  { stage: 'code', class: 'capacity', retryable: false, action: ACTIONS.capacity, source: 'documented', ref: ARM_ERRORS, codes: ['AllocationFailed', 'SkuNotAvailable', 'RegionDoesNotAllowProvisioning'] },
  { stage: 'code', class: 'capacity', retryable: false, action: ACTIONS.capacity, source: 'seen', ref: 'Azure VM allocation failure troubleshooting', codes: ['ZonalAllocationFailed', 'OverconstrainedAllocationRequest'] },
  { stage: 'code', class: 'capacity', retryable: false, action: ACTIONS.capacity, source: 'assumed', ref: 'the ARM simulator\'s code for a full stamp; no public source', codes: ['InsufficientCapacity', 'CapacityNotAvailable'] },
  { stage: 'code', class: 'conflict', retryable: false, action: ACTIONS.notZeroized, source: 'assumed', ref: `${HSM_GUIDE}; zeroize before delete`, codes: ['HsmNotZeroized'] },
  {
    stage: 'code',
    class: 'notFound',
    retryable: false,
    action: ACTIONS.notFound,
    source: 'documented',
    ref: ARM_ERRORS,
    codes: ['ResourceNotFound', 'ResourceGroupNotFound', 'ParentResourceNotFound', 'NotFound', 'SubscriptionNotFound', 'InvalidResourceReference'],
  },
  { stage: 'code', class: 'invalid', retryable: false, action: ACTIONS.immutable, source: 'documented', ref: ARM_ERRORS, codes: ['PropertyChangeNotAllowed'] },
  { stage: 'code', class: 'conflict', retryable: true, action: ACTIONS.conflict, source: 'documented', ref: ARM_ERRORS, codes: ['AnotherOperationInProgress', 'ResourceGroupBeingDeleted'] },
  { stage: 'code', class: 'conflict', retryable: true, action: ACTIONS.conflict, source: 'assumed', ref: 'no public source', codes: ['OperationPreempted'] },

  // ---- message text (after every code) ----
  {
    stage: 'text',
    class: 'notAllowlisted',
    retryable: false,
    action: ACTIONS.notAllowlisted,
    source: 'assumed',
    ref: `${HSM_GUIDE}; the feature names are documented, the wording of such an error is assumed`,
    text: (t) => /allow-?list|whitelist|not registered for (the )?feature|AllowBaremetalServers|feature ['"]?Microsoft\.HardwareSecurityModules\/AzureDedicatedHSM/i.test(t),
  },
  {
    stage: 'text',
    class: 'invalid',
    retryable: false,
    action: ACTIONS.stampInZonalRegion,
    source: 'seen',
    ref: 'hashicorp/terraform-provider-azurerm #8741: stampId refused in a region with availability zones',
    text: (t) => /stamp ?id/i.test(t) && /availability zone|\bzones?\b|zonal/i.test(t),
  },
  { stage: 'text', class: 'delegation', retryable: false, action: ACTIONS.delegation, source: 'assumed', ref: HSM_GUIDE, text: (t) => /delegat/i.test(t) },
  {
    stage: 'text',
    class: 'delegation',
    retryable: false,
    action: ACTIONS.subnetPolicy,
    source: 'assumed',
    ref: HSM_GUIDE,
    text: (t) => /subnet/i.test(t) && /network security group|\bNSG\b|route table|\bUDR\b/i.test(t),
  },
  {
    stage: 'text',
    class: 'race',
    retryable: true,
    action: ACTIONS.race,
    source: 'assumed',
    ref: `${HSM_GUIDE} (the gateway must be Succeeded before the HSM deployment)`,
    text: (t) => /expressroute|virtual network gateway|\bgateway\b/i.test(t) && /not ready|not (yet )?(in (a |the )?)?succeeded|provisioning ?state|updating|depend|in progress|still being/i.test(t),
  },
  { stage: 'text', class: 'quota', retryable: false, action: ACTIONS.quota, source: 'assumed', ref: HSM_GUIDE, text: (t) => QUOTA_TEXT.test(t) },
  { stage: 'text', class: 'capacity', retryable: false, action: ACTIONS.capacity, source: 'assumed', ref: HSM_GUIDE, text: (t) => /\bcapacity\b|not enough (free )?(devices|hsms)/i.test(t) },
  { stage: 'text', class: 'conflict', retryable: false, action: ACTIONS.notZeroized, source: 'assumed', ref: HSM_GUIDE, text: (t) => /zeroiz/i.test(t) },
  { stage: 'text', class: 'invalid', retryable: false, action: ACTIONS.immutable, source: 'assumed', ref: 'Terraform marks every property but tags ForceNew', text: (t) => /immutable|cannot be (changed|updated|modified)|not allowed to (change|update)/i.test(t) },

  // ---- generic codes: the kind of failure, no cause ----
  { stage: 'generic', class: 'transient', retryable: true, action: ACTIONS.transient, source: 'documented', ref: ARM_ERRORS, codes: ['InternalServerError'] },
  { stage: 'generic', class: 'transient', retryable: true, action: ACTIONS.transient, source: 'seen', ref: 'ARM 5xx bodies in public reports', codes: ['ServiceUnavailable', 'GatewayTimeout', 'BadGateway'] },
  { stage: 'generic', class: 'conflict', retryable: true, action: ACTIONS.conflict, source: 'documented', ref: ARM_ERRORS, codes: ['Conflict'] },
  {
    stage: 'generic',
    class: 'invalid',
    retryable: false,
    action: ACTIONS.invalid,
    source: 'documented',
    ref: ARM_ERRORS,
    codes: ['BadRequest', 'InvalidParameter', 'InvalidRequestContent', 'InvalidRequestFormat', 'LocationRequired', 'OperationNotAllowed', 'PrivateIPAddressNotInSubnet', 'PrivateIPAddressInReservedRange', 'SubnetIsFull'],
  },

  // ---- HTTP status ----
  { stage: 'status', class: 'auth', retryable: false, action: ACTIONS.auth, source: 'documented', ref: 'HTTP 401/403', when: (f) => f.statusCode === 401 || f.statusCode === 403 },
  { stage: 'status', class: 'notFound', retryable: false, action: ACTIONS.notFound, source: 'documented', ref: 'HTTP 404', when: (f) => f.statusCode === 404 },
  { stage: 'status', class: 'conflict', retryable: true, action: ACTIONS.conflict, source: 'documented', ref: 'HTTP 409', when: (f) => f.statusCode === 409 },
  { stage: 'status', class: 'transient', retryable: true, action: ACTIONS.transient, source: 'documented', ref: 'HTTP 5xx and 408', when: (f) => f.statusCode !== undefined && (f.statusCode >= 500 || f.statusCode === 408) },
  // Unknown 4xx are terminal: retrying the same request cannot succeed.
  { stage: 'status', class: 'invalid', retryable: false, action: ACTIONS.invalid, source: 'documented', ref: 'HTTP 4xx', when: (f) => f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500 },
];

const FALLBACK = { class: 'transient', retryable: true, action: ACTIONS.transient } as const;

/** Classifies anything thrown by the SDKs, the pipeline, the identity library or this module. */
export function classifyAzureError(err: unknown, now: number = Date.now()): AzureFailure {
  if (err instanceof AzurePlaneError) return err.failure;
  return classifyFacts(factsOf(err, now));
}

/**
 * Classifies a resource that ended `Failed` (a body-polled LRO carries no error detail: the resource's
 * `statusMessage` is the only explanation).
 */
export function classifyFailedProvisioning(statusMessage: string | undefined, code?: string): AzureFailure {
  const message = statusMessage?.trim() || 'the deployment failed without a status message';
  return classifyFacts({ message, chain: [{ ...(code ? { code } : {}), message }], network: false, identity: false, operationFailed: true });
}

/** Classifies the `error` of an operation-status body that ended Failed (details and innererror included). */
export function classifyOperationError(error: unknown): AzureFailure {
  const chain = chainOf(error);
  if (!chain.length) return classifyFailedProvisioning(undefined);
  return classifyFacts({ message: reportOf(chain), chain, network: false, identity: false, operationFailed: true });
}

const matchesCode = (rule: ClassifierRule, code: string | undefined): boolean => code !== undefined && (rule.codes ?? []).some((c) => c.toLowerCase() === code.toLowerCase());

/** The rule that decides, and the error node whose code it matched (code stages). */
function decide(f: Facts): { rule: ClassifierRule | undefined; node?: ErrorNode } {
  const text = f.chain.map((n) => [n.code, n.target, n.message].filter(Boolean).join(' ')).join(' | ');
  const stage = (s: RuleStage): ClassifierRule[] => CLASSIFIER_RULES.filter((r) => r.stage === s);
  const byWhen = (s: RuleStage): ClassifierRule | undefined => stage(s).find((r) => r.when?.(f, text));
  const byCode = (s: RuleStage, sources: RuleSource[]): { rule: ClassifierRule; node: ErrorNode } | undefined => {
    const rules = stage(s).filter((r) => sources.includes(r.source));
    for (const node of f.chain) {
      const rule = rules.find((r) => matchesCode(r, node.code) && (r.when?.(f, text) ?? true));
      if (rule) return { rule, node };
    }
    return undefined;
  };
  const transport = byWhen('transport');
  if (transport) return { rule: transport };
  // The narrowest cause first: codes with a public source (innermost first), then assumed codes.
  const coded = byCode('code', ['documented', 'seen']) ?? byCode('code', ['assumed']);
  if (coded) return coded;
  const byText = stage('text').find((r) => r.text?.(text));
  if (byText) return { rule: byText };
  const generic = byCode('generic', ['documented', 'seen', 'assumed']);
  if (generic) return generic;
  return { rule: byWhen('status') };
}

function classifyFacts(f: Facts): AzureFailure {
  const { rule, node } = decide(f);
  const r = rule ?? FALLBACK;
  const failure: AzureFailure = { class: r.class, retryable: r.retryable, message: redactSecrets(f.message), action: r.action };
  const code = node?.code ?? f.chain[f.chain.length - 1]?.code;
  if (code !== undefined) failure.code = code;
  if (f.statusCode !== undefined) failure.statusCode = f.statusCode;
  if (f.retryAfterMs !== undefined && r.retryable) failure.retryAfterMs = f.retryAfterMs;
  return failure;
}

const LRO_FAILED = /^The long-running operation has failed(?:\.\s+([^\s.]+)\.\s+([\s\S]*))?\.?$/;

/** An ARM error object (`{ error: {...} }` or the error itself) as a chain, innermost first. */
function chainOf(body: unknown): ErrorNode[] {
  const root = (body as { error?: unknown } | null)?.error ?? body;
  const found: Array<ErrorNode & { depth: number; order: number }> = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v !== 'object' || v === null || found.length > 50) return;
    const e = v as { code?: unknown; message?: unknown; target?: unknown; details?: unknown; innererror?: unknown; innerError?: unknown };
    const node: ErrorNode & { depth: number; order: number } = { depth, order: found.length };
    if (typeof e.code === 'string' && e.code) node.code = e.code;
    if (typeof e.message === 'string' && e.message) node.message = e.message;
    if (typeof e.target === 'string' && e.target) node.target = e.target;
    if (node.code === undefined && node.message === undefined) return;
    found.push(node);
    if (Array.isArray(e.details)) for (const d of e.details) walk(d, depth + 1);
    walk(e.innererror ?? e.innerError, depth + 1);
  };
  walk(root, 0);
  return found.sort((a, b) => b.depth - a.depth || a.order - b.order).map(({ depth: _d, order: _o, ...n }) => n);
}

/** The outer message, then each narrower cause with its code and target. */
function reportOf(chain: ErrorNode[]): string {
  const outer = chain[chain.length - 1];
  const inner = chain
    .slice(0, -1)
    .reverse()
    .filter((n) => n.message && n.message !== outer?.message)
    .map((n) => `${n.code ?? 'cause'}${n.target ? ` (${n.target})` : ''}: ${n.message ?? ''}`);
  const head = `${outer?.message ?? 'unknown error'}${outer?.target ? ` (target: ${outer.target})` : ''}`;
  return [head, ...inner].join(' ');
}

function bodyOf(response: unknown): unknown {
  if (typeof response !== 'object' || response === null) return undefined;
  const r = response as { bodyAsText?: unknown; parsedBody?: unknown };
  if (typeof r.bodyAsText === 'string' && r.bodyAsText) {
    try {
      return JSON.parse(r.bodyAsText) as unknown;
    } catch {
      /* not JSON */
    }
  }
  return r.parsedBody;
}

function factsOf(err: unknown, now: number): Facts {
  const facts: Facts = { message: 'unknown error', chain: [], network: false, identity: false, operationFailed: false };
  if (typeof err !== 'object' || err === null) {
    facts.message = String(err);
    facts.chain = [{ message: facts.message }];
    return facts;
  }
  const e = err as { name?: unknown; message?: unknown; code?: unknown; statusCode?: unknown; response?: unknown; cause?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  let message = typeof e.message === 'string' && e.message ? e.message : name || 'unknown error';
  let code = typeof e.code === 'string' && e.code ? e.code : undefined;
  if (typeof e.statusCode === 'number' && e.statusCode > 0) facts.statusCode = e.statusCode;
  facts.identity = IDENTITY_ERRORS.has(name);

  const lro = LRO_FAILED.exec(message);
  if (lro) {
    // core-lro keeps the innermost innererror's code and joins the messages.
    facts.operationFailed = true;
    if (lro[1]) code = lro[1];
    message = lro[2]?.trim() || message;
  }
  if (name === 'PollerCancelledError') facts.operationFailed = true;

  // The error body as ARM sent it: details, innererror and target survive only there.
  const chain = lro ? [] : chainOf(bodyOf(e.response));
  if (chain.length) {
    facts.chain = chain;
    facts.message = reportOf(chain);
  } else {
    facts.chain = [{ ...(code ? { code } : {}), message }];
    facts.message = message;
  }

  if (facts.statusCode === undefined && code && NETWORK_CODES.has(code.toUpperCase())) facts.network = true;
  if (name === 'AbortError' || name === 'TimeoutError') facts.network = true;
  const causeCode = (e.cause as { code?: unknown } | undefined)?.code;
  if (facts.statusCode === undefined && typeof causeCode === 'string' && NETWORK_CODES.has(causeCode)) facts.network = true;

  const retryAfter = retryAfterOf(e.response, now);
  if (retryAfter !== undefined) facts.retryAfterMs = retryAfter;
  return facts;
}

function headerOf(response: unknown, name: string): string | undefined {
  if (typeof response !== 'object' || response === null) return undefined;
  const headers = (response as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === 'function') {
    const v: unknown = getter.call(headers, name);
    return typeof v === 'string' ? v : undefined;
  }
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name && typeof v === 'string') return v;
  return undefined;
}

function retryAfterOf(response: unknown, now: number): number | undefined {
  const ms = headerOf(response, 'retry-after-ms') ?? headerOf(response, 'x-ms-retry-after-ms');
  if (ms !== undefined && /^\d+$/.test(ms.trim())) return Number(ms);
  return parseRetryAfter(headerOf(response, 'retry-after'), now);
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms (never negative); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const MAX_MESSAGE = 1000;

/** Removes tokens, secrets and keys from a message before it reaches a status, an Event or a log. */
export function redactSecrets(message: string): string {
  const out = message
    .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[redacted private key]')
    .replace(/\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi, 'Bearer [redacted]')
    .replace(/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted token]')
    .replace(/\b(client_secret|clientSecret|password|passwd|secret|access_token|refresh_token|client_assertion|assertion|sig)(["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi, '$1$2[redacted]');
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}…` : out;
}
