/**
 * Resume tokens for long-running HSM operations. A token wraps the SDK poller's own serialized state
 * (`poller.toString()`, fed back as `resumeFrom`) with the arguments the SDK needs to rebuild the poller, so a
 * restarted operator resumes polling instead of sending a second PUT.
 */
import { AzurePlaneError } from './errors.js';

export type LroKind = 'create' | 'delete';

export interface LroToken {
  v: 1;
  kind: LroKind;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** The SDK poller state. */
  poller: string;
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
  if (!t || t.v !== 1 || t.kind !== kind || !t.subscriptionId || !t.resourceGroup || !t.name || typeof t.poller !== 'string') {
    throw new AzurePlaneError({
      class: 'invalid',
      retryable: false,
      message: `not a ${kind} resume token of this operator`,
      action: 'Clear the pending operation token from the status; the operator then reads the resource state again.',
    });
  }
  return t as LroToken;
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
