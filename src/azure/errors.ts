/**
 * Error classification for the Azure plane: every failure (a synchronous `RestError`, a failed long-running
 * operation, a resource that ended `Failed` with a statusMessage, a network error, an identity error) becomes one
 * `AzureFailure` saying whether to retry, when, and what a human must do, in the troubleshooting guide's words.
 *
 * Dedicated HSM publishes no provider-specific error codes, so the rules look at the HTTP status, the generic ARM
 * codes and the message text. Pure: no I/O, no clock except the `now` used for HTTP-date Retry-After values.
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
    'Register the resource provider named in the message on the subscription (az provider register --namespace <namespace>), then retry.',
  throttled: 'Azure Resource Manager throttled the request; the operator retries after the Retry-After interval. If it persists, reduce other ARM traffic on the subscription.',
  transient: 'A transient Azure or network failure; the operator retries with backoff. If it persists, check Azure service health and connectivity to the ARM endpoint.',
  auth:
    "The operator's Azure identity was rejected or lacks permission: check the workload identity or the client secret, and grant the identity access to the HSM's resource group (create/delete dedicatedHSMs) and read access to the network resources.",
  invalid: 'Azure rejected the request as invalid: correct the DedicatedHsm spec as the message says; the operator does not retry until the spec changes.',
  immutable:
    'All properties of a dedicated HSM except tags are immutable: restore the original values in the spec, or delete the HSM (after zeroizing it) and create a new one.',
  policy: 'An Azure Policy assignment denies the request: ask the policy owner for an exemption or change the spec to comply.',
  notFound: 'A referenced Azure resource does not exist: check the IDs in the spec (subscription, resource group, subnet, gateway) or create the resource.',
  conflict: 'Another operation is in progress on the resource; the operator retries when it completes.',
  notZeroized:
    'The HSM cannot be deleted until it is zeroized: zeroize the HSM first (all key material is lost), then delete the resource. Never delete the resource group first: the HSM would be orphaned and still billed.',
} as const;

/** What the rules look at, extracted once from whatever was thrown. */
interface Facts {
  statusCode?: number;
  code?: string;
  message: string;
  retryAfterMs?: number;
  network: boolean;
  identity: boolean;
  /** A long-running operation (or provisioning) that ended Failed. */
  operationFailed: boolean;
}

interface Rule {
  class: FailureClass;
  when: (f: Facts) => boolean;
  retryable: boolean;
  action: string;
}

const text = (f: Facts): string => `${f.code ?? ''} ${f.message}`;
const codeIs = (f: Facts, ...codes: string[]): boolean => f.code !== undefined && codes.some((c) => c.toLowerCase() === f.code?.toLowerCase());

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

/** Ordered: the first matching rule wins. Specific causes (by code and text) come before generic statuses. */
const RULES: Rule[] = [
  { class: 'throttled', when: (f) => f.statusCode === 429 || codeIs(f, 'TooManyRequests', 'SubscriptionRequestsThrottled', 'RetryableError'), retryable: true, action: ACTIONS.throttled },
  // Policy denials come as 403 but need the policy owner, not a role assignment.
  { class: 'invalid', when: (f) => codeIs(f, 'RequestDisallowedByPolicy'), retryable: false, action: ACTIONS.policy },
  {
    class: 'auth',
    when: (f) =>
      f.identity || f.statusCode === 401 || f.statusCode === 403 || /^(AuthenticationFailed|InvalidAuthenticationToken\w*|AuthorizationFailed|LinkedAuthorizationFailed|ExpiredAuthenticationToken)$/i.test(f.code ?? ''),
    retryable: false,
    action: ACTIONS.auth,
  },
  {
    class: 'notAllowlisted',
    when: (f) => codeIs(f, 'MissingSubscriptionRegistration'),
    retryable: false,
    action: ACTIONS.providerNotRegistered,
  },
  {
    class: 'notAllowlisted',
    when: (f) =>
      codeIs(f, 'SubscriptionNotRegistered', 'FeatureNotRegistered', 'SubscriptionNotAllowlisted', 'SubscriptionNotWhitelisted') ||
      /allow-?list|whitelist|not registered for (the )?feature|AllowBaremetalServers|feature ['"]?Microsoft\.HardwareSecurityModules\/AzureDedicatedHSM/i.test(f.message),
    retryable: false,
    action: ACTIONS.notAllowlisted,
  },
  {
    class: 'delegation',
    when: (f) => /delegat/i.test(text(f)),
    retryable: false,
    action: ACTIONS.delegation,
  },
  {
    class: 'delegation',
    when: (f) => /subnet/i.test(f.message) && /network security group|\bNSG\b|route table|\bUDR\b/i.test(f.message),
    retryable: false,
    action: ACTIONS.subnetPolicy,
  },
  {
    class: 'race',
    when: (f) =>
      codeIs(f, 'NetworkingDependencyNotReady') ||
      (/expressroute|virtual network gateway|\bgateway\b/i.test(f.message) && /not ready|not (yet )?(in (a |the )?)?succeeded|provisioning ?state|updating|depend|in progress|still being/i.test(f.message)),
    retryable: true,
    action: ACTIONS.race,
  },
  {
    class: 'quota',
    when: (f) => codeIs(f, 'QuotaExceeded', 'ResourceQuotaExceeded', 'SubscriptionQuotaExceeded') || (codeIs(f, 'OperationNotAllowed') && /quota|limit/i.test(f.message)) || /\bquota\b/i.test(f.message),
    retryable: false,
    action: ACTIONS.quota,
  },
  {
    class: 'capacity',
    when: (f) =>
      codeIs(f, 'SkuNotAvailable', 'AllocationFailed', 'ZonalAllocationFailed', 'InsufficientCapacity', 'OverconstrainedAllocationRequest', 'CapacityNotAvailable') ||
      /\bcapacity\b|not enough (free )?(devices|hsms)/i.test(f.message),
    retryable: false,
    action: ACTIONS.capacity,
  },
  { class: 'conflict', when: (f) => /zeroiz/i.test(f.message) || codeIs(f, 'HsmNotZeroized'), retryable: false, action: ACTIONS.notZeroized },
  {
    class: 'notFound',
    when: (f) => f.statusCode === 404 || codeIs(f, 'ResourceNotFound', 'ResourceGroupNotFound', 'ParentResourceNotFound', 'NotFound', 'SubscriptionNotFound'),
    retryable: false,
    action: ACTIONS.notFound,
  },
  {
    class: 'invalid',
    when: (f) => codeIs(f, 'PropertyChangeNotAllowed') || /immutable|cannot be (changed|updated|modified)|not allowed to (change|update)/i.test(f.message),
    retryable: false,
    action: ACTIONS.immutable,
  },
  { class: 'conflict', when: (f) => f.statusCode === 409 || codeIs(f, 'Conflict', 'AnotherOperationInProgress', 'OperationPreempted'), retryable: true, action: ACTIONS.conflict },
  { class: 'transient', when: (f) => f.network || (f.statusCode !== undefined && f.statusCode >= 500) || f.statusCode === 408, retryable: true, action: ACTIONS.transient },
  // Unknown 4xx are terminal: retrying the same request cannot succeed.
  { class: 'invalid', when: (f) => f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500, retryable: false, action: ACTIONS.invalid },
];

const FALLBACK: Omit<Rule, 'when'> = { class: 'transient', retryable: true, action: ACTIONS.transient };

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
  return classifyFacts({ message: statusMessage?.trim() || 'the deployment failed without a status message', code, network: false, identity: false, operationFailed: true });
}

function classifyFacts(f: Facts): AzureFailure {
  const rule = RULES.find((r) => r.when(f)) ?? FALLBACK;
  const failure: AzureFailure = { class: rule.class, retryable: rule.retryable, message: redactSecrets(f.message), action: rule.action };
  if (f.code !== undefined) failure.code = f.code;
  if (f.statusCode !== undefined) failure.statusCode = f.statusCode;
  if (f.retryAfterMs !== undefined && rule.retryable) failure.retryAfterMs = f.retryAfterMs;
  return failure;
}

const LRO_FAILED = /^The long-running operation has failed(?:\.\s+([^\s.]+)\.\s+([\s\S]*))?\.?$/;

function factsOf(err: unknown, now: number): Facts {
  const facts: Facts = { message: 'unknown error', network: false, identity: false, operationFailed: false };
  if (typeof err !== 'object' || err === null) {
    facts.message = String(err);
    return facts;
  }
  const e = err as { name?: unknown; message?: unknown; code?: unknown; statusCode?: unknown; response?: unknown; cause?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  facts.message = typeof e.message === 'string' && e.message ? e.message : name || 'unknown error';
  const code = typeof e.code === 'string' && e.code ? e.code : undefined;
  if (typeof e.statusCode === 'number' && e.statusCode > 0) facts.statusCode = e.statusCode;
  if (code) facts.code = code;
  facts.identity = IDENTITY_ERRORS.has(name);

  const lro = LRO_FAILED.exec(facts.message);
  if (lro) {
    facts.operationFailed = true;
    if (lro[1]) facts.code = lro[1];
    facts.message = lro[2]?.trim() || facts.message;
  }
  if (name === 'PollerCancelledError') facts.operationFailed = true;

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
