/**
 * Backoff and jitter: the one module for how long to wait before trying again, and for keeping many waiters from
 * acting in lockstep. Pure functions of their inputs; `random` is injectable, so tests pin the result.
 *
 * Used by the work queue's per-item rate limiter (ratelimit.ts), the watch restarts and server-side watch timeouts
 * (watch.ts), the periodic re-sync (controller.ts) and the Lease retries (leader.ts).
 */

/** Uniform in [0, 1), like Math.random. */
export type Random = () => number;

/** Exponential backoff: the first wait, doubled on each further step, never above the maximum. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** initialMs, 2x, 4x ... for step 0, 1, 2 ... (a negative step counts as 0), capped at maxMs; finite for any step. */
export function exponentialMs(step: number, o: BackoffOptions): number {
  return Math.min(o.maxMs, o.initialMs * 2 ** Math.min(Math.max(0, step), 1000));
}

/**
 * Exponential backoff with jitter on top: the step's delay made up to `jitter` longer at random (jitter 1: anywhere in
 * [d, 2d)), and still never above maxMs. Step 0 is the first retry.
 */
export function jitteredBackoff(step: number, o: BackoffOptions & { jitter: number }, random: Random = Math.random): number {
  return Math.min(o.maxMs, jitterUp(exponentialMs(step, o), o.jitter, random));
}

/** Up to `factor` longer at random: ms * [1, 1 + factor) (client-go's wait.Jitter). */
export function jitterUp(ms: number, factor: number, random: Random = Math.random): number {
  return ms * (1 + factor * random());
}

/** Spread around `ms`: ms * [1 - fraction, 1 + fraction). */
export function jitterAround(ms: number, fraction: number, random: Random = Math.random): number {
  return ms * (1 - fraction + 2 * fraction * random());
}

/** Only shorter: ms * [1 - fraction, 1), so a period spread this way still keeps "at least once per period". */
export function jitterBelow(ms: number, fraction: number, random: Random = Math.random): number {
  return ms * (1 - fraction + fraction * random());
}

/** A uniform pick in [lo, hi). */
export function between(lo: number, hi: number, random: Random = Math.random): number {
  return lo + (hi - lo) * random();
}
