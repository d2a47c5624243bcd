/**
 * The per-appliance failed-login budget (issue #22 item 5): distinct rejected values per (host:port, role) in a rolling
 * window, whatever Secret or version they came from; spent, nothing new is tried until a human resets it. And the
 * guard's keying by host:port (two appliances on one address never share records).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationRejectedError,
  CredentialBudgetExhaustedError,
  CredentialGuard,
  CredentialRefusedError,
  SshPool,
  normalizeGuardHost,
  type CredentialAttempt,
} from '../../../src/luna/index.js';
import { startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { fromStatusRecords, toStatusRecords } from '../../../src/controllers/shared/guard-status.js';
import { applianceGuardRecords, type OperatorContext } from '../../../src/controllers/shared/index.js';
import type { DedicatedHsm } from '../../../src/api/index.js';
import { applianceEndpoint, expectSoUntouched, rejectionOf } from './support.js';

const HOUR = 3600_000;
const at = (host: string, uid: string, digest: string, role: CredentialAttempt['role'] = 'appliance-ssh'): CredentialAttempt => ({
  host,
  role,
  secret: { uid, resourceVersion: digest, name: `team-a/${uid}`, digest },
});
const reject = (a: CredentialAttempt) => (): Promise<never> => Promise.reject(new AuthenticationRejectedError(a.host, a.role, a.secret.name, 'SSH login was rejected'));

describe('credential budget', () => {
  it('three rotations of one Secret spend the budget: no fourth value of ANY Secret is sent to that appliance and role', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const guard = new CredentialGuard({ now: () => new Date(now) });
    let sent = 0;
    for (const v of ['d1', 'd2', 'd3']) {
      const a = at('10.0.0.5:22', 'creds', v);
      expect(
        await rejectionOf(
          guard.attempt(a, () => {
            sent++;
            return reject(a)();
          }),
        ),
      ).toBeInstanceOf(AuthenticationRejectedError);
      now += 60_000;
    }
    expect(sent).toBe(3);
    for (const a of [at('10.0.0.5:22', 'creds', 'd4'), at('10.0.0.5', 'other-secret', 'x1')]) {
      const e = await rejectionOf(
        guard.attempt(a, () => {
          sent++;
          return Promise.resolve('ok');
        }),
      );
      expect(e).toBeInstanceOf(CredentialBudgetExhaustedError);
      // Every path that stops on a refused credential stops on this one too.
      expect(e).toBeInstanceOf(CredentialRefusedError);
      expect((e as Error).message).toMatch(/failed-login budget is spent \(3 of 3 distinct values rejected in the last 24 h, from team-a\/creds; .*reset the budget/);
    }
    expect(sent).toBe(3);
    // Another namespace's reader is told that the budget is spent, not by which Secrets.
    const other = await rejectionOf(guard.attempt({ ...at('10.0.0.5:22', 'x', 'z'), secret: { uid: 'x', resourceVersion: '1', name: 'team-b/x', digest: 'z' } }, () => Promise.resolve(1)));
    expect((other as Error).message).toContain('from a Secret of another namespace');
    expect((other as Error).message).not.toContain('team-a');
    // Another port on the same address, and another role, have budgets of their own.
    expect(await guard.attempt(at('10.0.0.5:2222', 'creds', 'd4'), () => Promise.resolve('ok'))).toBe('ok');
    expect(await guard.attempt(at('10.0.0.5:22', 'creds', 'd4', 'lunacm-ssh'), () => Promise.resolve('ok'))).toBe('ok');
  });

  it('the spent budget survives a restart through the status records; the window rolls; a reset lifts it but no rejected value is retried', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const guard = new CredentialGuard({ now: () => new Date(now) });
    for (const v of ['d1', 'd2', 'd3']) {
      await rejectionOf(guard.attempt(at('hsm:22', 'creds', v), reject(at('hsm:22', 'creds', v))));
      now += HOUR;
    }
    // Persisted as three status entries with distinct keys (one per rejected value), read back after a restart.
    const status = toStatusRecords(guard.export());
    expect(new Set(status.map((r) => r.key)).size).toBe(3);
    const restarted = new CredentialGuard({ now: () => new Date(now) });
    restarted.merge(fromStatusRecords(JSON.parse(JSON.stringify(status)) as typeof status));
    expect(() => restarted.check(at('hsm:22', 'creds', 'd9'))).toThrow(CredentialBudgetExhaustedError);

    // A reset in the future is ignored (it would disable the budget until then).
    expect(restarted.resetBudget('hsm:22', 'appliance-ssh', new Date(now + HOUR))).toBe(false);
    expect(() => restarted.check(at('hsm:22', 'creds', 'd9'))).toThrow(CredentialBudgetExhaustedError);
    // A human resets: new values may be tried again, the three rejected ones stay refused.
    expect(restarted.resetBudget('hsm:22', 'appliance-ssh', new Date(now))).toBe(true);
    expect(() => restarted.check(at('hsm:22', 'creds', 'd9'))).not.toThrow();
    const again = (() => {
      try {
        restarted.check(at('hsm:22', 'creds', 'd2'));
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(again).toBeInstanceOf(CredentialRefusedError);
    expect(again).not.toBeInstanceOf(CredentialBudgetExhaustedError);

    // Without a reset, the window rolls: 24 h after the first rejection only two count.
    const rolling = new CredentialGuard({ now: () => new Date(now) });
    rolling.merge(fromStatusRecords(status));
    now = Date.parse('2026-01-02T00:00:01Z');
    expect(rolling.budgetSpent('hsm:22', 'appliance-ssh')).toHaveLength(2);
    expect(() => rolling.check(at('hsm:22', 'creds', 'd9'))).not.toThrow();
  });

  it('a value this process saw accepted keeps working when the budget is spent', async () => {
    const guard = new CredentialGuard();
    const good = at('hsm:22', 'platform', 'good');
    expect(await guard.attempt(good, () => Promise.resolve(1))).toBe(1);
    for (const v of ['x1', 'x2', 'x3']) await rejectionOf(guard.attempt(at('hsm:22', 'tenant', v), reject(at('hsm:22', 'tenant', v))));
    expect(() => guard.check(good)).not.toThrow();
    expect(() => guard.check({ ...good, secret: { ...good.secret, digest: 'rotated' } })).toThrow(CredentialBudgetExhaustedError);
  });

  it('concurrent attempts with distinct values cannot overspend the budget', async () => {
    const guard = new CredentialGuard();
    let sent = 0;
    const results = await Promise.all(
      ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'].map((v) =>
        rejectionOf(
          guard.attempt(at('hsm:22', `s-${v}`, v), async () => {
            sent++;
            await new Promise((r) => setTimeout(r, 10));
            return reject(at('hsm:22', `s-${v}`, v))();
          }),
        ),
      ),
    );
    expect(sent).toBe(3);
    expect(results.filter((e) => e instanceof CredentialBudgetExhaustedError)).toHaveLength(3);
  });

  it('a DedicatedHsm persists only its namespace\'s rejections at its appliance: never another namespace\'s Secret names', async () => {
    const guard = new CredentialGuard();
    for (const [ns, v] of [['team-a', 'a1'], ['team-b', 'b1']] as const) {
      const a = { host: 'hsm:22', role: 'appliance-ssh' as const, secret: { uid: `${ns}-uid`, resourceVersion: '1', name: `${ns}/creds`, digest: v } };
      await rejectionOf(guard.attempt(a, reject(a)));
    }
    const hsm = { metadata: { name: 'hsm-a', namespace: 'team-a' } } as DedicatedHsm;
    const records = applianceGuardRecords({ guard } as unknown as OperatorContext, hsm, 'hsm:22');
    expect(records.map((r) => r.secretName)).toEqual(['team-a/creds']);
    expect(JSON.stringify(records)).not.toContain('team-b');
  });

  it('guard hosts are host:port: old bare-host records read as port 22, and two ports never collide', () => {
    expect(normalizeGuardHost('10.0.0.5')).toBe('10.0.0.5:22');
    expect(normalizeGuardHost('10.0.0.5:2222')).toBe('10.0.0.5:2222');
    expect(normalizeGuardHost('fd00::5')).toBe('[fd00::5]:22');
    expect(normalizeGuardHost('[fd00::5]:2022')).toBe('[fd00::5]:2022');
    const old = { key: 'appliance-ssh@127.0.0.1/u1', host: '127.0.0.1', role: 'appliance-ssh', secretUid: 'u1', secretResourceVersion: '4', rejectedAt: '2026-01-01T00:00:00.000Z', message: 'rejected' };
    const guard = new CredentialGuard();
    guard.merge(fromStatusRecords([old]));
    const same = { host: '127.0.0.1:22', role: 'appliance-ssh' as const, secret: { uid: 'u1', resourceVersion: '4' } };
    expect(() => guard.check(same)).toThrow(CredentialRefusedError);
    expect(() => guard.check({ ...same, host: '127.0.0.1:2022' })).not.toThrow();
  });
});

describe('credential budget against the appliance simulator', () => {
  let sim: ApplianceSimulator | undefined;
  let pool: SshPool | undefined;
  afterEach(async () => {
    await pool?.close();
    if (sim) expectSoUntouched(sim);
    await sim?.stop();
  });

  it('three wrong rotations cost three failed logins; the fourth rotation (even the right password) sends nothing', async () => {
    sim = await startApplianceSimulator({ password: 'right-password' });
    pool = new SshPool({ guard: new CredentialGuard() });
    for (const [i, pw] of ['guess-1', 'guess-2', 'guess-3'].entries()) {
      const ep = applianceEndpoint(sim, { password: pw, resourceVersion: String(i + 2) });
      ep.credential.secret.digest = `digest-${pw}`;
      expect(await rejectionOf(pool.exec(ep, 'hsm show'))).toBeInstanceOf(AuthenticationRejectedError);
    }
    expect(sim.counters.ssh.sshLogins.failure).toBe(3);
    const right = applianceEndpoint(sim, { password: 'right-password', resourceVersion: '9' });
    right.credential.secret.digest = 'digest-right';
    expect(await rejectionOf(pool.exec(right, 'hsm show'))).toBeInstanceOf(CredentialBudgetExhaustedError);
    expect(sim.counters.ssh.sshLogins).toEqual({ success: 0, failure: 3 });
    expect(sim.counters.ssh.connections).toBe(3);
    // Reset by a human: the right password goes through.
    pool.guard.resetBudget(`${sim.host}:${sim.port}`, 'appliance-ssh', new Date());
    expect((await pool.exec(right, 'hsm show')).stdout).toContain('Appliance Details');
    expect(sim.counters.ssh.sshLogins).toEqual({ success: 1, failure: 3 });
  });
});
