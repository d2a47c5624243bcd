/**
 * Bounded polling, the one helper every test uses: waits until `check` returns a value (not undefined or false),
 * polling every `intervalMs`, or fails with a WaitTimeout that names what it waited for, how long, and the check's
 * last error (a check that throws is polled again: an object not there yet is not a failure).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** The wait ran out of time. */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}
