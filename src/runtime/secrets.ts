/**
 * A cache of only the Secrets controllers actually read. Reconcilers declare the Secrets an object depends on
 * (`track`), and a change to a tracked Secret maps back to the keys of the objects that read it. Two ways to keep the
 * tracked ones current, chosen by the namespaces the operator serves:
 * - some namespaces (`namespaces` set): one list+watch of Secrets per served namespace, never cluster-wide; every
 *   other Secret is dropped on the floor (its data never stays in memory);
 * - all namespaces: no list and no watch of Secrets at all (the operator's RBAC has neither). Tracked Secrets are read
 *   by name (GET) and read again once older than `refreshAfterMs` (default 30 s), by a poll that re-enqueues their
 *   owners when one changed, so a rotated Secret is noticed within about that time. The trade-off: a GET per tracked
 *   Secret per period instead of one watch, and a change seen up to that much later.
 */
import { realClock, type Clock } from './clock.js';
import type { KubeClient } from './client.js';
import { errorMessage } from './errors.js';
import { Informer, type InformerOptions } from './informer.js';
import { silentLogger, type Logger } from './log.js';
import { CoreTypes, objectKey, splitKey, type KubeObject } from './resource.js';

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export type SecretCacheOptions = Omit<InformerOptions<SecretObject>, 'type' | 'filter' | 'passive'> & {
  /** Serving all namespaces (no watch): a tracked Secret read longer ago than this is read again. Default 30 s. */
  refreshAfterMs?: number;
};

/** How long a Secret read by name is trusted when no watch keeps it current. */
export const DEFAULT_SECRET_REFRESH_MS = 30_000;

/** The informer of the by-name mode: passive (no list, no watch), with a poll that re-reads tracked Secrets. */
class PolledSecrets extends Informer<SecretObject> {
  #timer: NodeJS.Timeout | undefined;
  constructor(
    options: InformerOptions<SecretObject>,
    private readonly everyMs: number,
    private readonly poll: () => Promise<void>,
  ) {
    super(options);
  }

  override start(): void {
    super.start();
    if (this.#timer) return;
    let running = false;
    this.#timer = setInterval(() => {
      if (running) return;
      running = true;
      void this.poll().finally(() => (running = false));
    }, Math.max(1, Math.floor(this.everyMs / 2)));
    this.#timer.unref();
  }

  override async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await super.stop();
  }
}

export class SecretCache {
  readonly informer: Informer<SecretObject>;
  // secret key -> controller -> owner keys
  private readonly owners = new Map<string, Map<string, Set<string>>>();
  // controller -> owner key -> secret keys
  private readonly reads = new Map<string, Map<string, Set<string>>>();
  private readonly client: KubeClient;
  /**
   * Tracked Secrets a GET found missing while the watch runs: the watch delivers their creation (they are tracked,
   * so the filter keeps it), so they are not asked for again on every pass of every object waiting for them.
   */
  private readonly absent = new Set<string>();
  /** Watch events per key seen while a GET of it was on the wire: a 404 older than such an event is not trusted. */
  private readonly inFlight = new Map<string, number>();
  /** Read by name only (serving all namespaces): no list or watch of Secrets is ever made. */
  readonly byName: boolean;
  readonly refreshAfterMs: number;
  /** By name: when each tracked key was last read from the API, and whether it existed then. */
  private readonly readAt = new Map<string, { at: number; found: boolean }>();
  private readonly clock: Clock;
  private readonly log: Logger;
  /** GETs sent by the by-name mode (reads and the poll), for tests and metrics. */
  gets = 0;

  constructor(options: SecretCacheOptions) {
    this.client = options.client;
    this.clock = options.clock ?? realClock;
    this.log = (options.log ?? silentLogger).child({ cache: 'secrets' });
    this.byName = !options.namespaces?.length;
    this.refreshAfterMs = Math.max(1, options.refreshAfterMs ?? DEFAULT_SECRET_REFRESH_MS);
    const { refreshAfterMs: _r, ...rest } = options;
    const informerOptions: InformerOptions<SecretObject> = {
      name: 'secrets',
      ...rest,
      type: CoreTypes.secrets,
      filter: (s) => this.owners.has(objectKey(s)),
      passive: this.byName,
    };
    this.informer = this.byName ? new PolledSecrets(informerOptions, this.refreshAfterMs, () => this.refresh()) : new Informer<SecretObject>(informerOptions);
    const seen = (s: SecretObject): void => {
      const key = objectKey(s);
      this.absent.delete(key);
      const n = this.inFlight.get(key);
      if (n !== undefined) this.inFlight.set(key, n + 1);
    };
    this.informer.addHandlers({ onAdd: seen, onUpdate: (_old, s) => seen(s), onDelete: seen });
  }

  /** Declares that `owner` (a key of `controller`) reads exactly these Secrets (`namespace/name` keys). */
  track(controller: string, owner: string, secretKeys: Iterable<string>): void {
    const next = new Set(secretKeys);
    let byOwner = this.reads.get(controller);
    if (!byOwner) this.reads.set(controller, (byOwner = new Map()));
    const prev = byOwner.get(owner) ?? new Set<string>();
    for (const s of prev) if (!next.has(s)) this.unlink(s, controller, owner);
    for (const s of next) {
      let byController = this.owners.get(s);
      if (!byController) this.owners.set(s, (byController = new Map()));
      let set = byController.get(controller);
      if (!set) byController.set(controller, (set = new Set()));
      set.add(owner);
    }
    if (next.size) byOwner.set(owner, next);
    else byOwner.delete(owner);
  }

  /** Forgets everything `owner` read (call when the owner is deleted). */
  untrack(controller: string, owner: string): void {
    this.track(controller, owner, []);
  }

  private unlink(secret: string, controller: string, owner: string): void {
    const byController = this.owners.get(secret);
    const set = byController?.get(controller);
    set?.delete(owner);
    if (set && set.size === 0) byController?.delete(controller);
    if (byController && byController.size === 0) {
      this.owners.delete(secret);
      this.absent.delete(secret);
      this.readAt.delete(secret);
      this.informer.store.remove(secret); // nobody reads it any more: don't keep its data around
    }
  }

  isTracked(secretKey: string): boolean {
    return this.owners.has(secretKey);
  }

  /** Owner keys of `controller` that read this Secret. */
  ownersOf(controller: string, secretKey: string): string[] {
    return [...(this.owners.get(secretKey)?.get(controller) ?? [])];
  }

  /** A mapping function for `Controller` watches: a Secret change -> the keys of `controller` that read it. */
  mapTo(controller: string): (secret: SecretObject) => string[] {
    return (secret) => this.ownersOf(controller, objectKey(secret));
  }

  /** This process just created the Secret: whatever a GET found missing before is stale, even before the watch says so. */
  created(secretKey: string): void {
    this.absent.delete(secretKey);
    this.readAt.delete(secretKey);
  }

  /**
   * Reads a tracked Secret: from the cache, or from the API when the cache does not hold it yet (it became
   * interesting after the watch last saw it). Undefined when it does not exist. Track it first.
   */
  async get(secretKey: string): Promise<SecretObject | undefined> {
    if (this.byName) return this.getByName(secretKey);
    const cached = this.informer.get(secretKey);
    if (cached) return cached;
    if (this.absent.has(secretKey)) return undefined;
    const { namespace, name } = splitKey(secretKey);
    // Only a GET sent while the key is tracked and the watch runs can be remembered as missing: from then on the
    // watch keeps the creation. Without a synced watch (before start, in tests without one) every read asks.
    const trusted = this.isTracked(secretKey) && this.informer.hasSynced();
    const before = this.inFlight.get(secretKey);
    if (trusted && before === undefined) this.inFlight.set(secretKey, 0);
    try {
      const got = await this.client.getIfExists<SecretObject>(CoreTypes.secrets, namespace, name);
      if (got && this.isTracked(secretKey)) this.informer.inject(got);
      if (!got && trusted && before === undefined && this.inFlight.get(secretKey) === 0 && this.isTracked(secretKey)) this.absent.add(secretKey);
      return got;
    } finally {
      if (trusted && before === undefined) this.inFlight.delete(secretKey);
    }
  }

  /** By name: the cached copy while younger than `refreshAfterMs` (a missing Secret too), else a GET. */
  private async getByName(secretKey: string): Promise<SecretObject | undefined> {
    const read = this.readAt.get(secretKey);
    if (read && this.clock.now() - read.at < this.refreshAfterMs && this.isTracked(secretKey)) {
      const cached = this.informer.get(secretKey);
      if (cached || !read.found) return cached;
    }
    return this.readByName(secretKey);
  }

  private async readByName(secretKey: string): Promise<SecretObject | undefined> {
    const { namespace, name } = splitKey(secretKey);
    const started = this.clock.now();
    this.gets++;
    const got = await this.client.getIfExists<SecretObject>(CoreTypes.secrets, namespace, name);
    if (this.isTracked(secretKey)) {
      // Announced like a watch event when it changed, so the objects that read it are reconciled again.
      this.informer.observe(secretKey, got);
      this.readAt.set(secretKey, { at: started, found: got !== undefined });
    }
    return got;
  }

  /** By name: reads every tracked Secret older than `refreshAfterMs` again (the poll). */
  async refresh(): Promise<void> {
    const now = this.clock.now();
    for (const key of [...this.owners.keys()]) {
      const read = this.readAt.get(key);
      if (read && now - read.at < this.refreshAfterMs) continue;
      try {
        await this.readByName(key);
      } catch (e) {
        this.log.warn({ secret: key, err: errorMessage(e) }, 'could not read a tracked Secret again; keeping the last copy');
      }
    }
  }
}
