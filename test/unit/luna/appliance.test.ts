import { afterEach, describe, expect, it } from 'vitest';
import {
  Appliance,
  InvalidArgumentError,
  LunaCommandError,
  ScpError,
  SshPool,
  lunash,
  type DeviceCommandEvent,
} from '../../../src/luna/index.js';
import { fingerprintMatches, issueCertificate, parseCertificate } from '../../../src/pki/index.js';
import { startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { setLunashForms } from '../../../src/sandbox/luna/lunash-shell.js';
import { applianceEndpoint, expectSoUntouched, rejectionOf } from './support.js';

describe('Appliance facade against the simulator', () => {
  let sim: ApplianceSimulator;
  let pool: SshPool;
  let events: DeviceCommandEvent[];
  afterEach(async () => {
    expectSoUntouched(sim);
    await pool.close();
    await sim.stop();
  });

  async function start(opts: Parameters<typeof startApplianceSimulator>[0] = {}): Promise<Appliance> {
    sim = await startApplianceSimulator({ hostname: 'hsm1', serial: '572413', partitions: [{ label: 'par0' }, { label: 'par1' }], ...opts });
    pool = new SshPool();
    events = [];
    return new Appliance(pool, applianceEndpoint(sim), { onCommand: (e) => events.push(e) });
  }

  it('reads versions, packages (reboot patch), partitions and NTLS binding', async () => {
    const a = await start();
    expect(await a.show()).toMatchObject({ softwareVersion: '7.2.0-220', firmware: '7.0.3', serial: '572413', zeroized: false, soLoginAttemptsLeft: 3 });
    expect((await a.packages()).rebootPatchInstalled).toBe(false);
    sim.controls.setRebootPatch(true);
    expect((await a.packages()).rebootPatchInstalled).toBe(true);
    expect((await a.partitions()).map((p) => p.label)).toEqual(['par0', 'par1']);
    expect(await a.ntls()).toEqual({ boundDevice: 'eth0', ipAddress: '127.0.0.1' });
    expect(await a.clients()).toEqual([]);
  });

  it('reports a zeroized HSM', async () => {
    const a = await start({ zeroized: true });
    expect(await a.show()).toMatchObject({ zeroized: true, partitions: [] });
  });

  it('binds an NTLS client: upload, register, assign; reads it back with matching fingerprints (16, 20, 32 bytes)', async () => {
    for (const digest of ['md5', 'sha1', 'sha256'] as const) {
      const a = await start({ fingerprintDigest: digest });
      const cert = await issueCertificate({ commonName: 'app-a.example.internal', keyAlgorithm: 'ECDSAP256' });
      expect(await a.registerClient('app-a', { hostname: 'app-a.example.internal' }, cert.certPem)).toEqual({ changed: true });
      expect(await a.assignPartition('app-a', 'par0')).toEqual({ changed: true });
      expect(await a.assignPartition('app-a', 'par0')).toEqual({ changed: false });
      expect(await a.client('app-a')).toEqual({ name: 'app-a', hostname: 'app-a.example.internal', partitions: ['par0'] });
      const fp = await a.clientFingerprint('app-a');
      expect(fp?.split(':')).toHaveLength({ md5: 16, sha1: 20, sha256: 32 }[digest]);
      expect(fingerprintMatches(parseCertificate(cert.certPem), fp ?? '')).toBe(true);
      const server = await a.serverCertificate();
      expect(server.facts.sha256).toBe(parseCertificate(sim.state.serverCert.certPem).sha256);
      expect(await rejectionOf(a.registerClient('app-a', { hostname: 'app-a.example.internal' }))).toMatchObject({ kind: 'already-exists' });
      await pool.close();
      await sim.stop();
    }
    // The afterEach stops the last one again: start a fresh one for it.
    await start();
  });

  it('registers by IP, and revoke/delete are idempotent', async () => {
    const a = await start();
    const cert = await issueCertificate({ commonName: '10.1.2.3', ipAddresses: ['10.1.2.3'] });
    await a.registerClient('app-ip', { ip: '10.1.2.3' }, cert.certPem);
    expect(await a.client('app-ip')).toMatchObject({ name: 'app-ip', ip: '10.1.2.3', partitions: [] });
    expect(await a.revokePartition('app-ip', 'par0')).toEqual({ changed: false });
    await a.assignPartition('app-ip', 'par1');
    expect(await a.revokePartition('app-ip', 'par1')).toEqual({ changed: true });
    expect(await a.deleteClient('app-ip')).toEqual({ changed: true });
    expect(await a.deleteClient('app-ip')).toEqual({ changed: false });
    expect(await a.client('app-ip')).toBeUndefined();
    expect(await a.clientFingerprint('app-ip')).toBeUndefined();
  });

  it('sees drift made behind its back', async () => {
    const a = await start();
    const cert = await issueCertificate({ commonName: 'app-a' });
    sim.controls.registerClient('app-a', { hostname: 'app-a' }, cert.certPem, ['par0', 'par1']);
    expect((await a.client('app-a'))?.partitions).toEqual(['par0', 'par1']);
    sim.controls.revokePartition('app-a', 'par1');
    expect((await a.client('app-a'))?.partitions).toEqual(['par0']);
    const other = await issueCertificate({ commonName: 'app-a' });
    sim.controls.deleteClient('app-a');
    sim.controls.registerClient('app-a', { hostname: 'app-a' }, other.certPem);
    expect(fingerprintMatches(parseCertificate(cert.certPem), (await a.clientFingerprint('app-a')) ?? '')).toBe(false);
  });

  it('reads partitions in both documented table layouts, and client names with spaces, as the simulator prints them', async () => {
    const a = await start({ partitions: [{ label: 'par0' }, { label: 'team a keys' }] });
    const want = [
      { label: 'par0', objects: 0, total: 648381, used: 0, free: 648381 },
      { label: 'team a keys', objects: 0, total: 648381, used: 0, free: 648381 },
    ];
    expect(await a.partitions()).toMatchObject(want.map((p) => ({ ...p, version: '0' })));
    setLunashForms(sim.state, { partitionList: 'no-version-column' });
    const noVersion = await a.partitions();
    expect(noVersion).toMatchObject(want);
    expect(noVersion.every((p) => p.version === undefined)).toBe(true);
    const cert = await issueCertificate({ commonName: 'pay01' });
    sim.controls.registerClient('payments web 01', { hostname: 'pay01' }, cert.certPem);
    sim.controls.registerClient('payments', { hostname: 'pay02' }, cert.certPem);
    expect(await a.clients()).toEqual(['payments web 01', 'payments']);
  });

  it('read-only calls issue no state-changing command (steady state)', async () => {
    const a = await start();
    await Promise.all([a.show(), a.packages(), a.partitions(), a.clients(), a.client('nobody'), a.clientFingerprint('nobody'), a.ntls(), a.serverCertificate()]);
    expect(sim.counters.commands.stateChanging).toBe(0);
    expect(events.every((e) => !e.changesState)).toBe(true);
    expect(events.map((e) => e.name).sort()).toEqual(['client fingerprint', 'client list', 'client show', 'hsm show', 'ntls show', 'package list', 'partition list', 'scp download']);
  });

  it('refuses shell metacharacters and bad names before anything is sent', async () => {
    const a = await start();
    const attempts: (() => Promise<unknown>)[] = [
      () => a.client('app-a; hsm zeroize'),
      () => a.client('$(reboot)'),
      () => a.client('a b'),
      () => a.client('-force'),
      () => a.client('"x"'),
      () => a.assignPartition('app-a', 'par0 -client other'),
      () => a.assignPartition('app-a', 'p|x'),
      () => a.registerClient('app-a', { hostname: 'evil;host' }, 'cert'),
      () => a.registerClient('app-a', { ip: '10.0.0.1 -force' }, 'cert'),
      () => a.deleteClient('app\n-a'),
      () => a.uploadFile('../etc/passwd', 'x'),
      () => a.downloadFile('server.pem; ls'),
    ];
    for (const attempt of attempts) expect(await rejectionOf(attempt())).toBeInstanceOf(InvalidArgumentError);
    expect(() => lunash.clientShow('`id`')).toThrow(InvalidArgumentError);
    expect(sim.counters.ssh.connections).toBe(0);
    expect(sim.counters.ssh.execs).toBe(0);
  });

  it('moves files with scp both ways, byte for byte', async () => {
    const a = await start();
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    await a.uploadFile('blob.bin', data);
    expect(sim.state.homes.get('tenantadmin')?.get('blob.bin')?.equals(data)).toBe(true);
    expect((await a.downloadFile('blob.bin')).equals(data)).toBe(true);
    expect(await rejectionOf(a.downloadFile('missing.pem'))).toBeInstanceOf(ScpError);
    expect(sim.counters.commands.byName).toMatchObject({ 'scp upload': 1, 'scp download': 2 });
  });

  it('understands abbreviations the way lunash does', async () => {
    await start();
    const ep = applianceEndpoint(sim);
    expect(lunash.partitionList().parse((await pool.exec(ep, 'par list')).stdout)).toHaveLength(2);
    const err = await rejectionOf(Promise.resolve().then(async () => lunash.clientShow('x').parse((await pool.exec(ep, 'client show -c x')).stdout)));
    expect(err).toBeInstanceOf(LunaCommandError);
    expect(err).toMatchObject({ code: 'C000040A', codeName: 'RC_OBJECT_NOT_IN_LIST' });
  });

  it('asks for confirmation without -force, and sysconf regenCert replaces server.pem', async () => {
    const a = await start();
    const ep = applianceEndpoint(sim);
    const cert = await issueCertificate({ commonName: 'app-a' });
    sim.controls.registerClient('app-a', { hostname: 'app-a' }, cert.certPem);
    const aborted = await pool.exec(ep, 'client delete -client app-a', { stdin: 'quit\n' });
    // The documented form: the sentence, then a bare `>` prompt on its own line (test/fixtures/luna/lunash-confirmation).
    expect(aborted.stdout).toMatch(/Type 'proceed' to continue, or 'quit' to quit now\.\n\n> \nCommand Aborted\./);
    expect(aborted.stdout).toContain('Command Aborted.');
    expect(await a.clients()).toEqual(['app-a']);
    const done = await pool.exec(ep, 'client delete -client app-a', { stdin: 'proceed\n' });
    expect(lunash.clientDelete('app-a').parse(done.stdout)).toEqual({ changed: true });
    expect(await a.clients()).toEqual([]);

    const before = (await a.serverCertificate()).facts.sha256;
    expect(await a.run(lunash.sysconfRegenCert())).toEqual({ changed: true });
    expect((await a.serverCertificate()).facts.sha256).not.toBe(before);
  });
});
