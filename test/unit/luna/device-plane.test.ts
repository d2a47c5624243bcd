/**
 * The real device plane (SshDevicePlane over the SSH pool) honours the reconcile's AbortSignal, proven at the
 * in-process simulators: an aborted signal sends nothing, an abort ends a command in flight the way a timeout does,
 * and a zeroize aborted between logins spends no further HSM SO login.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceAbortedError, SshDevicePlane, SshPool, type DeviceCommandEvent, type SshPoolOptions } from '../../../src/luna/index.js';
import { issueCertificate } from '../../../src/pki/index.js';
import { startApplianceSimulator, startLunaCmSimulator, type ApplianceSimulator, type ApplianceSimulatorOptions } from '../../../src/sandbox/luna/index.js';
import { waitFor } from '../../support/wait.js';
import { applianceEndpoint, expectSoUntouched, lunacmEndpoint, rejectionOf } from './support.js';

const CONFIRM = 'zeroize-hsm-and-destroy-all-key-material' as const;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: ApplianceSimulatorOptions = {}, poolOpts: SshPoolOptions = {}): Promise<{ sim: ApplianceSimulator; pool: SshPool; plane: SshDevicePlane }> {
  const sim = await startApplianceSimulator({ hostname: 'hsm1', serial: '572413', ...opts });
  const pool = new SshPool({ backoffInitialMs: 20, ...poolOpts });
  cleanups.push(
    () => sim.stop(),
    () => pool.close(),
  );
  return { sim, pool, plane: new SshDevicePlane(pool) };
}

function aborted(): AbortSignal {
  const c = new AbortController();
  c.abort();
  return c.signal;
}

/** A TCP server that accepts and then says nothing (a handshake that never completes); counts connections and closes. */
async function silentServer(): Promise<{ server: Server; port: number; accepted: number; closed: number; sockets: Socket[] }> {
  const state = { server: createServer(), port: 0, accepted: 0, closed: 0, sockets: [] as Socket[] };
  state.server.on('connection', (s) => {
    state.accepted++;
    state.sockets.push(s);
    s.on('error', () => undefined);
    s.on('close', () => state.closed++);
    // Read (and ignore) what the client sends, so its end is seen.
    s.resume();
  });
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  state.port = (state.server.address() as { port: number }).port;
  cleanups.push(async () => {
    for (const s of state.sockets) s.destroy();
    await new Promise<void>((r) => state.server.close(() => r()));
  });
  return state;
}

describe('SshDevicePlane and AbortSignal', () => {
  it('an aborted signal sends nothing: no connection, no command, no probe socket', async () => {
    const { sim, pool, plane } = await setup();
    const ep = applianceEndpoint(sim);
    const signal = aborted();
    const events: DeviceCommandEvent[] = [];
    const appliance = plane.appliance(ep, { signal, onCommand: (e) => events.push(e) });
    for (const call of [() => appliance.show(), () => appliance.clients(), () => appliance.serverCertificate(), () => appliance.uploadFile('a.pem', 'x'), () => appliance.deleteClient('c1')]) {
      const e = await rejectionOf(call());
      expect(e).toBeInstanceOf(DeviceAbortedError);
      expect((e as DeviceAbortedError).inFlight).toBe(false);
    }
    expect(await rejectionOf(plane.zeroize(ep, { confirm: CONFIRM, hsmSerial: '572413' }, { signal }))).toBeInstanceOf(DeviceAbortedError);

    const cm = await startLunaCmSimulator({ appliances: [sim] });
    cleanups.push(() => cm.stop());
    expect(await rejectionOf(plane.lunaCm(lunacmEndpoint(cm), { signal }).listGroups())).toBeInstanceOf(DeviceAbortedError);

    const silent = await silentServer();
    expect(await rejectionOf(plane.probeTcp({ host: '127.0.0.1', port: silent.port }, 1_000, { signal }))).toBeInstanceOf(DeviceAbortedError);
    const cert = await issueCertificate({ commonName: 'client', keyAlgorithm: 'ECDSAP256' });
    const probe = { host: '127.0.0.1', port: silent.port, serverCertPem: sim.state.serverCert.certPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem, timeoutMs: 1_000 };
    expect(await rejectionOf(plane.probeNtls({ ...probe, signal }))).toBeInstanceOf(DeviceAbortedError);

    // Nothing reached either simulator, nor the probes' port; no event announced a command that was not sent.
    expect(events).toEqual([]);
    expect(pool.counters().connectionAttempts).toBe(0);
    expect(sim.counters.ssh.connections).toBe(0);
    expect(sim.counters.commands.byName).toEqual({});
    expect(cm.counters.ssh.connections).toBe(0);
    expect(silent.accepted).toBe(0);
    expectSoUntouched(sim);
  });

  it('an abort while a command waits for a slot leaves the queue: that command is never sent', async () => {
    const { sim, plane } = await setup({}, { maxChannelsPerHost: 1 });
    sim.controls.setLatency(400, 'hsm show');
    const ep = applianceEndpoint(sim);
    const first = plane.appliance(ep).show();
    await waitFor('the first command to run', () => sim.counters.ssh.openChannels === 1, 5_000, 10);
    const c = new AbortController();
    const queued = rejectionOf(plane.appliance(ep, { signal: c.signal }).clients());
    c.abort();
    const e = await queued;
    expect(e).toBeInstanceOf(DeviceAbortedError);
    expect((e as DeviceAbortedError).inFlight).toBe(false);
    expect((await first).serial).toBe('572413');
    expect(sim.counters.commands.byName['client list']).toBeUndefined();
  });

  it('an abort during a slow command closes its channel as a timeout does: the peer that confirms late gets the connection retired', async () => {
    const { sim, pool, plane } = await setup({}, { closeGraceMs: 100 });
    sim.controls.closeChannelsOnlyWhenCommandsEnd(true);
    sim.controls.setLatency(1_500, 'client list');
    const ep = applianceEndpoint(sim);
    const c = new AbortController();
    const slow = rejectionOf(plane.appliance(ep, { signal: c.signal }).clients());
    await waitFor('the slow command to run', () => sim.counters.ssh.openChannels === 1, 5_000, 10);
    const started = Date.now();
    c.abort();
    const e = await slow;
    expect(e).toBeInstanceOf(DeviceAbortedError);
    expect((e as DeviceAbortedError).inFlight).toBe(true);
    // Ended by the abort, not by the command (1.5 s) nor the pool's 30 s timeout.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(pool.counters().commandsAborted).toBe(1);
    expect(pool.counters().commandsTimedOut).toBe(0);
    // Past the close grace the connection is retired: new work goes to a new connection while the retired one waits
    // for its command; then the old one closes.
    await new Promise((r) => setTimeout(r, 300));
    expect((await plane.appliance(ep).show()).serial).toBe('572413');
    expect(pool.counters().connectionsOpened).toBe(2);
    await waitFor('the retired connection to close', () => pool.counters().connectionsClosed === 1 && sim.counters.ssh.openChannels === 0, 5_000, 10);
    // Aborted, never run again (read-only commands are retried on a dropped connection; an abort is not a drop).
    expect(sim.counters.commands.byName['client list'] ?? 0).toBeLessThanOrEqual(1);
  });

  it('an abort during a slow command on a peer that confirms the close at once costs only its channel', async () => {
    const { sim, pool, plane } = await setup();
    sim.controls.setLatency(1_500, 'client list');
    const ep = applianceEndpoint(sim);
    const c = new AbortController();
    const slow = rejectionOf(plane.appliance(ep, { signal: c.signal }).clients());
    await waitFor('the slow command to run', () => sim.counters.ssh.openChannels === 1, 5_000, 10);
    c.abort();
    expect(await slow).toBeInstanceOf(DeviceAbortedError);
    await waitFor('the channel to close', () => pool.counters().openChannels === 0 && sim.counters.ssh.openChannels === 0, 5_000, 10);
    expect((await plane.appliance(ep).show()).serial).toBe('572413');
    expect(pool.counters().connectionsOpened).toBe(1);
    // The simulator runs no command whose channel closed during its latency.
    expect(sim.counters.commands.byName['client list']).toBeUndefined();
  });

  it('a zeroize aborted between logins spends no further HSM SO login and is not continued', async () => {
    const { sim, plane } = await setup({ partitions: [{ label: 'par0' }] });
    const ep = applianceEndpoint(sim);
    const c = new AbortController();
    const events: string[] = [];
    const onCommand = (e: DeviceCommandEvent): void => {
      events.push(e.name);
      // The second `hsm show` comes right after the first failed login: the abort lands between two logins.
      if (e.name === 'hsm show' && events.filter((n) => n === 'hsm show').length === 2) c.abort();
    };
    const e = await rejectionOf(plane.zeroize(ep, { confirm: CONFIRM, hsmSerial: '572413' }, { signal: c.signal, onCommand }));
    expect(e).toBeInstanceOf(DeviceAbortedError);
    expect(sim.counters.hsmLogins).toEqual({ success: 0, failure: 1 });
    expect(sim.counters.commands.byName['hsm login']).toBe(1);
    expect(sim.state.soAttemptsLeft).toBe(2);
    expect(sim.state.zeroized).toBe(false);
    expect(sim.state.partitions).toHaveLength(1);
    // Nothing goes on after the abort, whatever time passes.
    await new Promise((r) => setTimeout(r, 200));
    expect(sim.counters.hsmLogins.failure).toBe(1);
    expect(events).toEqual(['hsm show', 'hsm login', 'hsm show']);
  });

  it('a zeroize aborted during an hsm login stops there: the login channel is closed, no other login follows', async () => {
    const { sim, plane } = await setup({ partitions: [{ label: 'par0' }] });
    sim.controls.setLatency(1_000, 'hsm login');
    const ep = applianceEndpoint(sim);
    const c = new AbortController();
    const z = rejectionOf(plane.zeroize(ep, { confirm: CONFIRM, hsmSerial: '572413' }, { signal: c.signal }));
    await waitFor('the hsm login channel to open', () => sim.counters.ssh.execs === 2, 5_000, 10);
    c.abort();
    const e = await z;
    expect(e).toBeInstanceOf(DeviceAbortedError);
    expect((e as DeviceAbortedError).inFlight).toBe(true);
    await new Promise((r) => setTimeout(r, 1_200));
    // The login never reached the HSM (its channel closed before the appliance read a password), and none followed.
    expect(sim.counters.hsmLogins).toEqual({ success: 0, failure: 0 });
    expect(sim.state.soAttemptsLeft).toBe(3);
    expect(sim.counters.ssh.execs).toBe(2);
  });

  it('an abort during an NTLS handshake destroys the probe socket', async () => {
    const { sim, plane } = await setup();
    const silent = await silentServer();
    const cert = await issueCertificate({ commonName: 'client', keyAlgorithm: 'ECDSAP256' });
    const c = new AbortController();
    const probe = rejectionOf(
      plane.probeNtls({ host: '127.0.0.1', port: silent.port, serverCertPem: sim.state.serverCert.certPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem, timeoutMs: 10_000, signal: c.signal }),
    );
    await waitFor('the probe to connect', () => silent.accepted === 1, 5_000, 10);
    c.abort();
    const e = await probe;
    expect(e).toBeInstanceOf(DeviceAbortedError);
    expect((e as DeviceAbortedError).inFlight).toBe(true);
    await waitFor('the probe socket to close', () => silent.closed === 1, 5_000, 10);
  });
});
