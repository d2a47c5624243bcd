/**
 * Operator recovery of down members (`hagroup recover`), decided from the attempts recorded in status, so the rate
 * limit and the circuit breaker survive restarts. Pure.
 *
 * - Rate limit: at most one attempt per poll interval per group, however often the group is reconciled (watch
 *   events, re-syncs).
 * - Circuit breaker: `maxAttemptsPerWindow` failed attempts within `window` (counted since the last attempt that
 *   brought every member back) open the circuit: no more automatic attempts until old failures leave the window.
 * - `dedicatedhsm.io/recover-now` is a human asking for one attempt now: it skips the rate limit and, as the API
 *   documents, also runs while the circuit is open. It is one attempt, not a reset: if it fails the circuit stays
 *   open for automatic attempts.
 * - An attempt is made only for members whose appliance answers; a member on an appliance that is down is reported,
 *   not hammered.
 */

export interface RecoveryAttempt {
  /** ISO timestamp (millisecond precision: it also identifies the attempt). */
  at: string;
  serial: string;
  /** `Succeeded`, `Failed: <detail>` or `Skipped: <detail>`. */
  outcome: string;
}

export interface RecoveryPolicy {
  operatorRecovery: boolean;
  maxFailures: number;
  windowMs: number;
  /** Minimum time between two attempts of a group (the poll interval). */
  minGapMs: number;
}

export type RecoveryDecision =
  | { action: 'recover'; forced: boolean }
  | { action: 'hold'; why: 'nothingToRecover' | 'disabled' | 'rateLimited' | 'circuitOpen'; retryInMs?: number };

export interface BreakerState {
  open: boolean;
  /** Failed attempts counted (in the window, since the last full success). */
  failures: number;
  /** When the oldest counted failure leaves the window (only when open). */
  closesAt?: Date;
}

/** The most recent attempts kept in status. */
export const MAX_RECORDED_ATTEMPTS = 50;

const isRun = (a: RecoveryAttempt): boolean => a.outcome === 'Succeeded' || a.outcome.startsWith('Failed');

/** Attempts actually run (not Skipped), grouped by time: one `hagroup recover` per group of entries. */
function runs(attempts: readonly RecoveryAttempt[]): { at: number; failed: boolean }[] {
  const byAt = new Map<string, boolean>();
  for (const a of attempts) {
    if (!isRun(a)) continue;
    byAt.set(a.at, (byAt.get(a.at) ?? false) || a.outcome.startsWith('Failed'));
  }
  return [...byAt]
    .map(([at, failed]) => ({ at: Date.parse(at), failed }))
    .filter((r) => Number.isFinite(r.at))
    .sort((x, y) => x.at - y.at);
}

export function lastAttemptAt(attempts: readonly RecoveryAttempt[]): number | undefined {
  const all = runs(attempts);
  return all.length ? all[all.length - 1]?.at : undefined;
}

export function breakerState(attempts: readonly RecoveryAttempt[], now: number, policy: Pick<RecoveryPolicy, 'maxFailures' | 'windowMs'>): BreakerState {
  const all = runs(attempts);
  let lastSuccess = -Infinity;
  for (const r of all) if (!r.failed) lastSuccess = r.at;
  const counted = all.filter((r) => r.failed && r.at > lastSuccess && r.at > now - policy.windowMs);
  const open = counted.length >= policy.maxFailures;
  // The circuit closes once enough of the counted failures have aged out to leave fewer than maxFailures.
  const pivot = counted[counted.length - policy.maxFailures];
  return open && pivot ? { open, failures: counted.length, closesAt: new Date(pivot.at + policy.windowMs) } : { open, failures: counted.length };
}

export function decideRecovery(input: { candidates: number; attempts: readonly RecoveryAttempt[]; now: number; policy: RecoveryPolicy; trigger: boolean }): RecoveryDecision {
  const { candidates, attempts, now, policy, trigger } = input;
  if (candidates === 0) return { action: 'hold', why: 'nothingToRecover' };
  if (trigger) return { action: 'recover', forced: true };
  if (!policy.operatorRecovery) return { action: 'hold', why: 'disabled' };
  const breaker = breakerState(attempts, now, policy);
  if (breaker.open) return { action: 'hold', why: 'circuitOpen', ...(breaker.closesAt ? { retryInMs: Math.max(0, breaker.closesAt.getTime() - now) } : {}) };
  const last = lastAttemptAt(attempts);
  if (last !== undefined && now - last < policy.minGapMs) return { action: 'hold', why: 'rateLimited', retryInMs: policy.minGapMs - (now - last) };
  return { action: 'recover', forced: false };
}

/** Appends entries, keeping the newest MAX_RECORDED_ATTEMPTS. */
export function recordAttempts(previous: readonly RecoveryAttempt[] | undefined, entries: readonly RecoveryAttempt[]): RecoveryAttempt[] {
  const all = [...(previous ?? []), ...entries];
  return all.slice(Math.max(0, all.length - MAX_RECORDED_ATTEMPTS));
}

/**
 * A Skipped entry, unless the member's latest entry already says the same: a member that stays held back for the
 * same reason is recorded once, so a long outage neither churns status nor pushes real attempts out of the list.
 */
export function recordSkipped(previous: readonly RecoveryAttempt[] | undefined, serial: string, detail: string, at: string): RecoveryAttempt[] {
  const list = previous ?? [];
  const outcome = `Skipped: ${detail}`.slice(0, 256);
  const latest = [...list].reverse().find((a) => a.serial === serial);
  if (latest?.outcome === outcome) return [...list];
  return recordAttempts(list, [{ at, serial, outcome }]);
}

export interface MemberCounters {
  serial?: string;
  lastRecoveryAt?: string;
  recoveries?: number;
  failedRecoveries?: number;
}

/** Member counters after one attempt: lastRecoveryAt for every member tried, recoveries or failedRecoveries + 1. */
export function countOutcome<M extends MemberCounters>(member: M, outcome: { ok: boolean; at: string }): M {
  return {
    ...member,
    lastRecoveryAt: outcome.at,
    ...(outcome.ok ? { recoveries: (member.recoveries ?? 0) + 1 } : { failedRecoveries: (member.failedRecoveries ?? 0) + 1 }),
  };
}
