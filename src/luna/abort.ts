/**
 * AbortSignal helpers of the device plane. An aborted signal refuses to start anything (DeviceAbortedError with
 * `inFlight: false`); what is already running is ended by its owner (the SSH pool closes the channel, a probe
 * destroys its socket).
 */
import { DeviceAbortedError } from './errors.js';

/** Throws when `signal` has fired: nothing for `command` on `host` is to be sent. */
export function throwIfAborted(signal: AbortSignal | undefined, host: string, command: string): void {
  if (signal?.aborted) throw new DeviceAbortedError(host, command, false);
}

/**
 * Waits for `work` unless `signal` fires first, in which case it rejects with `onAbort()` at once. The work itself
 * goes on (it may be shared, like a connection being opened for several callers); its outcome is then ignored.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort: () => Error): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(onAbort());
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      work.catch(() => undefined);
      reject(onAbort());
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
