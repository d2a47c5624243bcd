/**
 * Error vocabulary of the runtime: API errors carry the HTTP code and the Status reason; reconcilers classify
 * their failures as retryable (with an optional earliest retry) or terminal (no retry until the object changes).
 */

/** A non-2xx answer of the Kubernetes API (or a watch ERROR event), with the fields of its `Status` object. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly verb = '',
    readonly path = '',
  ) {
    super(message);
  }
}

/** Built from a response body that may or may not be a `Status` object; never echoes request bodies. */
export function apiErrorFrom(code: number, body: string, verb: string, path: string): ApiError {
  let reason = '';
  let detail = '';
  try {
    const s = JSON.parse(body) as { kind?: string; reason?: string; message?: string };
    if (s && s.kind === 'Status') {
      reason = s.reason ?? '';
      detail = s.message ?? '';
    }
  } catch {
    /* not JSON */
  }
  const text = detail || (body.length > 200 ? `${body.slice(0, 200)}…` : body);
  return new ApiError(code, reason, `${verb} ${path}: ${code}${reason ? ` ${reason}` : ''}${text ? `: ${text}` : ''}`, verb, path);
}

export function errorCode(e: unknown): number | undefined {
  return e instanceof ApiError ? e.code : undefined;
}

export const isNotFound = (e: unknown): boolean => errorCode(e) === 404;
export const isConflict = (e: unknown): boolean => errorCode(e) === 409;
export const isGone = (e: unknown): boolean => errorCode(e) === 410;
/** A JSON patch `test` op that failed, or another precondition the server refused. */
export const isInvalid = (e: unknown): boolean => errorCode(e) === 422;
export const isAlreadyExists = (e: unknown): boolean => errorCode(e) === 409 && e instanceof ApiError && e.reason === 'AlreadyExists';

/** A failure worth retrying; `retryAfterMs` sets the earliest next attempt (the backoff may still push it later). */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A failure that retrying will not fix (bad spec, a human must act): the key is forgotten until its object changes. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** Thrown by operations that gave up because their signal aborted (shutdown, lost leadership). */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
