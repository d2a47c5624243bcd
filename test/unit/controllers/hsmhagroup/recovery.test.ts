/** Recovery decisions: rate limit, circuit breaker, recover-now, and the bounded attempt record. */
import { describe, expect, it } from 'vitest';
import {
  MAX_RECORDED_ATTEMPTS,
  breakerState,
  countOutcome,
  decideRecovery,
  recordAttempts,
  recordSkipped,
  type RecoveryAttempt,
  type RecoveryPolicy,
} from '../../../../src/controllers/hsmhagroup/recovery.js';

const T0 = Date.parse('2026-01-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const policy: RecoveryPolicy = { operatorRecovery: true, maxFailures: 3, windowMs: 60 * 60_000, minGapMs: 30_000 };
const failed = (ms: number, serial = '22'): RecoveryAttempt => ({ at: at(ms), serial, outcome: 'Failed: still down after hagroup recover' });
const ok = (ms: number, serial = '22'): RecoveryAttempt => ({ at: at(ms), serial, outcome: 'Succeeded' });
const skipped = (ms: number, serial = '22'): RecoveryAttempt => ({ at: at(ms), serial, outcome: 'Skipped: appliance unreachable' });

describe('decideRecovery', () => {
  it('holds when no down member sits on a reachable appliance, even with a trigger', () => {
    expect(decideRecovery({ candidates: 0, attempts: [], now: T0, policy, trigger: true })).toEqual({ action: 'hold', why: 'nothingToRecover' });
  });

  it('recovers a candidate when nothing was tried before', () => {
    expect(decideRecovery({ candidates: 1, attempts: [], now: T0, policy, trigger: false })).toEqual({ action: 'recover', forced: false });
  });

  it('rate-limits to one attempt per poll interval and says when the next one is allowed', () => {
    const d = decideRecovery({ candidates: 1, attempts: [failed(0)], now: T0 + 10_000, policy, trigger: false });
    expect(d).toEqual({ action: 'hold', why: 'rateLimited', retryInMs: 20_000 });
    expect(decideRecovery({ candidates: 1, attempts: [failed(0)], now: T0 + 30_000, policy, trigger: false }).action).toBe('recover');
  });

  it('Skipped entries are not attempts: they neither rate-limit nor count for the breaker', () => {
    const attempts = [skipped(0), skipped(1_000), skipped(2_000), skipped(3_000)];
    expect(decideRecovery({ candidates: 1, attempts, now: T0 + 4_000, policy, trigger: false })).toEqual({ action: 'recover', forced: false });
    expect(breakerState(attempts, T0 + 4_000, policy)).toEqual({ open: false, failures: 0 });
  });

  it('opens the circuit after maxAttemptsPerWindow failures and keeps it open until they leave the window', () => {
    const attempts = [failed(0), failed(60_000), failed(120_000)];
    const d = decideRecovery({ candidates: 1, attempts, now: T0 + 10 * 60_000, policy, trigger: false });
    expect(d).toEqual({ action: 'hold', why: 'circuitOpen', retryInMs: 50 * 60_000 });
    expect(breakerState(attempts, T0 + 10 * 60_000, policy)).toEqual({ open: true, failures: 3, closesAt: new Date(T0 + 60 * 60_000) });
    // The first failure left the window: two remain, below the limit.
    expect(decideRecovery({ candidates: 1, attempts, now: T0 + 60 * 60_000 + 1, policy, trigger: false })).toEqual({ action: 'recover', forced: false });
  });

  it('a recovery that brought everything back resets the count', () => {
    const attempts = [failed(0), failed(60_000), ok(120_000), failed(180_000)];
    expect(breakerState(attempts, T0 + 240_000, policy)).toEqual({ open: false, failures: 1 });
  });

  it('an attempt that failed for one member counts once, however many members it was for', () => {
    const attempts = [failed(0, '22'), failed(0, '33'), ok(0, '44')];
    expect(breakerState(attempts, T0 + 1, policy).failures).toBe(1);
  });

  it('recover-now skips the rate limit and runs once while the circuit is open (a human asked)', () => {
    const open = [failed(0), failed(60_000), failed(120_000)];
    expect(decideRecovery({ candidates: 1, attempts: open, now: T0 + 120_001, policy, trigger: true })).toEqual({ action: 'recover', forced: true });
    // One more failure keeps it open for automatic attempts.
    expect(breakerState([...open, failed(130_000)], T0 + 130_001, policy).open).toBe(true);
  });

  it('operatorRecovery false: report only, unless a human triggers it', () => {
    const off = { ...policy, operatorRecovery: false };
    expect(decideRecovery({ candidates: 2, attempts: [], now: T0, policy: off, trigger: false })).toEqual({ action: 'hold', why: 'disabled' });
    expect(decideRecovery({ candidates: 2, attempts: [], now: T0, policy: off, trigger: true })).toEqual({ action: 'recover', forced: true });
  });
});

describe('attempt record', () => {
  it('keeps the newest MAX_RECORDED_ATTEMPTS entries', () => {
    const many = Array.from({ length: MAX_RECORDED_ATTEMPTS + 5 }, (_, i) => failed(i * 1_000));
    const kept = recordAttempts(many.slice(0, 10), many.slice(10));
    expect(kept).toHaveLength(MAX_RECORDED_ATTEMPTS);
    expect(kept[kept.length - 1]).toEqual(many[many.length - 1]);
    expect(kept[0]).toEqual(many[5]);
  });

  it('records a Skipped reason once per stretch, not every pass', () => {
    const once = recordSkipped([], '22', 'appliance unreachable', at(0));
    const twice = recordSkipped(once, '22', 'appliance unreachable', at(30_000));
    expect(twice).toEqual([{ at: at(0), serial: '22', outcome: 'Skipped: appliance unreachable' }]);
    // After a real attempt, the same reason is news again.
    const later = recordSkipped([...twice, failed(60_000)], '22', 'appliance unreachable', at(90_000));
    expect(later).toHaveLength(3);
    // Another member's entry in between does not hide the repeat.
    expect(recordSkipped([...twice, skipped(40_000, '33')], '22', 'appliance unreachable', at(50_000))).toHaveLength(2);
  });

  it('counts outcomes on the member', () => {
    const m = countOutcome({ serial: '22', recoveries: 2 }, { ok: true, at: at(0) });
    expect(m).toEqual({ serial: '22', recoveries: 3, lastRecoveryAt: at(0) });
    expect(countOutcome(m, { ok: false, at: at(1) })).toEqual({ serial: '22', recoveries: 3, failedRecoveries: 1, lastRecoveryAt: at(1) });
  });
});
