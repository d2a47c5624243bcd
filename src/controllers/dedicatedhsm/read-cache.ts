/**
 * A small read cache with a short TTL for network resources many HSMs share: the ExpressRoute gateway (and the
 * subnet) of a VNet are read once for all HSMs behind it within the TTL, and concurrent reads share one request.
 * Failures are not cached. The TTL is at most the first gateway wait, so a gateway that turned Succeeded is seen
 * no later than one wait interval after it did.
 *
 * Shared readings are for waiting only. A decision to act (the PUT of an HSM) rests on `fresh()`: a reading that
 * started no earlier than the call, which then also serves the waiters.
 */
import type { Clock } from '../../runtime/index.js';

interface Entry<T> {
  at: number;
  value: Promise<T>;
}

export class ReadCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  #fetches = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: () => number,
    private readonly maxEntries = 1024,
  ) {}

  /** The cached value of `key` if fresh, else `fetch()` (shared with concurrent callers). */
  get(key: string, fetch: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    const e = this.#entries.get(key);
    if (e && now - e.at < this.ttlMs()) return e.value;
    this.#fetches++;
    const value = fetch();
    const entry: Entry<T> = { at: now, value };
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return value;
  }

  /** A reading of `key` that started no earlier than now (shared only with one that did); it refreshes the cache. */
  fresh(key: string, fetch: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    const e = this.#entries.get(key);
    if (e && e.at >= now) return e.value;
    this.#entries.delete(key);
    return this.get(key, fetch);
  }

  /** Forget `key` (dedicatedhsm.io/resync-now asks for a fresh read). */
  invalidate(key: string): void {
    this.#entries.delete(key);
  }

  /** How many reads went out (for tests and debugging). */
  get fetches(): number {
    return this.#fetches;
  }
}
