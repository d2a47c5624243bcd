/**
 * Reading credential values from Secrets, per reconcile: every Secret an object reads is declared to the Secret
 * cache (so its change re-enqueues the object), and a missing Secret or key becomes a condition a human can act
 * on. Values never leave this module except to the device or Azure client that needs them.
 */
import { Annotations, credentialOptIn, type CredentialUserKind } from '../../api/index.js';
import type { SecretCache, SecretObject } from '../../runtime/index.js';
import type { SecretVersion } from '../../luna/index.js';
import type { CredentialDigest } from './credential-digest.js';

export interface SecretValue {
  value: string;
  version: SecretVersion;
}

/** Why a Secret could not be used: it (or its key) is missing, or it did not opt in as a device credential. */
export type SecretReason = 'SecretNotFound' | 'CredentialNotOptedIn';

export interface SecretProblem {
  reason: SecretReason;
  message: string;
}

/** The object that sends a credential to a device: what the Secret's opt-in must name. */
export interface CredentialUser {
  kind: CredentialUserKind;
  name: string;
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
    return this.decode(await this.fetch(namespace, name), namespace, name, key);
  }

  /**
   * One key of a Secret used as a device credential (an SSH password, the HA group password): the one place that
   * enforces the opt-in. A Secret whose `dedicatedhsm.io/credential-for` annotation does not name `user` is not used,
   * whatever it holds, so no object can send someone else's Secret of its namespace to a host it names.
   */
  async credential(namespace: string, name: string, key: string, user: CredentialUser): Promise<SecretRead> {
    const secret = await this.fetch(namespace, name);
    if (!secret || credentialOptIn(secret.metadata?.annotations, user)) return this.decode(secret, namespace, name, key);
    const entry = `${user.kind}/${user.name}`;
    const have = secret?.metadata?.annotations?.[Annotations.credentialFor];
    return {
      ok: false,
      reason: 'CredentialNotOptedIn',
      message:
        `Secret ${namespace}/${name} is not opted in as a device credential for ${user.kind} ${user.name}` +
        `${have === undefined ? '' : ` (its ${Annotations.credentialFor} is ${JSON.stringify(have)})`}: nothing was sent. ` +
        `If this Secret is meant for it, annotate the Secret: kubectl annotate secret -n ${namespace} ${name} ${Annotations.credentialFor}=${JSON.stringify(have ? `${have}, ${entry}` : entry)}${have === undefined ? '' : ' --overwrite'}.`,
    };
  }

  /** The whole data map of a Secret (e.g. a kubernetes.io/tls Secret), decoded. */
  async data(namespace: string, name: string): Promise<{ ok: true; data: Record<string, string>; version: SecretVersion } | ({ ok: false } & SecretProblem)> {
    const secretKey = `${namespace}/${name}`;
    const secret = await this.fetch(namespace, name);
    if (!secret) return { ok: false, reason: 'SecretNotFound', message: `Secret ${secretKey} does not exist.` };
    const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    return { ok: true, data, version: { uid: secret.metadata?.uid ?? '', resourceVersion: secret.metadata?.resourceVersion ?? '', name: secretKey } };
  }

  /** Reads one Secret, declaring it first (so a Secret created right after this read still re-enqueues the owner). */
  private async fetch(namespace: string, name: string): Promise<SecretObject | undefined> {
    this.read.add(`${namespace}/${name}`);
    this.trackSoFar();
    return this.cache.get(`${namespace}/${name}`);
  }

  private async decode(secret: SecretObject | undefined, namespace: string, name: string, key: string): Promise<SecretRead> {
    const secretKey = `${namespace}/${name}`;
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
