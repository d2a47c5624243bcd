/**
 * Retry-After, honoured: a 429 names the time before which the request should not come again. After one, every
 * request of the same kind (read or write) to the same resource made through this plane fails fast (a throttled
 * error carrying the time left, nothing sent) until that time, so that no code path (a watch event re-running a
 * reconcile, another pass, an LRO poll) asks again early. Scoped to the resource and kind, not the subscription:
 * other resources and the other kind are not held back by one throttled call. "Resource" is the request's ARM path
 * (lower-cased, query left out), so an operation-status URL an LRO polls is a resource of its own. One gate per
 * ArmAzurePlane, hence per credential (AzurePlaneCache keys planes by credential).
 */
import { createHttpHeaders, RestError, type PipelinePolicy, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { parseRetryAfter } from './errors.js';

export const THROTTLE_GATE_POLICY = 'hsmOperatorThrottleGate';

/** `read|write <path>` of an ARM request (query left out), or undefined for a URL that names no subscription. */
function gateKey(method: string, url: string): string | undefined {
  try {
    const path = new URL(url).pathname.toLowerCase().replace(/\/+$/, '');
    if (!/\/subscriptions\/[^/]+/.test(path)) return undefined;
    return `${method === 'GET' || method === 'HEAD' ? 'read' : 'write'} ${path}`;
  } catch {
    return undefined;
  }
}

function retryAfterMs(res: PipelineResponse, now: number): number | undefined {
  const ms = res.headers.get('retry-after-ms') ?? res.headers.get('x-ms-retry-after-ms');
  if (ms !== undefined && /^\d+$/.test(ms.trim())) return Number(ms);
  return parseRetryAfter(res.headers.get('retry-after'), now);
}

export class ThrottleGate {
  /** Gate key (kind and resource path) -> epoch ms before which nothing is sent. */
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Time left (ms) before this request may be sent; 0 when free. */
  waitMs(method: string, url: string): number {
    const key = gateKey(method.toUpperCase(), url);
    const until = key === undefined ? undefined : this.until.get(key);
    return until === undefined ? 0 : Math.max(0, until - this.now());
  }

  policy(): PipelinePolicy {
    return {
      name: THROTTLE_GATE_POLICY,
      sendRequest: async (request: PipelineRequest, next) => {
        const key = gateKey(request.method.toUpperCase(), request.url);
        const wait = key ? this.waitMs(request.method, request.url) : 0;
        if (key && wait > 0) {
          const response: PipelineResponse = { request, status: 429, headers: createHttpHeaders({ 'retry-after-ms': String(wait) }) };
          throw new RestError(`Azure Resource Manager throttled this request; not sending it again before its Retry-After has passed (${Math.ceil(wait / 1000)} s left).`, {
            code: 'TooManyRequests',
            statusCode: 429,
            request,
            response,
          });
        }
        // The answer may come back as a response or, from clients that deserialise errors inside the pipeline, as a
        // RestError carrying it: a 429 is noted either way.
        const note = (res: PipelineResponse | undefined): void => {
          if (res?.status !== 429 || !key) return;
          const ms = retryAfterMs(res, this.now());
          if (ms !== undefined && ms > 0) this.until.set(key, Math.max(this.until.get(key) ?? 0, this.now() + ms));
        };
        try {
          const res = await next(request);
          note(res);
          return res;
        } catch (e) {
          // Duck-typed: an SDK may carry its own copy of core-rest-pipeline, hence of RestError.
          const res = (e as { response?: unknown } | null)?.response;
          if (typeof res === 'object' && res !== null && 'status' in res && 'headers' in res) note(res as PipelineResponse);
          throw e;
        }
      },
    };
  }
}

export const FENCE_POLICY = 'hsmOperatorFence';

/** Refuses every request while `fence()` says no (the process lost the leader Lease): nothing is sent. */
export function fencePolicy(fence: () => boolean): PipelinePolicy {
  return {
    name: FENCE_POLICY,
    sendRequest: async (request, next) => {
      if (!fence()) {
        throw new RestError('not sending the request to Azure: this operator process no longer holds the leader Lease', { code: 'NotLeader', request });
      }
      return next(request);
    },
  };
}

export const READ_ONLY_POLICY = 'hsmOperatorReadOnly';

/** Refuses every request but GET and HEAD (a read-only plane, `hsm-operator plan`): nothing is sent. */
export function readOnlyPolicy(): PipelinePolicy {
  return {
    name: READ_ONLY_POLICY,
    sendRequest: async (request, next) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        throw new RestError(`not sending ${request.method} ${new URL(request.url).pathname} to Azure: this Azure plane is read-only`, { code: 'ReadOnly', request });
      }
      return next(request);
    },
  };
}
