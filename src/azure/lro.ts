/**
 * Resume tokens for long-running HSM operations, and the reading of ARM's asynchronous-operation answers.
 *
 * A create token wraps the SDK poller's own serialized state (`poller.toString()`, fed back as `resumeFrom`) with
 * the arguments the SDK needs to rebuild the poller, so a restarted operator resumes polling instead of sending a
 * second PUT. A delete token holds the URL to poll itself: the SDK's poller (core-lro) takes any 200 on a `Location`
 * for "done", but the published contract (2025-03-31 example DedicatedHsm_Delete.json) puts the HSM's own URL in
 * that Location, which answers 200 while the HSM still reads Deleting. Delete tokens of the older form (an SDK poller
 * state) are still read.
 */
import { AzurePlaneError } from './errors.js';

export type LroKind = 'create' | 'delete';

/** Where an accepted operation is followed: an operation-status URL (Azure-AsyncOperation / Operation-Location) or a Location. */
export interface PollState {
  url: string;
  via: 'asyncOperation' | 'location';
}

export interface LroToken {
  v: 1;
  kind: LroKind;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** The SDK poller state (creates; deletes of older tokens). */
  poller?: string;
  /** What to poll (deletes). */
  poll?: PollState;
}

/** Opaque (base64url JSON) so it travels in a status field untouched. */
export function encodeToken(token: Omit<LroToken, 'v'>): string {
  return Buffer.from(JSON.stringify({ v: 1, ...token }), 'utf8').toString('base64url');
}

export function decodeToken(token: string, kind: LroKind): LroToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const t = parsed as Partial<LroToken> | undefined;
  const poll = t?.poll ?? (kind === 'delete' && typeof t?.poller === 'string' ? pollStateOfPoller(t.poller) : undefined);
  const usable = kind === 'create' ? typeof t?.poller === 'string' : poll !== undefined && typeof poll.url === 'string' && (poll.via === 'asyncOperation' || poll.via === 'location');
  if (!t || t.v !== 1 || t.kind !== kind || !t.subscriptionId || !t.resourceGroup || !t.name || !usable) {
    throw new AzurePlaneError({
      class: 'invalid',
      retryable: false,
      message: `not a ${kind} resume token of this operator`,
      action: 'Clear the pending operation token from the status; the operator then reads the resource state again.',
    });
  }
  return (poll ? { ...t, poll } : t) as LroToken;
}

/** The poll target of a serialized core-lro state (delete tokens written before deletes were polled here). */
function pollStateOfPoller(poller: string): PollState | undefined {
  try {
    const config = (JSON.parse(poller) as { state?: { config?: { operationLocation?: unknown; metadata?: { mode?: unknown } } } }).state?.config;
    if (typeof config?.operationLocation !== 'string') return undefined;
    return { url: config.operationLocation, via: config.metadata?.mode === 'OperationLocation' ? 'asyncOperation' : 'location' };
  } catch {
    return undefined;
  }
}

/** What an accepted (202/201) answer says to poll: an operation-status URL first, else its Location. */
export function pollStateOf(headers: Record<string, string>): PollState | undefined {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const op = h['azure-asyncoperation'] ?? h['operation-location'];
  if (op) return { url: op, via: 'asyncOperation' };
  return h['location'] ? { url: h['location'], via: 'location' } : undefined;
}

const TERMINAL_PROVISIONING = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

/** provisioningState values after which nothing more happens to the resource (absent counts as terminal). */
export function isTerminalProvisioning(state: string | undefined): boolean {
  return state === undefined || TERMINAL_PROVISIONING.has(state.toLowerCase());
}

/**
 * One poll answer, read by what it is rather than by its status code alone:
 * - `running`: 202, or an operation-status body whose status is not terminal;
 * - `succeeded` / `failed` / `canceled`: an operation-status body (`{ status, error? }`) with a terminal status;
 * - `gone`: 404 on the resource's own URL;
 * - `resource`: a 2xx whose body is the resource (the Location is the resource itself): it still exists;
 * - `unknown`: a 2xx with neither (an operation-result URL's "done", or an empty body), or a 404 on an operation
 *   URL: only a read of the resource can tell;
 * - `error`: any other 4xx/5xx.
 */
export type PollVerdict =
  | { kind: 'running' }
  | { kind: 'succeeded' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'canceled' }
  | { kind: 'gone' }
  | { kind: 'resource'; body: unknown }
  | { kind: 'unknown' }
  | { kind: 'error' };

export function judgePoll(status: number, body: unknown, pollsResource: boolean): PollVerdict {
  if (status === 202) return { kind: 'running' };
  if (status === 404) return pollsResource ? { kind: 'gone' } : { kind: 'unknown' };
  if (status < 200 || status >= 300) return { kind: 'error' };
  const b = typeof body === 'object' && body !== null ? (body as { status?: unknown; error?: unknown; id?: unknown; properties?: unknown }) : undefined;
  if (typeof b?.status === 'string') {
    switch (b.status.toLowerCase()) {
      case 'succeeded':
        return { kind: 'succeeded' };
      case 'failed':
        return { kind: 'failed', error: b.error };
      case 'canceled':
      case 'cancelled':
        return { kind: 'canceled' };
      default:
        return { kind: 'running' };
    }
  }
  if (b && (pollsResource || b.properties !== undefined)) return { kind: 'resource', body };
  return { kind: 'unknown' };
}

/** The failure of the operation itself (as opposed to a failure to reach ARM while polling it). */
export function isOperationOutcome(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, message } = err as { name?: unknown; message?: unknown };
  return name === 'PollerCancelledError' || (typeof message === 'string' && message.startsWith('The long-running operation has failed'));
}

/** The LRO failed and ARM gave no error detail: the resource body said Failed (body polling). */
export function isBareOperationFailure(err: unknown): boolean {
  return isOperationOutcome(err) && /^The long-running operation has failed\.?$/.test((err as { message: string }).message);
}

/** The request path @azure/arm-hardwaresecuritymodules 1.0.0 uses for PUT/DELETE of an HSM (its spec's template). */
export const HSM_REQUEST_PATH = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs/{name}';

export interface InitialResponse {
  status: number;
  headers: Record<string, string>;
}

/**
 * The poller state core-lro 2.x (LroEngine) holds right after an accepted initial request, rebuilt from that
 * response. The SDK sends the initial request and the first poll in one step; when that first poll fails (a
 * network blip, a 5xx) the operation was nevertheless accepted, and this state lets the caller resume it rather
 * than send the request again. Mirrors core-lro's `inferLroMode`; a test compares it with a real poller's state.
 */
export function resumeStateAfterAccepted(method: 'PUT' | 'DELETE', initial: InitialResponse): string | undefined {
  if (initial.status >= 300) return undefined;
  const h = Object.fromEntries(Object.entries(initial.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const pollingUrl = h['operation-location'] ?? h['azure-asyncoperation'];
  let config: { metadata: { mode: string }; operationLocation: string; resourceLocation?: string };
  if (pollingUrl !== undefined) {
    config = { metadata: { mode: 'OperationLocation' }, operationLocation: pollingUrl, ...(method === 'PUT' ? { resourceLocation: HSM_REQUEST_PATH } : {}) };
  } else if (h['location'] !== undefined) {
    config = { metadata: { mode: 'ResourceLocation' }, operationLocation: h['location'] };
  } else if (method === 'PUT') {
    config = { metadata: { mode: 'Body' }, operationLocation: HSM_REQUEST_PATH };
  } else {
    return undefined;
  }
  return JSON.stringify({ state: { config, isStarted: true } });
}
