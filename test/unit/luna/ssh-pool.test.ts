import { afterEach, describe, expect, it } from 'vitest';
import { Appliance, HostKeyMismatchError, SshCommandTimeoutError, SshConnectionError, SshConnectionLostError, SshPool, type HostKeyEvent } from '../../../src/luna/index.js';
import { generateSshKeyPair, startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { applianceEndpoint, expectSoUntouched, rejectionOf } from './support.js';
import { waitFor } from '../../support/wait.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: Parameters<typeof startApplianceSimulator>[0] = {}, poolOpts: ConstructorParameters<typeof SshPool>[0] = {}): Promise<{ sim: ApplianceSimulator; pool: SshPool }> {
  const sim = await startApplianceSimulator({ hostname: 'hsm1', serial: '572413', ...opts });
  const pool = new SshPool({ backoffInitialMs: 20, ...poolOpts });
  cleanups.push(
    async () => {
      expectSoUntouched(sim);
      await sim.stop();
    },
    () => pool.close(),
  );
  return { sim, pool };
}

describe('SshPool', () => {
  it('multiplexes concurrent commands over ONE connection, at most 4 channels at a time', async () => {
    const { sim, pool } = await setup({ latencyMs: 40 });
    const ep = applianceEndpoint(sim);
    const results = await Promise.all(Array.from({ length: 12 }, () => pool.exec(ep, 'hsm show')));
    expect(results.every((r) => r.stdout.includes('Serial #:                           572413'))).toBe(true);
    expect(sim.counters.ssh.connections).toBe(1);
    expect(sim.counters.ssh.sshLogins).toEqual({ success: 1, failure: 0 });
    expect(pool.counters()).toMatchObject({ connectionsOpened: 1, commandsRun: 12, maxOpenChannels: 4 });
    expect(sim.counters.ssh.maxOpenChannels).toBeLessThanOrEqual(4);
    expect(pool.counters().queued).toBeGreaterThan(0);
  });

  it("an endpoint's maxChannels (the DedicatedHsm's spec.appliance.maxChannels) caps its channels below the pool's; raised again, it is used", async () => {
    const { sim, pool } = await setup({ latencyMs: 30 });
    const ep = { ...applianceEndpoint(sim), maxChannels: 2 };
    await Promise.all(Array.from({ length: 8 }, () => pool.exec(ep, 'hsm show')));
    expect(sim.counters.ssh.maxOpenChannels).toBe(2);
    expect(pool.counters()).toMatchObject({ connectionsOpened: 1, commandsRun: 8, maxOpenChannels: 2 });
    await Promise.all(Array.from({ length: 8 }, () => pool.exec({ ...ep, maxChannels: 3 }, 'hsm show')));
    expect(sim.counters.ssh.maxOpenChannels).toBe(3);
    expect(sim.counters.ssh.connections).toBe(1);
  });

  it('serves queued commands in arrival order', async () => {
    const { sim, pool } = await setup({ latencyMs: 30 }, { maxChannelsPerHost: 1 });
    const ep = applianceEndpoint(sim);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 5 }, (_, i) => pool.exec(ep, 'client list').then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('re-establishes a dropped connection', async () => {
    const { sim, pool } = await setup();
    const ep = applianceEndpoint(sim);
    await pool.exec(ep, 'client list');
    sim.controls.dropConnections();
    await waitFor('the pool to notice the drop', () => pool.counters().connectionsClosed === 1, 5_000, 10);
    expect((await pool.exec(ep, 'client list')).stdout).toContain('No clients are registered.');
    expect(sim.counters.ssh.connections).toBe(2);
    expect(pool.counters().connectionsOpened).toBe(2);
  });

  it('a connection dropped mid-command: read-only commands are retried once, state-changing ones are not', async () => {
    const { sim, pool } = await setup();
    const appliance = new Appliance(pool, applianceEndpoint(sim));
    await appliance.clients();
    sim.controls.dropNextCommand('mid');
    expect((await appliance.show()).serial).toBe('572413');
    expect(sim.counters.commands.byName['hsm show']).toBe(2);

    sim.controls.dropNextCommand('mid');
    expect(await rejectionOf(pool.exec(applianceEndpoint(sim), 'partition list'))).toBeInstanceOf(SshConnectionLostError);

    sim.controls.dropNextCommand('before');
    expect(await rejectionOf(appliance.deleteClient('app-a'))).toBeInstanceOf(SshConnectionLostError);
    expect(sim.counters.commands.byName['client delete']).toBeUndefined();
    // Three commands dropped mid-way or before they ran, each counted once.
    expect(pool.counters().commandsDropped).toBe(3);
  });

  it('refuses a changed host key, reports it, and sends nothing more to that host until the pin changes', async () => {
    const events: HostKeyEvent[] = [];
    const { sim, pool } = await setup({}, { onHostKey: (e) => events.push(e) });
    const pinned = sim.hostKeyFingerprint;
    const ep = applianceEndpoint(sim);
    await pool.exec(ep, 'hsm show');
    const seen = sim.controls.changeHostKey();
    const err = await rejectionOf(pool.exec(ep, 'hsm show'));
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err).toMatchObject({ expected: pinned, seen, host: sim.host, port: sim.port });
    expect((err as Error).message).not.toContain('PASSWORD');
    expect(events.at(-1)).toMatchObject({ outcome: 'mismatch', expected: pinned, fingerprint: seen });
    expect(pool.blockedHosts()).toMatchObject([{ host: sim.host, port: sim.port, expected: pinned, seen }]);

    const connections = sim.counters.ssh.connections;
    const execs = sim.counters.ssh.execs;
    for (let i = 0; i < 5; i++) expect(await rejectionOf(pool.exec(ep, 'client list'))).toBeInstanceOf(HostKeyMismatchError);
    // Another user on the same host is refused too.
    expect(await rejectionOf(pool.exec({ ...ep, username: 'admin' }, 'client list'))).toBeInstanceOf(HostKeyMismatchError);
    expect(sim.counters.ssh.connections).toBe(connections);
    expect(sim.counters.ssh.execs).toBe(execs);
    expect(sim.counters.ssh.sshLogins.success).toBe(1);

    // A human updates the pin (written with base64 padding, as some tools print it): traffic resumes.
    expect((await pool.exec({ ...ep, hostKey: { pinned: ` ${seen}= ` } }, 'client list')).stdout).toContain('No clients');
    expect(pool.blockedHosts()).toEqual([]);
  });

  it('trusts on first use only when asked, and records what it saw', async () => {
    const events: HostKeyEvent[] = [];
    const { sim, pool } = await setup({}, { onHostKey: (e) => events.push(e) });
    const ep = applianceEndpoint(sim, { hostKey: { trustOnFirstUse: true } });
    const r = await pool.exec(ep, 'hsm show');
    expect(r.hostKeyFingerprint).toBe(sim.hostKeyFingerprint);
    expect(pool.observedHostKey(sim.host, sim.port)).toBe(sim.hostKeyFingerprint);
    expect(events).toEqual([{ host: sim.host, port: sim.port, fingerprint: sim.hostKeyFingerprint, outcome: 'trusted-on-first-use' }]);
    sim.controls.changeHostKey();
    expect(await rejectionOf(pool.exec(ep, 'hsm show'))).toBeInstanceOf(HostKeyMismatchError);
  });

  it('a timeout closes the channel: no channel leaks and the connection keeps serving', async () => {
    const { sim, pool } = await setup({}, { commandTimeoutMs: 100 });
    sim.controls.setLatency(2_000, 'hsm show');
    const ep = applianceEndpoint(sim);
    const errors = await Promise.all(Array.from({ length: 6 }, () => rejectionOf(pool.exec(ep, 'hsm show'))));
    for (const e of errors) expect(e).toBeInstanceOf(SshCommandTimeoutError);
    await waitFor('channels to close', () => pool.counters().openChannels === 0 && sim.counters.ssh.openChannels === 0, 5_000, 10);
    expect(pool.counters().commandsTimedOut).toBe(6);
    expect((await pool.exec(ep, 'client list', { timeoutMs: 10_000 })).stdout).toContain('No clients');
    expect(pool.counters().connectionsOpened).toBe(1);
  });

  it('a timed-out command whose peer confirms the close only when the command ends costs only its own channel', async () => {
    const { sim, pool } = await setup({}, { closeGraceMs: 100 });
    sim.controls.closeChannelsOnlyWhenCommandsEnd(true);
    sim.controls.setLatency(1_500, 'client list');
    sim.controls.setLatency(600, 'hsm show');
    const ep = applianceEndpoint(sim);
    const slow = rejectionOf(pool.exec(ep, 'client list', { timeoutMs: 100 }));
    // Read-only, so a dropped connection would run them again: each must run exactly once.
    const reads = Promise.all([pool.exec(ep, 'hsm show', { retryOnDrop: true }), pool.exec(ep, 'hsm show', { retryOnDrop: true })]);
    expect(await slow).toBeInstanceOf(SshCommandTimeoutError);
    for (const r of await reads) expect(r.stdout).toContain('Serial #');
    expect(sim.counters.commands.byName['hsm show']).toBe(2);
    expect(pool.counters().commandsDropped).toBe(0);
    // New work goes to a new connection while the old one waits for its command; then the old one is closed.
    expect((await pool.exec(ep, 'hsm show')).stdout).toContain('Serial #');
    await waitFor('the retired connection to close', () => pool.counters().connectionsClosed === 1 && sim.counters.ssh.openChannels === 0, 5_000, 10);
    expect(pool.counters().connectionsOpened).toBe(2);
  });

  it('closes idle connections and reconnects on demand', async () => {
    const { sim, pool } = await setup({}, { idleCloseMs: 50 });
    const ep = applianceEndpoint(sim);
    await pool.exec(ep, 'client list');
    await waitFor('idle close', () => pool.counters().connectionsClosed === 1, 5_000, 10);
    await pool.exec(ep, 'client list');
    expect(sim.counters.ssh.connections).toBe(2);
  });

  it('reconnects with backoff while the appliance is down, and fails with a connection error when it stays down', async () => {
    const { sim, pool } = await setup({}, { connectAttempts: 3 });
    const ep = applianceEndpoint(sim);
    await pool.exec(ep, 'client list');
    await sim.controls.down();
    const err = await rejectionOf(pool.exec(ep, 'client list'));
    expect(err).toBeInstanceOf(SshConnectionError);
    expect(pool.counters().connectionAttempts).toBe(4);
    await sim.controls.up();
    expect((await pool.exec(ep, 'client list')).stdout).toContain('No clients');
  });

  it('authenticates with a private key', async () => {
    const keys = generateSshKeyPair();
    const { sim, pool } = await setup({ publicKeys: [keys.public] });
    const ep = applianceEndpoint(sim);
    const r = await pool.exec({ ...ep, credential: { privateKey: keys.private, secret: ep.credential.secret } }, 'hsm show');
    expect(r.stdout).toContain('572413');
    expect(sim.counters.ssh.sshLogins).toEqual({ success: 1, failure: 0 });
  });
});
