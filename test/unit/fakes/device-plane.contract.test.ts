/**
 * One contract, two device planes: the in-memory FakeDevicePlane (test/support/fakes) and the real SshDevicePlane
 * over the SSH pool against the appliance and LunaCM simulators. The same cases run against both, so a reconciler test
 * over the fake sees what the operator would see over SSH.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationRejectedError,
  CredentialRefusedError,
  DeviceAbortedError,
  HostKeyMismatchError,
  LunaCommandError,
  SshDevicePlane,
  SshPool,
  ZeroizeNotConfirmedError,
  type DevicePlane,
  type SshEndpoint,
} from '../../../src/luna/index.js';
import { digestHex, issueCertificate, parseCertificate } from '../../../src/pki/index.js';
import { startApplianceSimulator, startLunaCmSimulator } from '../../../src/sandbox/luna/index.js';
import { FakeDevicePlane } from '../../support/fakes/device-plane.js';

const CONFIRM = 'zeroize-hsm-and-destroy-all-key-material' as const;
const SERIAL = '572413';

interface DeviceWorld {
  plane: DevicePlane;
  /** The appliance (hsm1, serial 572413, partition par0 = 1001 in domain-a, par1 = 1002 in domain-b). */
  appliance: SshEndpoint;
  /** The LunaCM client host that sees the appliance's partitions. */
  lunacm: SshEndpoint;
  ntls: { host: string; port: number };
  serverCertPem(): string;
  hostKey(): string;
  changeHostKey(): string;
  hsmLogins(): { success: number; failure: number };
  sshLoginFailures(): number;
  commands(name: string): number;
  stop(): Promise<void>;
}

const partitions = [
  { label: 'par0', serial: '1001' },
  { label: 'par1', serial: '1002', cloningDomain: 'domain-b' },
];

const endpointOf = (host: string, port: number, username: string, hostKey: string, role: SshEndpoint['role'], password: string, uid: string): SshEndpoint => ({
  host,
  port,
  username,
  credential: { password, secret: { uid, resourceVersion: '1', name: `hsm-system/${uid}` } },
  hostKey: { pinned: hostKey },
  role,
});

async function simulatorWorld(): Promise<DeviceWorld> {
  const sim = await startApplianceSimulator({ hostname: 'hsm1', serial: SERIAL, partitions });
  const cm = await startLunaCmSimulator({ appliances: [sim] });
  const pool = new SshPool({ backoffInitialMs: 20 });
  return {
    plane: new SshDevicePlane(pool),
    appliance: endpointOf(sim.host, sim.port, sim.username, sim.hostKeyFingerprint, 'appliance-ssh', 'PASSWORD', 'appliance-secret'),
    lunacm: endpointOf(cm.host, cm.port, cm.username, cm.hostKeyFingerprint, 'lunacm-ssh', 'lunacm-password', 'lunacm-secret'),
    ntls: { host: sim.host, port: sim.ntlsPort },
    serverCertPem: () => sim.state.serverCert.certPem,
    hostKey: () => sim.hostKeyFingerprint,
    changeHostKey: () => sim.controls.changeHostKey(),
    hsmLogins: () => ({ ...sim.counters.hsmLogins }),
    sshLoginFailures: () => sim.counters.ssh.sshLogins.failure,
    commands: (name) => sim.counters.commands.byName[name] ?? cm.counters.commands.byName[name] ?? 0,
    async stop() {
      await pool.close();
      await cm.stop();
      await sim.stop();
    },
  };
}

async function fakeWorld(): Promise<DeviceWorld> {
  const plane = new FakeDevicePlane();
  const a = await plane.addAppliance({ host: '10.0.2.4', hostname: 'hsm1', serial: SERIAL, partitions });
  const cm = plane.addLunaCm({ host: '10.0.9.9' });
  return {
    plane,
    appliance: endpointOf(a.host, a.port, a.username, a.hostKey, 'appliance-ssh', 'PASSWORD', 'appliance-secret'),
    lunacm: endpointOf(cm.host, cm.port, cm.username, cm.hostKey, 'lunacm-ssh', 'lunacm-password', 'lunacm-secret'),
    ntls: { host: a.host, port: a.ntlsPort },
    serverCertPem: () => a.serverCertPem,
    hostKey: () => a.hostKey,
    changeHostKey: () => a.changeHostKey(),
    hsmLogins: () => ({ ...a.counters.hsmLogins }),
    sshLoginFailures: () => a.counters.sshLogins.failure,
    commands: (name) => a.counters.commands.byName[name] ?? cm.counters.commands.byName[name] ?? 0,
    stop: async () => undefined,
  };
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe.each([
  ['FakeDevicePlane (in memory)', fakeWorld],
  ['SshDevicePlane + simulators', simulatorWorld],
])('device plane contract: %s', (_name, start) => {
  let w: DeviceWorld;
  afterEach(async () => {
    await w.stop();
  });

  it('reads hsm show, packages, partitions and ntls show as the parsers read the appliance', async () => {
    w = await start();
    const a = w.plane.appliance(w.appliance);
    expect(await a.show()).toEqual({
      softwareVersion: '7.2.0-220',
      label: 'hsm1',
      serial: SERIAL,
      firmware: '7.0.3',
      model: 'Luna K7',
      authenticationMethod: 'Password',
      adminLoggedIn: false,
      zeroized: false,
      soLoginAttemptsLeft: 3,
      partitions: [
        { serial: '1001', label: 'par0' },
        { serial: '1002', label: 'par1' },
      ],
    });
    expect(await a.packages()).toEqual({
      packages: [
        { name: 'lunasa', version: '7.2.0', release: '220' },
        { name: 'lunasa-firmware', version: '7.0.3', release: '1' },
        { name: 'lunasa-ntls', version: '7.2.0', release: '220' },
      ],
      rebootPatchInstalled: false,
    });
    expect(await a.partitions()).toEqual([
      { serial: '1001', label: 'par0', version: '0', objects: 0, total: 648381, used: 0, free: 648381 },
      { serial: '1002', label: 'par1', version: '0', objects: 0, total: 648381, used: 0, free: 648381 },
    ]);
    expect((await a.ntls()).boundDevice).toBe('eth0');
    expect(await a.clients()).toEqual([]);
    expect(w.commands('hsm show')).toBe(1);
  });

  it('registers, shows, fingerprints, assigns and deletes a client, with the errors the appliance gives', async () => {
    w = await start();
    const a = w.plane.appliance(w.appliance);
    const cert = await issueCertificate({ commonName: 'app1.example', keyAlgorithm: 'ECDSAP256' });
    expect(await a.registerClient('app1', { hostname: 'app1.example' }, cert.certPem)).toEqual({ changed: true });
    expect(await a.registerClient('app2', { ip: '10.1.1.1' }, cert.certPem)).toEqual({ changed: true });
    expect(await a.clients()).toEqual(['app1', 'app2']);
    expect(await a.client('app1')).toEqual({ name: 'app1', hostname: 'app1.example', partitions: [] });
    expect(await a.client('app2')).toEqual({ name: 'app2', ip: '10.1.1.1', hostname: '10.1.1.1', partitions: [] });
    expect(await a.clientFingerprint('app1')).toBe(digestHex(parseCertificate(cert.certPem).der, 'md5'));

    expect(await a.assignPartition('app1', 'par0')).toEqual({ changed: true });
    expect(await a.assignPartition('app1', 'par0')).toEqual({ changed: false });
    expect((await a.client('app1'))?.partitions).toEqual(['par0']);
    expect(await a.revokePartition('app1', 'par1')).toEqual({ changed: false });
    expect(await a.revokePartition('app1', 'par0')).toEqual({ changed: true });

    const dup = await rejectionOf(a.registerClient('app1', { hostname: 'app1.example' }, cert.certPem));
    expect(dup).toBeInstanceOf(LunaCommandError);
    expect(dup).toMatchObject({ command: 'client register', code: 'C0000404', codeName: 'RC_OBJECT_ALREADY_EXISTS', kind: 'already-exists' });
    const sameIp = await rejectionOf(a.registerClient('app3', { ip: '10.1.1.1' }, cert.certPem));
    expect(sameIp).toMatchObject({ command: 'client register', kind: 'already-exists', details: ['A client with the same IP address has already been registered.'] });
    expect(await rejectionOf(a.assignPartition('nobody', 'par0'))).toMatchObject({ kind: 'not-found', details: ['Specified client does not exist.'] });
    expect(await rejectionOf(a.assignPartition('app1', 'parX'))).toMatchObject({ kind: 'not-found', details: ['Specified partition does not exist.'] });

    expect(await a.deleteClient('app1')).toEqual({ changed: true });
    expect(await a.deleteClient('app1')).toEqual({ changed: false });
    expect(await a.client('app1')).toBeUndefined();
    expect(await a.clientFingerprint('app1')).toBeUndefined();
    // Every command that reached the appliance is counted, failures included.
    expect(w.commands('client register')).toBe(4);
    expect(w.commands('scp upload')).toBe(4);
    expect(w.commands('client delete')).toBe(2);
  });

  it('hands out server.pem as the NTLS server certificate, and the NTLS handshake trusts exactly the registered client', async () => {
    w = await start();
    const a = w.plane.appliance(w.appliance);
    const server = await a.serverCertificate();
    expect(server.pem).toBe(w.serverCertPem());
    expect(server.facts.sha256).toBe(parseCertificate(w.serverCertPem()).sha256);

    const cert = await issueCertificate({ commonName: 'app1.example', keyAlgorithm: 'ECDSAP256' });
    const probe = { ...w.ntls, serverCertPem: server.pem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem, timeoutMs: 5_000 };
    expect(await w.plane.probeNtls(probe)).toMatchObject({ ok: false, reason: 'client-not-trusted' });
    await a.registerClient('app1', { hostname: 'app1.example' }, cert.certPem);
    expect(await w.plane.probeNtls(probe)).toEqual({ ok: true, protocol: 'TLSv1.2', serverFingerprint: server.facts.sha256 });
    const other = await issueCertificate({ commonName: 'other', keyAlgorithm: 'ECDSAP256' });
    expect(await w.plane.probeNtls({ ...probe, serverCertPem: other.certPem })).toMatchObject({ ok: false, reason: 'server-not-trusted' });
    expect(await w.plane.probeTcp(w.ntls, 2_000)).toEqual({ ok: true });
  });

  it('zeroizes only with the confirmation naming the serial, counting exactly three failed HSM SO logins', async () => {
    w = await start();
    const showsBefore = w.commands('hsm show');
    expect(await rejectionOf(w.plane.zeroize(w.appliance, { confirm: CONFIRM, hsmSerial: '999999' }))).toBeInstanceOf(ZeroizeNotConfirmedError);
    expect(await rejectionOf(w.plane.zeroize(w.appliance, { confirm: 'yes', hsmSerial: SERIAL } as unknown as Parameters<DevicePlane['zeroize']>[1]))).toBeInstanceOf(ZeroizeNotConfirmedError);
    expect(w.commands('hsm login')).toBe(0);

    expect(await w.plane.zeroize(w.appliance, { confirm: CONFIRM, hsmSerial: SERIAL })).toEqual({ serial: SERIAL, failedLogins: 3, zeroized: true });
    expect(w.hsmLogins()).toEqual({ success: 0, failure: 3 });
    expect(w.commands('hsm login')).toBe(3);
    // One refused for its serial, then a fresh hsm show before each of the three logins and one after the last.
    expect(w.commands('hsm show') - showsBefore).toBe(5);
    const after = await w.plane.appliance(w.appliance).show();
    expect(after).toMatchObject({ serial: SERIAL, zeroized: true, partitions: [] });
    expect(after.soLoginAttemptsLeft).toBeUndefined();
    // Already zeroized: nothing more is spent.
    expect(await w.plane.zeroize(w.appliance, { confirm: CONFIRM, hsmSerial: SERIAL })).toEqual({ serial: SERIAL, failedLogins: 0, zeroized: true });
    expect(w.hsmLogins().failure).toBe(3);
  });

  it('sends a wrong SSH password once, then refuses it until the Secret changes', async () => {
    w = await start();
    const wrong: SshEndpoint = { ...w.appliance, credential: { password: 'WRONG', secret: { uid: 'other-secret', resourceVersion: '1', name: 'hsm-system/other' } } };
    expect(await rejectionOf(w.plane.appliance(wrong).show())).toBeInstanceOf(AuthenticationRejectedError);
    expect(await rejectionOf(w.plane.appliance(wrong).show())).toBeInstanceOf(CredentialRefusedError);
    expect(w.sshLoginFailures()).toBe(1);
    expect((await w.plane.appliance(w.appliance).show()).serial).toBe(SERIAL);
  });

  it('pins host keys: a changed key stops traffic until the pin changes; trust on first use records the key', async () => {
    w = await start();
    const tofu: SshEndpoint = { ...w.appliance, hostKey: { trustOnFirstUse: true } };
    expect((await w.plane.appliance(tofu).show()).serial).toBe(SERIAL);
    expect(w.plane.observedHostKey(w.appliance.host, w.appliance.port)).toBe(w.hostKey());
    const fresh = w.changeHostKey();
    expect(await rejectionOf(w.plane.appliance(w.appliance).show())).toBeInstanceOf(HostKeyMismatchError);
    expect(await rejectionOf(w.plane.appliance(w.appliance).show())).toBeInstanceOf(HostKeyMismatchError);
    expect((await w.plane.appliance({ ...w.appliance, hostKey: { pinned: fresh } }).show()).serial).toBe(SERIAL);
  });

  it('sends nothing once the signal has fired: no login, no command, no zeroize step', async () => {
    w = await start();
    const c = new AbortController();
    c.abort();
    for (const call of [
      () => w.plane.appliance(w.appliance, { signal: c.signal }).show(),
      () => w.plane.appliance(w.appliance, { signal: c.signal }).registerClient('app1', { hostname: 'app1.example' }, 'x'),
      () => w.plane.lunaCm(w.lunacm, { signal: c.signal }).listGroups(),
      () => w.plane.zeroize(w.appliance, { confirm: CONFIRM, hsmSerial: SERIAL }, { signal: c.signal }),
      () => w.plane.probeTcp(w.ntls, 1_000, { signal: c.signal }),
    ]) {
      const e = await rejectionOf(call());
      expect(e).toBeInstanceOf(DeviceAbortedError);
      expect((e as DeviceAbortedError).inFlight).toBe(false);
    }
    for (const name of ['hsm show', 'client register', 'scp upload', 'hagroup listgroups', 'hsm login']) expect(w.commands(name)).toBe(0);
    expect(w.hsmLogins()).toEqual({ success: 0, failure: 0 });
  });

  it('builds an HA group through LunaCM, with the cloning-domain warning and the group password guarded', async () => {
    w = await start();
    const l = w.plane.lunaCm(w.lunacm);
    const pw = { value: 'partition-password', secret: { uid: 'group-pw', resourceVersion: '1', name: 'hsm-system/group-pw' } };
    expect(await l.createGroup('grp1', '1001', pw)).toEqual({ warnings: [] });
    expect(await l.addMember('grp1', '1002', pw)).toEqual({ warnings: ['Warning: Synchronize may fail.  The members in slot 0 and slot 1 have conflicting settings for private key cloning.'] });
    expect(await l.listGroups()).toEqual({
      settings: { autoRecoveryEnabled: false, recoveryMode: 'activeEnhanced', maxRetries: 0, intervalSeconds: 60 },
      groups: [
        {
          label: 'grp1',
          number: '11001',
          slotId: 5,
          synchronization: true,
          memberSerials: ['1001', '1002'],
          needsSync: false,
          standbyMembers: [],
          members: [
            { serial: '1001', label: 'par0', status: 'alive' },
            { serial: '1002', label: 'par1', status: 'alive' },
          ],
          cloningConflicts: [{ slotA: 0, slotB: 1 }],
        },
      ],
      cloningConflicts: [],
    });
    expect(await rejectionOf(l.addMember('grp1', '1001', pw))).toMatchObject({ kind: 'already-exists' });
    expect(await l.setAutoRecoveryRetries(3)).toEqual({ warnings: [] });
    expect(await l.recover('grp1')).toEqual({ warnings: [] });
    const wrong = { value: 'not-the-password', secret: { uid: 'group-pw-2', resourceVersion: '1' } };
    expect(await rejectionOf(l.createGroup('grp2', '1002', wrong))).toBeInstanceOf(AuthenticationRejectedError);
    expect(await rejectionOf(l.createGroup('grp2', '1002', wrong))).toBeInstanceOf(CredentialRefusedError);
    expect(w.commands('hagroup creategroup')).toBe(2);
  });
});
