/**
 * The credential guard (invariant 1): every authentication the operator performs goes through it, keyed by
 * (host, role, Secret uid) and the keyed digest of the value. Once a value is rejected, further attempts with it
 * are refused until the value changes: a metadata-only update of the Secret (labels, annotations, a re-sync by
 * External Secrets or Sealed Secrets) lifts nothing. Records without a digest (written before digests existed)
 * compare the Secret's resourceVersion instead. Records are plain JSON so the caller persists them in status and
 * a restarted process restores them.
 */
import { AuthenticationRejectedError, CredentialRefusedError } from './errors.js';

/** HSM SO is deliberately not a role: it is never attempted automatically. */
export type GuardRole = 'appliance-ssh' | 'lunacm-ssh' | 'hagroup-password';

export const GUARD_ROLES: readonly GuardRole[] = ['appliance-ssh', 'lunacm-ssh', 'hagroup-password'];

/** Which Secret version a credential value came from. */
export interface SecretVersion {
  uid: string;
  resourceVersion: string;
  /** `namespace/name`, for messages. */
  name?: string;
  /** Keyed digest of the value (never the value): what decides "the same credential again". */
  digest?: string;
}

export interface CredentialAttempt {
  host: string;
  role: GuardRole;
  secret: SecretVersion;
}

export interface GuardRecord {
  host: string;
  role: GuardRole;
  secretUid: string;
  secretResourceVersion: string;
  /** Keyed digest of the rejected value; the guard holds while the Secret's value has this digest. */
  valueDigest?: string;
  /** ISO timestamp. */
  rejectedAt: string;
  /** Why it was rejected (device text, never the credential). */
  message: string;
  secretName?: string;
}

export interface CredentialGuardOptions {
  records?: readonly unknown[];
  now?: () => Date;
  /** Called after every change with the full record list, so the caller can persist it. */
  onChange?: (records: GuardRecord[]) => void;
}

const slot = (host: string, role: string, secretUid: string): string => JSON.stringify([host, role, secretUid]);

/** Whether a record was made for the value this Secret version holds: by digest, else (old records) by version. */
function sameValue(r: GuardRecord, s: SecretVersion): boolean {
  if (r.valueDigest !== undefined && s.digest !== undefined) return r.valueDigest === s.digest;
  return r.secretResourceVersion === s.resourceVersion;
}

/** What identifies one credential value for in-flight sharing: its digest, else its Secret version. */
const valueKey = (s: SecretVersion): string => s.digest ?? `rv:${s.resourceVersion}`;

function isRecord(v: unknown): v is GuardRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.host === 'string' &&
    typeof r.role === 'string' &&
    (GUARD_ROLES as readonly string[]).includes(r.role) &&
    typeof r.secretUid === 'string' &&
    typeof r.secretResourceVersion === 'string' &&
    typeof r.rejectedAt === 'string' &&
    typeof r.message === 'string' &&
    (r.valueDigest === undefined || typeof r.valueDigest === 'string') &&
    (r.secretName === undefined || typeof r.secretName === 'string')
  );
}

/** Whether an error means "this credential was rejected" (as opposed to a network or device failure). */
export function isCredentialRejection(e: unknown): e is AuthenticationRejectedError {
  return e instanceof AuthenticationRejectedError;
}

export class CredentialGuard {
  /** One record per (host, role, secret uid): the last rejected value. */
  readonly #records = new Map<string, GuardRecord>();
  readonly #inFlight = new Map<string, Promise<unknown>>();
  /** When a slot last saw a successful authentication: records rejected before that are obsolete. */
  readonly #acceptedAt = new Map<string, string>();
  readonly #now: () => Date;
  readonly #onChange: ((records: GuardRecord[]) => void) | undefined;

  constructor(opts: CredentialGuardOptions = {}) {
    this.#now = opts.now ?? (() => new Date());
    this.#onChange = opts.onChange;
    for (const r of opts.records ?? []) {
      // Malformed entries (hand-edited status) are dropped rather than trusted.
      if (isRecord(r)) this.#records.set(slot(r.host, r.role, r.secretUid), { ...r });
    }
  }

  /** A guard restored from exported records (e.g. read back from status after a restart). */
  static restore(records: readonly unknown[] | undefined, opts: Omit<CredentialGuardOptions, 'records'> = {}): CredentialGuard {
    return new CredentialGuard({ ...opts, records: records ?? [] });
  }

  /**
   * Adds records read back from status (after a restart, or from another object's status). A record for a slot the
   * guard already holds is kept when it is newer, so a merge can never lift a refusal the process itself recorded.
   */
  merge(records: readonly unknown[] | undefined): void {
    let changed = false;
    for (const r of records ?? []) {
      if (!isRecord(r)) continue;
      const k = slot(r.host, r.role, r.secretUid);
      const have = this.#records.get(k);
      if (have && ((have.valueDigest ?? have.secretResourceVersion) === (r.valueDigest ?? r.secretResourceVersion) || have.rejectedAt >= r.rejectedAt)) continue;
      // A status not yet rewritten after a later success must not bring the obsolete record back.
      const accepted = this.#acceptedAt.get(k);
      if (accepted !== undefined && accepted >= r.rejectedAt) continue;
      this.#records.set(k, { ...r });
      changed = true;
    }
    if (changed) this.#changed();
  }

  /** Records of one host (and optionally one role): what an owner object persists in its status. */
  recordsFor(host: string, role?: GuardRole): GuardRecord[] {
    return this.export().filter((r) => r.host === host && (role === undefined || r.role === role));
  }

  /** The record refusing this attempt, if any. */
  refusal(a: CredentialAttempt): GuardRecord | undefined {
    const r = this.#records.get(slot(a.host, a.role, a.secret.uid));
    return r && sameValue(r, a.secret) ? { ...r } : undefined;
  }

  /** Throws CredentialRefusedError when this credential version was already rejected. */
  check(a: CredentialAttempt): void {
    const r = this.refusal(a);
    if (r) throw new CredentialRefusedError(r.host, r.role, r.secretUid, r.secretResourceVersion, a.secret.name ?? r.secretName, r.rejectedAt);
  }

  /**
   * Runs one authentication. Concurrent attempts with the same credential wait for the first one's outcome,
   * so a wrong credential is sent once. A rejection (AuthenticationRejectedError) is recorded; a success
   * clears records of older values of the same Secret.
   */
  async attempt<T>(a: CredentialAttempt, fn: () => Promise<T>): Promise<T> {
    const key = JSON.stringify([a.host, a.role, a.secret.uid, valueKey(a.secret)]);
    for (let pending = this.#inFlight.get(key); pending; pending = this.#inFlight.get(key)) {
      await pending.catch(() => undefined);
    }
    this.check(a);
    const run = (async () => {
      try {
        const value = await fn();
        this.recordAccepted(a);
        return value;
      } catch (e) {
        // Only a rejection of this very credential counts (not, say, the SSH login beneath a LunaCM password).
        if (isCredentialRejection(e) && e.role === a.role && e.host === a.host) this.recordRejection(a, e.message);
        throw e;
      }
    })();
    this.#inFlight.set(key, run);
    try {
      return await run;
    } finally {
      if (this.#inFlight.get(key) === run) this.#inFlight.delete(key);
    }
  }

  recordRejection(a: CredentialAttempt, message: string): GuardRecord {
    const record: GuardRecord = {
      host: a.host,
      role: a.role,
      secretUid: a.secret.uid,
      secretResourceVersion: a.secret.resourceVersion,
      ...(a.secret.digest !== undefined ? { valueDigest: a.secret.digest } : {}),
      rejectedAt: this.#now().toISOString(),
      message,
      ...(a.secret.name !== undefined ? { secretName: a.secret.name } : {}),
    };
    this.#records.set(slot(a.host, a.role, a.secret.uid), record);
    this.#changed();
    return { ...record };
  }

  /** A successful authentication: any record for this Secret on this host and role is obsolete. */
  recordAccepted(a: CredentialAttempt): void {
    const k = slot(a.host, a.role, a.secret.uid);
    this.#acceptedAt.set(k, this.#now().toISOString());
    if (this.#records.delete(k)) this.#changed();
  }

  /** Plain JSON records, sorted for stable status writes. */
  export(): GuardRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r })).sort((x, y) => (slot(x.host, x.role, x.secretUid) < slot(y.host, y.role, y.secretUid) ? -1 : 1));
  }

  #changed(): void {
    this.#onChange?.(this.export());
  }
}
