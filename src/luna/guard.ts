/**
 * The credential guard (invariant 1): every authentication the operator performs goes through it, keyed by
 * (host, role, Secret uid) and the keyed digest of the value. Once a value is rejected, further attempts with it
 * are refused until the value changes: a metadata-only update of the Secret (labels, annotations, a re-sync by
 * External Secrets or Sealed Secrets) lifts nothing. Records without a digest (written before digests existed)
 * compare the Secret's resourceVersion instead. Records are plain JSON so the caller persists them in status and
 * a restarted process restores them.
 */
import { AuthenticationRejectedError, CredentialBudgetExhaustedError, CredentialRefusedError } from './errors.js';

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

/**
 * The failed-login budget of one appliance (host:port) and role: at most `max` distinct rejected values in any rolling
 * `windowMs`, whatever Secret or version they came from; once spent, no new value is tried there until a human resets
 * it (`resetBudget`). Values seen accepted by this process still work, so a logged-in operator keeps running.
 */
export interface CredentialBudget {
  max: number;
  windowMs: number;
}

/** Three rejected values a day per appliance and role: the HSM Admin's own lockout is three bad logins (reference notes). */
export const DEFAULT_CREDENTIAL_BUDGET: CredentialBudget = { max: 3, windowMs: 24 * 3600_000 };

export interface CredentialGuardOptions {
  records?: readonly unknown[];
  now?: () => Date;
  /** Called after every change with the full record list, so the caller can persist it. */
  onChange?: (records: GuardRecord[]) => void;
  budget?: CredentialBudget;
}

/**
 * The guard's name of an SSH peer: `host:port` (`[v6]:port`), so two appliances behind one address (loopback in tests,
 * a NAT) never share records or a budget.
 */
export function guardHostOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A record's host as the guard keys it: records written before ports were part of the key name a bare host, port 22. */
export function normalizeGuardHost(host: string): string {
  if (/^\[[^\]]+\]:\d+$/.test(host) || /^[^:]+:\d+$/.test(host)) return host;
  return guardHostOf(host.replace(/^\[(.*)\]$/, '$1'), 22);
}

/** One record per rejected value: (host, role, Secret uid) and the value's digest (or, without one, the version). */
const slot = (host: string, role: string, secretUid: string, value: string): string => JSON.stringify([host, role, secretUid, value]);
const secretSlot = (host: string, role: string, secretUid: string): string => JSON.stringify([host, role, secretUid]);
const budgetSlot = (host: string, role: string): string => JSON.stringify([host, role]);
const recordValue = (r: GuardRecord): string => (r.valueDigest !== undefined ? r.valueDigest : `rv:${r.secretResourceVersion}`);

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
  /** One record per rejected value: (host, role, secret uid, value). */
  readonly #records = new Map<string, GuardRecord>();
  readonly #inFlight = new Map<string, Promise<unknown>>();
  /** When a (host, role, secret uid) last saw a successful authentication: records rejected before that are obsolete. */
  readonly #acceptedAt = new Map<string, string>();
  /** Values this process saw accepted, per (host, role, secret uid): they stay usable when the budget is spent. */
  readonly #acceptedValue = new Map<string, string>();
  /** Per (host, role): rejections at or before this time no longer count towards the budget (a human's reset). */
  readonly #resetAt = new Map<string, string>();
  /** Per (host, role): attempts with a value not known good, on the wire now (they may each spend the budget). */
  readonly #pending = new Map<string, number>();
  readonly #now: () => Date;
  readonly #onChange: ((records: GuardRecord[]) => void) | undefined;
  readonly budget: CredentialBudget;

  constructor(opts: CredentialGuardOptions = {}) {
    this.#now = opts.now ?? (() => new Date());
    this.#onChange = opts.onChange;
    this.budget = opts.budget ?? DEFAULT_CREDENTIAL_BUDGET;
    for (const r of opts.records ?? []) {
      // Malformed entries (hand-edited status) are dropped rather than trusted.
      if (isRecord(r)) {
        const n = normalized(r);
        this.#records.set(slot(n.host, n.role, n.secretUid, recordValue(n)), n);
      }
    }
  }

  /** A guard restored from exported records (e.g. read back from status after a restart). */
  static restore(records: readonly unknown[] | undefined, opts: Omit<CredentialGuardOptions, 'records'> = {}): CredentialGuard {
    return new CredentialGuard({ ...opts, records: records ?? [] });
  }

  /**
   * Adds records read back from status (after a restart, or from another object's status). A record the guard already
   * holds is kept, so a merge can never lift a refusal the process itself recorded.
   */
  merge(records: readonly unknown[] | undefined): void {
    let changed = false;
    for (const raw of records ?? []) {
      if (!isRecord(raw)) continue;
      const r = normalized(raw);
      const k = slot(r.host, r.role, r.secretUid, recordValue(r));
      if (this.#records.has(k)) continue;
      // A status not yet rewritten after a later success must not bring the obsolete record back.
      const accepted = this.#acceptedAt.get(secretSlot(r.host, r.role, r.secretUid));
      if (accepted !== undefined && accepted >= r.rejectedAt) continue;
      this.#records.set(k, r);
      changed = true;
    }
    if (changed) this.#changed();
  }

  /** Records of one host (and optionally one role): what an owner object persists in its status. */
  recordsFor(host: string, role?: GuardRole): GuardRecord[] {
    const h = normalizeGuardHost(host);
    return this.export().filter((r) => r.host === h && (role === undefined || r.role === role));
  }

  /** The record refusing this attempt, if any. */
  refusal(a: CredentialAttempt): GuardRecord | undefined {
    const host = normalizeGuardHost(a.host);
    for (const r of this.#records.values()) {
      if (r.host === host && r.role === a.role && r.secretUid === a.secret.uid && sameValue(r, a.secret)) return { ...r };
    }
    return undefined;
  }

  /**
   * The rejections that count against the budget of (host, role) now: inside the window and after the last reset.
   * Sorted oldest first.
   */
  budgetSpent(host: string, role: GuardRole): GuardRecord[] {
    const h = normalizeGuardHost(host);
    const since = new Date(this.#now().getTime() - this.budget.windowMs).toISOString();
    const reset = this.#resetAt.get(budgetSlot(h, role));
    return [...this.#records.values()]
      .filter((r) => r.host === h && r.role === role && r.rejectedAt > since && (reset === undefined || r.rejectedAt > reset))
      .sort((x, y) => (x.rejectedAt < y.rejectedAt ? -1 : 1))
      .map((r) => ({ ...r }));
  }

  /**
   * A human lifted the budget of (host, role): rejections at or before `at` stop counting (the records of the
   * rejected values stay, so none of them is tried again). Idempotent; an earlier time than one already applied, or a
   * time in the future, changes nothing.
   */
  resetBudget(host: string, role: GuardRole, at: Date): boolean {
    if (Number.isNaN(at.getTime()) || at.getTime() > this.#now().getTime()) return false;
    const k = budgetSlot(normalizeGuardHost(host), role);
    const iso = at.toISOString();
    const have = this.#resetAt.get(k);
    if (have !== undefined && have >= iso) return false;
    this.#resetAt.set(k, iso);
    return true;
  }

  /** Throws CredentialRefusedError when this value was already rejected, or the appliance's budget is spent. */
  check(a: CredentialAttempt): void {
    const r = this.refusal(a);
    if (r) throw new CredentialRefusedError(r.host, r.role, r.secretUid, r.secretResourceVersion, a.secret.name ?? r.secretName, r.rejectedAt);
    if (this.#knownGood(a)) return;
    const host = normalizeGuardHost(a.host);
    const spent = this.budgetSpent(host, a.role);
    const pending = this.#pending.get(budgetSlot(host, a.role)) ?? 0;
    if (spent.length + pending >= this.budget.max) {
      // Names only Secrets of the asking Secret's namespace: who else guessed is not this reader's to know.
      const ns = a.secret.name?.split('/')[0];
      const names = spent.map((x) => (ns !== undefined && x.secretName?.startsWith(`${ns}/`) ? x.secretName : 'a Secret of another namespace'));
      throw new CredentialBudgetExhaustedError(host, a.role, a.secret.name, this.budget.max, this.budget.windowMs, names, spent.at(-1)?.rejectedAt);
    }
  }

  /**
   * Runs one authentication. Concurrent attempts with the same credential wait for the first one's outcome,
   * so a wrong credential is sent once. A rejection (AuthenticationRejectedError) is recorded; a success
   * clears records of older values of the same Secret.
   */
  async attempt<T>(a: CredentialAttempt, fn: () => Promise<T>): Promise<T> {
    const host = normalizeGuardHost(a.host);
    const at: CredentialAttempt = { ...a, host };
    const key = JSON.stringify([host, a.role, a.secret.uid, valueKey(a.secret)]);
    for (let pending = this.#inFlight.get(key); pending; pending = this.#inFlight.get(key)) {
      await pending.catch(() => undefined);
    }
    this.check(at);
    const counted = !this.#knownGood(at);
    const b = budgetSlot(host, a.role);
    if (counted) this.#pending.set(b, (this.#pending.get(b) ?? 0) + 1);
    const run = (async () => {
      try {
        const value = await fn();
        this.recordAccepted(at);
        return value;
      } catch (e) {
        // Only a rejection of this very credential counts (not, say, the SSH login beneath a LunaCM password).
        if (isCredentialRejection(e) && e.role === a.role && normalizeGuardHost(e.host) === host) this.recordRejection(at, e.message);
        throw e;
      } finally {
        if (counted) {
          const n = (this.#pending.get(b) ?? 1) - 1;
          if (n > 0) this.#pending.set(b, n);
          else this.#pending.delete(b);
        }
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
    const host = normalizeGuardHost(a.host);
    const record: GuardRecord = {
      host,
      role: a.role,
      secretUid: a.secret.uid,
      secretResourceVersion: a.secret.resourceVersion,
      ...(a.secret.digest !== undefined ? { valueDigest: a.secret.digest } : {}),
      rejectedAt: this.#now().toISOString(),
      message,
      ...(a.secret.name !== undefined ? { secretName: a.secret.name } : {}),
    };
    this.#acceptedValue.delete(secretSlot(host, a.role, a.secret.uid));
    this.#records.set(slot(host, a.role, a.secret.uid, recordValue(record)), record);
    this.#changed();
    return { ...record };
  }

  /** A successful authentication: every record for this Secret on this host and role is obsolete. */
  recordAccepted(a: CredentialAttempt): void {
    const host = normalizeGuardHost(a.host);
    const s = secretSlot(host, a.role, a.secret.uid);
    this.#acceptedAt.set(s, this.#now().toISOString());
    this.#acceptedValue.set(s, valueKey(a.secret));
    let changed = false;
    for (const [k, r] of this.#records) {
      if (r.host === host && r.role === a.role && r.secretUid === a.secret.uid) changed = this.#records.delete(k) || changed;
    }
    if (changed) this.#changed();
  }

  /**
   * Plain JSON records, sorted for stable status writes. A record superseded by a newer rejection of the same Secret is
   * left out once it is older than the budget window: it no longer counts, and should that old value come back, it
   * gets one new try. The Secret's latest rejected value is always kept.
   */
  export(): GuardRecord[] {
    const since = new Date(this.#now().getTime() - this.budget.windowMs).toISOString();
    const latest = new Map<string, string>();
    for (const r of this.#records.values()) {
      const s = secretSlot(r.host, r.role, r.secretUid);
      if ((latest.get(s) ?? '') < r.rejectedAt) latest.set(s, r.rejectedAt);
    }
    return [...this.#records.values()]
      .filter((r) => r.rejectedAt > since || latest.get(secretSlot(r.host, r.role, r.secretUid)) === r.rejectedAt)
      .map((r) => ({ ...r }))
      .sort((x, y) => {
        const a = slot(x.host, x.role, x.secretUid, x.rejectedAt);
        const b = slot(y.host, y.role, y.secretUid, y.rejectedAt);
        return a < b ? -1 : a > b ? 1 : 0;
      });
  }

  /** This very value was accepted by this process and not rejected since. */
  #knownGood(a: CredentialAttempt): boolean {
    return this.#acceptedValue.get(secretSlot(normalizeGuardHost(a.host), a.role, a.secret.uid)) === valueKey(a.secret);
  }

  #changed(): void {
    this.#onChange?.(this.export());
  }
}

function normalized(r: GuardRecord): GuardRecord {
  return { ...r, host: normalizeGuardHost(r.host) };
}
