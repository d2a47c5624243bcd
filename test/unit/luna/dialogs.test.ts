/**
 * Interactive dialogs against the documented forms the simulator prints (test/fixtures/luna/hsm-login and
 * lunash-confirmation): the zeroize path answers the last-attempt confirmation, nothing else ever does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Appliance, ConfirmationRefusedError, LunaError, SshPool, lunash, zeroizeByFailedLogins, type CommandOutcome, type LunaCommand } from '../../../src/luna/index.js';
import { startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { confirmationAnswers, setLunashForms, type LunashForms } from '../../../src/sandbox/luna/lunash-shell.js';
import { issueCertificate } from '../../../src/pki/index.js';
import { applianceEndpoint, expectSoUntouched, rejectionOf } from './support.js';

const CONFIRM = 'zeroize-hsm-and-destroy-all-key-material' as const;
/** A dialog that waits for input never sent fails the test within this bound instead of hanging it. */
const TIMEOUT = { commandTimeoutMs: 4_000 };

describe('hsm login dialogs in the documented forms (zeroize path)', () => {
  let sim: ApplianceSimulator;
  let pool: SshPool;
  afterEach(async () => {
    await pool.close();
    await sim.stop();
  });

  async function start(form: LunashForms['hsmLogin'], soAttemptsLeft = 3): Promise<void> {
    sim = await startApplianceSimulator({ serial: '573001', soAttemptsLeft, partitions: [{ label: 'par0' }] });
    setLunashForms(sim.state, { hsmLogin: form });
    pool = new SshPool();
  }

  for (const form of ['luna7', 'luna6'] as const) {
    it(`${form}: answers the multi-line last-attempt confirmation and its bare > prompt, and zeroizes`, async () => {
      await start(form);
      const report = await zeroizeByFailedLogins(pool, applianceEndpoint(sim), { confirm: CONFIRM, hsmSerial: '573001' }, TIMEOUT);
      expect(report).toEqual({ serial: '573001', failedLogins: 3, zeroized: true });
      expect(sim.counters.hsmLogins).toEqual({ success: 0, failure: 3 });
      // Exactly one confirmation, answered proceed, and only on the last attempt.
      expect(confirmationAnswers(sim.state)).toEqual({ proceed: 1, quit: 0, other: 0 });
      expect(sim.state.zeroized).toBe(true);
    });
  }

  it('luna6: the caution two attempts before the end mentions ZEROIZED but is not taken for the zeroized state', async () => {
    await start('luna6', 2);
    const report = await zeroizeByFailedLogins(pool, applianceEndpoint(sim), { confirm: CONFIRM, hsmSerial: '573001' }, TIMEOUT);
    // Both remaining attempts are spent: the early caution did not end the loop.
    expect(report.failedLogins).toBe(2);
    expect(sim.counters.hsmLogins.failure).toBe(2);
    expect(sim.state.zeroized).toBe(true);
    // Decided by hsm show read after the dialog: one before each attempt and one after the last.
    expect(sim.counters.commands.byName['hsm show']).toBe(3);
  });

  it('stops when a failed attempt is not counted by the HSM (hsm show, not the dialog, decides)', async () => {
    await start('luna7', 3);
    // The HSM answers `failed`, but before the next read its counter is back at 3 (someone logged in meanwhile).
    let shows = 0;
    const onCommand = (e: { name: string }): void => {
      if (e.name === 'hsm show' && ++shows === 2) sim.state.soAttemptsLeft = 3;
    };
    const err = await rejectionOf(zeroizeByFailedLogins(pool, applianceEndpoint(sim), { confirm: CONFIRM, hsmSerial: '573001' }, { ...TIMEOUT, onCommand }));
    expect(err).toBeInstanceOf(LunaError);
    expect((err as Error).message).toMatch(/still reports 3 HSM Admin login attempts left/);
    expect(sim.state.zeroized).toBe(false);
    expect(sim.counters.hsmLogins.failure).toBe(1);
  });
});

describe('confirmation prompts outside the zeroize path are refused', () => {
  let sim: ApplianceSimulator;
  let pool: SshPool;
  afterEach(async () => {
    expectSoUntouched(sim);
    await pool.close();
    await sim.stop();
  });

  /** A state-changing lunash line without -force, as a misbuilt command would send it. */
  const unforced = (name: string, line: string): LunaCommand<CommandOutcome> => ({ ...lunash.clientDelete('placeholder'), name, line, display: line });

  it('client delete and sysconf regenCert without -force: answered quit, nothing deleted or replaced', async () => {
    sim = await startApplianceSimulator({ hostname: 'hsm1', serial: '573002' });
    pool = new SshPool();
    const cert = await issueCertificate({ commonName: 'app-a.example.internal', dnsNames: ['app-a.example.internal'], keyAlgorithm: 'ECDSAP256' });
    sim.controls.registerClient('app-a', { hostname: 'app-a.example.internal' }, cert.certPem);
    const serverCert = sim.state.serverCert.certPem;
    const a = new Appliance(pool, applianceEndpoint(sim), TIMEOUT);
    const e1 = await rejectionOf(a.run(unforced('client delete', 'client delete -client app-a')));
    expect(e1).toBeInstanceOf(ConfirmationRefusedError);
    expect((e1 as ConfirmationRefusedError).prompt).toMatch(/quit/);
    const e2 = await rejectionOf(a.run(unforced('sysconf regenCert', 'sysconf regenCert')));
    expect(e2).toBeInstanceOf(ConfirmationRefusedError);
    expect(sim.state.clients.has('app-a')).toBe(true);
    expect(sim.state.serverCert.certPem).toBe(serverCert);
    expect(confirmationAnswers(sim.state)).toEqual({ proceed: 0, quit: 2, other: 0 });
    // The facade keeps working on the same connection afterwards.
    expect(await a.clients()).toEqual(['app-a']);
  });
});

describe('who may answer proceed', () => {
  it('only zeroize.ts passes an affirmative answer to runDialog, and only `proceed`', () => {
    const root = fileURLToPath(new URL('../../../src/', import.meta.url));
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.startsWith('sandbox'));
    const affirming = files.filter((f) => /\baffirm\s*:\s*\[/.test(readFileSync(`${root}${f}`, 'utf8')));
    expect(affirming).toEqual(['luna/zeroize.ts']);
    expect(readFileSync(`${root}luna/zeroize.ts`, 'utf8').match(/\baffirm\s*:\s*\[[^\]]*\]/g)).toEqual(["affirm: ['proceed']"]);
  });
});
