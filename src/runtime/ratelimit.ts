/**
 * Retry pacing for work-queue items, as controller-runtime does it: each key backs off exponentially on its own
 * (5 ms doubling to 1000 s), and all retries together pass a global token bucket (10/s, burst 100), so a
 * thousand failing objects cannot hammer the API server. The delay is the larger of the two.
 */
import { jitteredBackoff } from './backoff.js';
import type { Clock } from './clock.js';

export interface RateLimiter {
  /** Delay in ms before `key` may be retried; records one more failure of `key`. */
  when(key: string): number;
  /** Clears the failure history of `key` (after a success). */
  forget(key: string): void;
  /** Failures recorded for `key` since it was last forgotten. */
  failures(key: string): number;
}

export interface ItemBackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** Up to this fraction is added at random, so keys failing together don't retry in lockstep. Default 0.1. */
  jitter?: number;
  random?: () => number;
}

export class ItemExponentialRateLimiter implements RateLimiter {
  private readonly counts = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: ItemBackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 5;
    this.maxMs = options.maxMs ?? 1_000_000;
    this.jitter = options.jitter ?? 0.1;
    this.random = options.random ?? Math.random;
  }

  when(key: string): number {
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    return jitteredBackoff(n, { initialMs: this.baseMs, maxMs: this.maxMs, jitter: this.jitter }, this.random);
  }

  forget(key: string): void {
    this.counts.delete(key);
  }

  failures(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/** A token bucket shared by all keys: `when` reserves a token and answers how long to wait for it. */
export class TokenBucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond = 10,
    private readonly burst = 100,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  when(_key: string): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.perSecond) * 1000;
  }

  forget(_key: string): void {
    /* the bucket is global */
  }

  failures(_key: string): number {
    return 0;
  }
}

/** The larger delay of several limiters; each records the failure. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  failures(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.failures(key)));
  }
}

/** controller-runtime's default: per-item 5 ms .. 1000 s (with jitter) max'ed with a 10/s, burst 100 bucket. */
export function defaultControllerRateLimiter(clock: Clock, options: ItemBackoffOptions & { perSecond?: number; burst?: number } = {}): RateLimiter {
  return new MaxOfRateLimiter(new ItemExponentialRateLimiter(options), new TokenBucketRateLimiter(clock, options.perSecond ?? 10, options.burst ?? 100));
}
