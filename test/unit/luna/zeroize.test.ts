import { afterEach, describe, expect, it } from 'vitest';
import { Appliance, SshPool, ZeroizeNotConfirmedError, zeroizeByFailedLogins, type ZeroizeConfirmation } from '../../../src/luna/index.js';
import { startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { applianceEndpoint, expectSoUntouched, rejectionOf } from './support.js';

const CONFIRM = 'zeroize-hsm-and-destroy-all-key-material' as const;

describe('zeroizeByFailedLogins', () => {
  let sim: ApplianceSimulator;
  let pool: SshPool;
  afterEach(async () => {
    await pool.close();
    await sim.stop();
  });

  it('refuses without the explicit confirmation, or when it names another HSM, before any hsm login', async () => {
    sim = await startApplianceSimulator({ serial: '572413', partitions: [{ label: 'par0' }] });
    pool = new SshPool();
    const ep = applianceEndpoint(sim);
    const bad: unknown[] = [undefined, {}, { confirm: true, hsmSerial: '572413' }, { confirm: CONFIRM }, { confirm: CONFIRM, hsmSerial: '572413; hsm show' }];
    for (const c of bad) expect(await rejectionOf(zeroizeByFailedLogins(pool, ep, c as ZeroizeConfirmation))).toBeInstanceOf(ZeroizeNotConfirmedError);
    expect(await rejectionOf(zeroizeByFailedLogins(pool, ep, { confirm: CONFIRM, hsmSerial: '999999' }))).toBeInstanceOf(ZeroizeNotConfirmedError);
    expectSoUntouched(sim);
    expect(sim.counters.commands.byName['hsm login']).toBeUndefined();
    expect(sim.state.partitions).toHaveLength(1);
  });

  it('with confirmation: exactly 3 failed hsm logins, then hsm show reports zeroized', async () => {
    sim = await startApplianceSimulator({ serial: '572413', partitions: [{ label: 'par0' }, { label: 'par1' }] });
    pool = new SshPool();
    const ep = applianceEndpoint(sim);
    const report = await zeroizeByFailedLogins(pool, ep, { confirm: CONFIRM, hsmSerial: '572413' });
    expect(report).toEqual({ serial: '572413', failedLogins: 3, zeroized: true });
    expect(sim.counters.hsmLogins).toEqual({ success: 0, failure: 3 });
    const show = await new Appliance(pool, ep).show();
    expect(show).toMatchObject({ zeroized: true, partitions: [] });
    // Already zeroized: nothing more is spent.
    expect(await zeroizeByFailedLogins(pool, ep, { confirm: CONFIRM, hsmSerial: '572413' })).toEqual({ serial: '572413', failedLogins: 0, zeroized: true });
    expect(sim.counters.hsmLogins.failure).toBe(3);
  });

  it('spends only the attempts that are left', async () => {
    sim = await startApplianceSimulator({ serial: '572414', soAttemptsLeft: 1 });
    pool = new SshPool();
    const report = await zeroizeByFailedLogins(pool, applianceEndpoint(sim), { confirm: CONFIRM, hsmSerial: '572414' });
    expect(report.failedLogins).toBe(1);
    expect(sim.state.zeroized).toBe(true);
  });
});
