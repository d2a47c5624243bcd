/**
 * The SSH plane against a real OpenSSH sshd and the real scp (issue 18): pinning of each key type in each format a
 * user pastes, password and keyboard-interactive logins with a wrong password counted once in sshd's own log, a
 * server that checks no password, scp both ways, timeouts that cost only their own channel, more concurrent commands
 * than the server's MaxSessions, the server closing an unused connection, a pre-auth banner, and a changed host key.
 * Behind the sshd a ForceCommand hands lunash commands to the simulator's handler (support/sshd.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Appliance, AuthenticationRejectedError, CredentialRefusedError, HostKeyMismatchError, SshAuthUnsupportedError, SshCommandTimeoutError, SshPool, type SshEndpoint } from '../../src/luna/index.js';
import { RealSshd, sshdUnavailable, type KeyType } from './support/sshd.js';

const unavailable = sshdUnavailable();
if (unavailable) throw new Error(`the conformance tier cannot run here: ${unavailable}`);

let secretRv = 0;
function endpoint(d: RealSshd, o: { pin?: string; password?: string } = {}): SshEndpoint {
  const password = o.password ?? d.password;
  return {
    host: d.host,
    port: d.port,
    username: d.user,
    credential: { password, secret: { uid: 'conformance', resourceVersion: String(++secretRv), digest: `d-${password}`, name: 'conf/secret' } },
    hostKey: { pinned: o.pin ?? d.key('ed25519').fingerprint },
  };
}

const rejectionOf = async (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

const pools: SshPool[] = [];
function pool(o: ConstructorParameters<typeof SshPool>[0] = {}): SshPool {
  const p = new SshPool(o);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('host-key pins against a server holding ED25519, ECDSA and RSA keys', () => {
  let d: RealSshd;
  beforeAll(async () => {
    d = await RealSshd.start({ banner: 'Authorized use only. This banner comes before authentication.\n' });
  });
  afterAll(async () => d?.stop());

  const cases: [KeyType, 'fingerprint' | 'ssh-keygen line'][] = (['ed25519', 'ecdsa', 'rsa'] as const).flatMap((t) => [
    [t, 'fingerprint'],
    [t, 'ssh-keygen line'],
  ]);
  it.each(cases)('a pin of the %s key as its %s works (and the pre-auth banner is no obstacle)', async (type, form) => {
    const k = d.key(type);
    const p = pool();
    const r = await p.exec(endpoint(d, { pin: form === 'fingerprint' ? k.fingerprint : k.keygenLine }), 'hsm show');
    expect(r.stdout).toMatch(/Serial #:\s+\d+/);
    expect(r.hostKeyFingerprint).toBe(k.fingerprint);
    expect(p.blockedHosts()).toEqual([]);
    // A line naming its type negotiates that key at once: no probe of the other keys.
    if (form === 'ssh-keygen line') expect(p.counters().connectionAttempts).toBe(1);
  });

  it('a pin of no key of the server blocks the host and sends no credential', async () => {
    const p = pool();
    const before = d.log();
    const e = await rejectionOf(p.exec(endpoint(d, { pin: 'SHA256:' + 'x'.repeat(43) }), 'hsm show'));
    expect(e).toBeInstanceOf(HostKeyMismatchError);
    expect(p.blockedHosts()).toHaveLength(1);
    // Every probe stopped at host-key verification: sshd saw no authentication at all.
    const during = d.log().slice(before.length);
    expect(during).not.toMatch(/Accepted|Failed (password|keyboard-interactive|none)/);
    expect(await rejectionOf(p.exec(endpoint(d, { pin: 'SHA256:' + 'x'.repeat(43) }), 'hsm show'))).toBeInstanceOf(HostKeyMismatchError);
    expect(p.counters().refusedByHostKey).toBe(1);
  });
});

describe('password logins against a real sshd', () => {
  let d: RealSshd;
  beforeAll(async () => {
    d = await RealSshd.start({ auth: 'password' });
  });
  afterAll(async () => d?.stop());

  it('a wrong password is checked once (sshd logs one failure) and never sent again', async () => {
    const p = pool();
    const ep = endpoint(d, { password: 'wrong-password-for-conformance' });
    const failuresBefore = d.failedPasswordChecks();
    expect(await rejectionOf(p.exec(ep, 'hsm show'))).toBeInstanceOf(AuthenticationRejectedError);
    for (let i = 0; i < 3; i++) expect(await rejectionOf(p.exec(ep, 'hsm show'))).toBeInstanceOf(CredentialRefusedError);
    expect(d.failedPasswordChecks() - failuresBefore).toBe(1);
    // The right password (a new value) logs in.
    const ok = await p.exec(endpoint(d), 'hsm show');
    expect(ok.stdout).toContain('Serial #');
  });

  it('scp both ways with the real scp: upload, lunash reads it, download what lunash wrote', async () => {
    const p = pool();
    const ep = endpoint(d);
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBconformance\n-----END CERTIFICATE-----\n';
    const appliance = new Appliance(p, ep);
    await appliance.uploadFile('conformance-client.pem', pem);
    expect(d.homeFile('conformance-client.pem')?.toString()).toBe(pem);
    const server = await appliance.downloadFile('server.pem');
    expect(server.toString()).toBe(d.state.serverCert.certPem);
  });

  it('more concurrent commands than MaxSessions all run, each exactly once', async () => {
    await d.stop();
    d = await RealSshd.start({ auth: 'password', maxSessions: 2 });
    d.holds.set('hsm show', 150);
    const p = pool({ maxChannelsPerHost: 4 });
    const ep = endpoint(d);
    const results = await Promise.all(Array.from({ length: 8 }, () => p.exec(ep, 'hsm show', { retryOnDrop: true })));
    expect(results.every((r) => r.stdout.includes('Serial #'))).toBe(true);
    expect(d.seen.log.filter((c) => c === 'hsm show')).toHaveLength(8);
    expect(p.counters().connectionsOpened).toBe(1);
  });

  it('a DedicatedHsm\'s spec.appliance.maxChannels above the server\'s MaxSessions: the pool learns the real limit, every command runs once', async () => {
    await d.stop();
    d = await RealSshd.start({ auth: 'password', maxSessions: 2 });
    d.holds.set('hsm show', 150);
    const p = pool();
    // As applianceAccess hands it over from spec.appliance.maxChannels (1-16): more than this sshd allows.
    const ep = { ...endpoint(d), maxChannels: 6 };
    const results = await Promise.all(Array.from({ length: 10 }, () => p.exec(ep, 'hsm show', { retryOnDrop: true })));
    expect(results.every((r) => r.stdout.includes('Serial #'))).toBe(true);
    expect(d.seen.log.filter((c) => c === 'hsm show')).toHaveLength(10);
    expect(p.counters().connectionsOpened).toBe(1);
  });

  it('a timed-out command costs only its own channel: the commands beside it finish once, on the same connection', async () => {
    await d.stop();
    d = await RealSshd.start({ auth: 'password' });
    // The reads beside it outlast the timeout and its close grace; read-only, they would be run again on a drop.
    d.holds.set('hsm show', 1_000);
    d.holds.set('client list', 3_000);
    const p = pool({ closeGraceMs: 200 });
    const ep = endpoint(d);
    const slow = rejectionOf(p.exec(ep, 'client list', { timeoutMs: 200 }));
    const reads = Promise.all([p.exec(ep, 'hsm show', { retryOnDrop: true }), p.exec(ep, 'hsm show', { retryOnDrop: true })]);
    expect(await slow).toBeInstanceOf(SshCommandTimeoutError);
    const [a, b] = await reads;
    expect(a.stdout).toContain('Serial #');
    expect(b.stdout).toContain('Serial #');
    expect(d.seen.log.filter((c) => c === 'hsm show')).toHaveLength(2);
    expect(p.counters().commandsDropped).toBe(0);
    // New work after the timeout goes through (on a new connection: the old one waits for its command to end).
    expect((await p.exec(ep, 'hsm show')).stdout).toContain('Serial #');
    expect(d.seen.log.filter((c) => c === 'hsm show')).toHaveLength(3);
  });

  it('a connection the server closes when unused is replaced on the next command', async () => {
    await d.stop();
    d = await RealSshd.start({ auth: 'password', unusedConnectionTimeoutS: 1 });
    const p = pool({ idleCloseMs: 60_000 });
    const ep = endpoint(d);
    expect((await p.exec(ep, 'hsm show')).stdout).toContain('Serial #');
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await p.exec(ep, 'hsm show')).stdout).toContain('Serial #');
    expect(p.counters().connectionsOpened).toBe(2);
    expect(d.seen.log.filter((c) => c === 'hsm show')).toHaveLength(2);
  });

  it('a changed host key stops all traffic to the host', async () => {
    const p = pool();
    const pin = d.key('ed25519').keygenLine;
    expect((await p.exec(endpoint(d, { pin }), 'hsm show')).stdout).toContain('Serial #');
    await p.close();
    await d.replaceHostKeys();
    const q = pool();
    const sent = d.seen.log.length;
    expect(await rejectionOf(q.exec(endpoint(d, { pin }), 'hsm show'))).toBeInstanceOf(HostKeyMismatchError);
    expect(await rejectionOf(q.exec(endpoint(d, { pin }), 'client list'))).toBeInstanceOf(HostKeyMismatchError);
    expect(d.seen.log.length).toBe(sent);
  });
});

describe('keyboard-interactive logins (PAM) against a real sshd', () => {
  let d: RealSshd;
  beforeAll(async () => {
    d = await RealSshd.start({ auth: 'keyboard-interactive' });
  });
  afterAll(async () => d?.stop());

  it('the password answers the prompt and logs in', async () => {
    const r = await pool().exec(endpoint(d), 'hsm show');
    expect(r.stdout).toContain('Serial #');
    expect(d.log()).toMatch(/Accepted keyboard-interactive\/pam for hsmconf/);
  });

  it('a wrong password is one rejection, checked once; never sent again', async () => {
    const p = pool();
    const ep = endpoint(d, { password: 'wrong-kbd-password' });
    const before = d.failedPasswordChecks();
    expect(await rejectionOf(p.exec(ep, 'hsm show'))).toBeInstanceOf(AuthenticationRejectedError);
    expect(await rejectionOf(p.exec(ep, 'hsm show'))).toBeInstanceOf(CredentialRefusedError);
    // PAM logs the failed check; the pool sent the password once and ended the login when asked again.
    await new Promise((r) => setTimeout(r, 300));
    expect(d.failedPasswordChecks() - before).toBeLessThanOrEqual(1);
    expect(d.log()).not.toMatch(/Failed password/);
  });
});

describe('a server that checks no password', () => {
  let d: RealSshd;
  beforeAll(async () => {
    d = await RealSshd.start({ auth: 'publickey-only' });
  });
  afterAll(async () => d?.stop());

  it('is a configuration problem, not a rejected credential: nothing is recorded and nothing was checked', async () => {
    const p = pool();
    const ep = endpoint(d);
    const e = await rejectionOf(p.exec(ep, 'hsm show'));
    expect(e).toBeInstanceOf(SshAuthUnsupportedError);
    expect((e as Error).message).toMatch(/offers only publickey/);
    expect(p.guard.export()).toEqual([]);
    expect(d.failedPasswordChecks()).toBe(0);
  });
});
