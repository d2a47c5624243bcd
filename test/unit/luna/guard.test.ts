import { afterEach, describe, expect, it } from 'vitest';
import { AuthenticationRejectedError, CredentialGuard, CredentialRefusedError, SshPool, type GuardRecord } from '../../../src/luna/index.js';
import { startApplianceSimulator, type ApplianceSimulator } from '../../../src/sandbox/luna/index.js';
import { digestWith } from '../../../src/controllers/shared/credential-digest.js';
import { applianceEndpoint, expectSoUntouched, rejectionOf } from './support.js';

const attempt = { host: 'hsm1', role: 'appliance-ssh' as const, secret: { uid: 'uid-1', resourceVersion: '7', name: 'ns/creds' } };
const rejected = (): Promise<never> => Promise.reject(new AuthenticationRejectedError('hsm1', 'appliance-ssh', 'ns/creds', 'SSH login as tenantadmin was rejected'));

describe('CredentialGuard', () => {
  it('refuses a rejected credential version until the Secret changes', async () => {
    const changes: GuardRecord[][] = [];
    const guard = new CredentialGuard({ now: () => new Date('2025-01-02T03:04:05Z'), onChange: (r) => changes.push(r) });
    let calls = 0;
    const fn = (): Promise<never> => {
      calls++;
      return rejected();
    };
    expect(await rejectionOf(guard.attempt(attempt, fn))).toBeInstanceOf(AuthenticationRejectedError);
    for (let i = 0; i < 3; i++) expect(await rejectionOf(guard.attempt(attempt, fn))).toBeInstanceOf(CredentialRefusedError);
    expect(calls).toBe(1);
    expect(guard.export()).toEqual([
      { host: 'hsm1:22', role: 'appliance-ssh', secretUid: 'uid-1', secretResourceVersion: '7', rejectedAt: '2025-01-02T03:04:05.000Z', message: expect.stringContaining('rejected') as string, secretName: 'ns/creds' },
    ]);
    expect(changes).toHaveLength(1);

    // A new version of the Secret gets exactly one new attempt; success clears the record.
    expect(await guard.attempt({ ...attempt, secret: { ...attempt.secret, resourceVersion: '8' } }, () => Promise.resolve('ok'))).toBe('ok');
    expect(guard.export()).toEqual([]);
  });

  it('a refusal names the Secret to fix and carries no credential', async () => {
    const guard = new CredentialGuard();
    await rejectionOf(guard.attempt(attempt, rejected));
    const e = await rejectionOf(guard.attempt(attempt, () => Promise.resolve(1)));
    expect(e).toBeInstanceOf(CredentialRefusedError);
    expect((e as Error).message).toMatch(/value in Secret ns\/creds was rejected .* has not changed since \(resourceVersion 7 then\); put the correct value in that Secret/);
  });

  it('with value digests, a new resourceVersion of the same value stays refused; a new value gets one attempt', async () => {
    const guard = new CredentialGuard();
    const digested = { ...attempt, secret: { ...attempt.secret, digest: digestWith(Buffer.alloc(32, 1), 'wrong') } };
    let calls = 0;
    const fn = (): Promise<never> => {
      calls++;
      return rejected();
    };
    await rejectionOf(guard.attempt(digested, fn));
    expect(guard.export()[0]?.valueDigest).toBe(digested.secret.digest);
    // A label, an annotation, an External Secrets re-sync: new resourceVersions, the same value.
    for (const rv of ['8', '9', '10']) {
      expect(await rejectionOf(guard.attempt({ ...digested, secret: { ...digested.secret, resourceVersion: rv } }, fn))).toBeInstanceOf(CredentialRefusedError);
    }
    expect(calls).toBe(1);
    // Restored from status (a restart), the record still holds for the same value.
    const restored = CredentialGuard.restore(JSON.parse(JSON.stringify(guard.export())) as unknown[]);
    expect(() => restored.check({ ...digested, secret: { ...digested.secret, resourceVersion: '11' } })).toThrow(CredentialRefusedError);
    const fixed = { ...digested, secret: { ...digested.secret, resourceVersion: '12', digest: digestWith(Buffer.alloc(32, 1), 'right') } };
    expect(await restored.attempt(fixed, () => Promise.resolve('ok'))).toBe('ok');
    expect(restored.export()).toEqual([]);
  });

  it('digests are keyed: the same value under another key, or another value, differs', () => {
    const k1 = Buffer.alloc(32, 1);
    expect(digestWith(k1, 'pw')).toBe(digestWith(Buffer.alloc(32, 1), 'pw'));
    expect(digestWith(k1, 'pw')).not.toBe(digestWith(Buffer.alloc(32, 2), 'pw'));
    expect(digestWith(k1, 'pw')).not.toBe(digestWith(k1, 'pw2'));
    expect(digestWith(k1, 'pw')).not.toContain('pw');
  });

  it('concurrent attempts with one credential send it once', async () => {
    const guard = new CredentialGuard();
    let calls = 0;
    const fn = async (): Promise<never> => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return rejected();
    };
    const errors = await Promise.all(Array.from({ length: 5 }, () => rejectionOf(guard.attempt(attempt, fn))));
    expect(calls).toBe(1);
    expect(errors.filter((e) => e instanceof CredentialRefusedError)).toHaveLength(4);
  });

  it('records survive a restart as plain JSON; malformed entries are dropped; other failures are not recorded', async () => {
    const guard = new CredentialGuard();
    await rejectionOf(guard.attempt(attempt, rejected));
    await rejectionOf(guard.attempt({ ...attempt, host: 'hsm2' }, () => Promise.reject(new Error('network down'))));
    const persisted: unknown = JSON.parse(JSON.stringify(guard.export()));
    const restored = CredentialGuard.restore([...(persisted as unknown[]), { host: 'x', role: 'hsm-so' }, null, 'junk']);
    expect(restored.export()).toEqual(guard.export());
    expect(() => restored.check(attempt)).toThrow(CredentialRefusedError);
    expect(() => restored.check({ ...attempt, host: 'hsm2' })).not.toThrow();
    // A rejection of a different role (the SSH login under a LunaCM password) does not mark this credential.
    const other = new CredentialGuard();
    await rejectionOf(other.attempt({ ...attempt, role: 'hagroup-password' }, rejected));
    expect(other.export()).toEqual([]);
  });
  it('merging persisted records refuses their version, but never revives a record a later success cleared', async () => {
    let clock = Date.parse('2025-01-02T03:04:05Z');
    const guard = new CredentialGuard({ now: () => new Date(clock) });
    await rejectionOf(guard.attempt(attempt, rejected));
    const persisted = guard.export();

    // A restarted process merges what status held: the same version is refused without being sent.
    const restarted = new CredentialGuard();
    restarted.merge(persisted);
    expect(() => restarted.check(attempt)).toThrow(CredentialRefusedError);

    // The Secret is fixed and the new version succeeds; the status still lists the old record until it is rewritten.
    clock += 1000;
    await guard.attempt({ ...attempt, secret: { ...attempt.secret, resourceVersion: '8' } }, () => Promise.resolve('ok'));
    guard.merge(persisted);
    expect(guard.export()).toEqual([]);
  });
});

describe('credential guard against the appliance simulator', () => {
  let sim: ApplianceSimulator;
  const pools: SshPool[] = [];
  afterEach(async () => {
    expectSoUntouched(sim);
    for (const p of pools.splice(0)) await p.close();
    await sim.stop();
  });
  const pool = (guard?: CredentialGuard): SshPool => {
    const p = new SshPool({ guard: guard ?? new CredentialGuard() });
    pools.push(p);
    return p;
  };

  it('a wrong SSH password costs exactly ONE failed login, across retries, concurrency and restarts', async () => {
    sim = await startApplianceSimulator({ password: 'right-password' });
    const ep = applianceEndpoint(sim, { password: 'wrong-password' });
    const p1 = pool();
    const first = await Promise.all(Array.from({ length: 8 }, () => rejectionOf(p1.exec(ep, 'hsm show'))));
    // Those sharing the one login see the rejection; those that queued behind it are refused by the guard.
    expect(first.some((e) => e instanceof AuthenticationRejectedError)).toBe(true);
    expect(first.every((e) => e instanceof AuthenticationRejectedError || e instanceof CredentialRefusedError)).toBe(true);
    for (let i = 0; i < 5; i++) expect(await rejectionOf(p1.exec(ep, 'hsm show'))).toBeInstanceOf(CredentialRefusedError);
    expect(sim.counters.ssh.sshLogins.failure).toBe(1);
    for (const e of first) expect((e as Error).message).not.toContain('wrong-password');

    // "Restart": a new process restores the guard from the records it wrote to status.
    const status = JSON.stringify(p1.guard.export());
    const p2 = pool(CredentialGuard.restore(JSON.parse(status) as unknown[]));
    for (let i = 0; i < 3; i++) expect(await rejectionOf(p2.exec(ep, 'client list'))).toBeInstanceOf(CredentialRefusedError);
    expect(sim.counters.ssh.sshLogins.failure).toBe(1);
    expect(sim.counters.ssh.connections).toBe(1);

    // The Secret changes (still wrong): one new attempt, then refused again.
    const ep2 = applianceEndpoint(sim, { password: 'still-wrong', resourceVersion: '2' });
    expect(await rejectionOf(p2.exec(ep2, 'client list'))).toBeInstanceOf(AuthenticationRejectedError);
    expect(await rejectionOf(p2.exec(ep2, 'client list'))).toBeInstanceOf(CredentialRefusedError);
    expect(sim.counters.ssh.sshLogins.failure).toBe(2);

    // Fixed: the next version works and the record is gone.
    const ep3 = applianceEndpoint(sim, { password: 'right-password', resourceVersion: '3' });
    expect((await p2.exec(ep3, 'client list')).stdout).toContain('No clients');
    expect(p2.guard.export()).toEqual([]);
    expect(sim.counters.commands.readOnly).toBe(1);
  });
});
