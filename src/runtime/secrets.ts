/**
 * A cache of only the Secrets controllers actually read. Reconcilers declare the Secrets an object depends on
 * (`track`); the watch keeps those current, drops every other Secret on the floor (their data never stays in
 * memory), and a change to a tracked Secret maps back to the keys of the objects that read it.
 */
import type { KubeClient } from './client.js';
import { Informer, type InformerOptions } from './informer.js';
import { CoreTypes, objectKey, splitKey, type KubeObject } from './resource.js';

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export type SecretCacheOptions = Omit<InformerOptions<SecretObject>, 'type' | 'filter'>;

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

  constructor(options: SecretCacheOptions) {
    this.client = options.client;
    this.informer = new Informer<SecretObject>({
      name: 'secrets',
      ...options,
      type: CoreTypes.secrets,
      filter: (s) => this.owners.has(objectKey(s)),
    });
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
  }

  /**
   * Reads a tracked Secret: from the cache, or from the API when the cache does not hold it yet (it became
   * interesting after the watch last saw it). Undefined when it does not exist. Track it first.
   */
  async get(secretKey: string): Promise<SecretObject | undefined> {
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
}
