/**
 * Reading credential values from Secrets, per reconcile: every Secret an object reads is declared to the Secret
 * cache (so its change re-enqueues the object), and a missing Secret or key becomes a condition a human can act
 * on. Values never leave this module except to the device or Azure client that needs them.
 */
import type { SecretCache } from '../../runtime/index.js';
import type { SecretVersion } from '../../luna/index.js';
import type { CredentialDigest } from './credential-digest.js';

export interface SecretValue {
  value: string;
  version: SecretVersion;
}

export interface SecretProblem {
  reason: 'SecretNotFound';
  message: string;
}

export type SecretRead = ({ ok: true } & SecretValue) | ({ ok: false } & SecretProblem);

/**
 * What each owner declared at its last `done()`, per cache: while a reconcile is still reading, its dependencies are
 * the union of those and what it read so far. Declaring only the partial set would unlink (and evict from the cache)
 * a Secret read later in the same pass, whose re-read then shows up as a new Secret and re-enqueues the owner: a loop.
 */
const declared = new WeakMap<SecretCache, Map<string, ReadonlySet<string>>>();

/** Collects the Secrets one reconcile reads; `done()` records them as the object's dependencies. */
export class SecretReads {
  private readonly read = new Set<string>();

  constructor(
    private readonly cache: SecretCache,
    private readonly controller: string,
    private readonly owner: string,
    /** Keyed digest of a credential value: what the credential guard compares (see credential-digest.ts). */
    private readonly digest?: CredentialDigest,
  ) {}

  /** One key of one Secret in the owner's namespace. */
  async value(namespace: string, name: string, key: string): Promise<SecretRead> {
    const secretKey = `${namespace}/${name}`;
    this.read.add(secretKey);
    // Track before reading, so a Secret created right after this read still re-enqueues the owner.
    this.trackSoFar();
    const secret = await this.cache.get(secretKey);
    if (!secret) return { ok: false, reason: 'SecretNotFound', message: `Secret ${secretKey} does not exist: create it with the key "${key}".` };
    const b64 = secret.data?.[key];
    if (b64 === undefined || b64 === '') {
      return { ok: false, reason: 'SecretNotFound', message: `Secret ${secretKey} has no key "${key}": add it (keys present: ${Object.keys(secret.data ?? {}).sort().join(', ') || 'none'}).` };
    }
    const value = Buffer.from(b64, 'base64').toString('utf8');
    const version: SecretVersion = { uid: secret.metadata?.uid ?? '', resourceVersion: secret.metadata?.resourceVersion ?? '', name: secretKey };
    if (this.digest) version.digest = await this.digest(value);
    return { ok: true, value, version };
  }

  /** The whole data map of a Secret (e.g. a kubernetes.io/tls Secret), decoded. */
  async data(namespace: string, name: string): Promise<{ ok: true; data: Record<string, string>; version: SecretVersion } | ({ ok: false } & SecretProblem)> {
    const secretKey = `${namespace}/${name}`;
    this.read.add(secretKey);
    this.trackSoFar();
    const secret = await this.cache.get(secretKey);
    if (!secret) return { ok: false, reason: 'SecretNotFound', message: `Secret ${secretKey} does not exist.` };
    const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    return { ok: true, data, version: { uid: secret.metadata?.uid ?? '', resourceVersion: secret.metadata?.resourceVersion ?? '', name: secretKey } };
  }

  /** Declares exactly the Secrets read in this reconcile (forgetting ones no longer referenced). */
  done(): void {
    this.cache.track(this.controller, this.owner, this.read);
    if (this.read.size) this.last().set(this.slot(), new Set(this.read));
    else this.last().delete(this.slot());
  }

  private slot(): string {
    return JSON.stringify([this.controller, this.owner]);
  }

  private last(): Map<string, ReadonlySet<string>> {
    let m = declared.get(this.cache);
    if (!m) declared.set(this.cache, (m = new Map()));
    return m;
  }

  /** Previous declaration plus this pass's reads: never drops a Secret mid-pass. */
  private trackSoFar(): void {
    this.cache.track(this.controller, this.owner, new Set([...(this.last().get(this.slot()) ?? []), ...this.read]));
  }
}
