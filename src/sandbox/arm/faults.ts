/**
 * Request-level faults of the ARM simulator: throttling with Retry-After and injected HTTP failures, each for a
 * number of requests that match an optional method/path filter.
 */
import { randomUUID } from 'node:crypto';
import { ArmHttpError } from './wire.js';

export interface RequestFilter {
  method?: string;
  pathIncludes?: string;
}

interface Fault {
  remaining: number;
  error: () => ArmHttpError;
  filter?: RequestFilter;
}

export class FaultQueue {
  private readonly faults: Fault[] = [];

  /** The next `count` matching requests get 429 with `Retry-After` (seconds, or an HTTP date string). */
  throttle(count: number, retryAfter: number | string, filter?: RequestFilter): void {
    this.push(count, filter, () =>
      new ArmHttpError(429, 'TooManyRequests', `The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00. Please try again after ${String(retryAfter)}.`, {
        'Retry-After': String(retryAfter),
      }),
    );
  }

  /** The next `n` matching requests fail with `status`. */
  failNext(n: number, status: number, filter?: RequestFilter): void {
    const code = status === 500 ? 'InternalServerError' : status === 503 ? 'ServiceUnavailable' : status === 502 ? 'BadGateway' : 'InjectedFault';
    this.push(n, filter, () => new ArmHttpError(status, code, `Encountered internal server error. Diagnostic information: timestamp '${new Date().toISOString()}', correlation '${randomUUID()}'.`));
  }

  /** The fault due for this request, if any (consumes it). */
  take(method: string, path: string): ArmHttpError | undefined {
    const i = this.faults.findIndex((f) => matches(f.filter, method, path));
    const fault = this.faults[i];
    if (!fault) return undefined;
    if (--fault.remaining <= 0) this.faults.splice(i, 1);
    return fault.error();
  }

  private push(remaining: number, filter: RequestFilter | undefined, error: () => ArmHttpError): void {
    if (remaining > 0) this.faults.push({ remaining, error, ...(filter ? { filter } : {}) });
  }
}

function matches(filter: RequestFilter | undefined, method: string, path: string): boolean {
  if (!filter) return true;
  if (filter.method && filter.method.toUpperCase() !== method.toUpperCase()) return false;
  if (filter.pathIncludes && !path.toLowerCase().includes(filter.pathIncludes.toLowerCase())) return false;
  return true;
}
