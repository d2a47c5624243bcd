/**
 * LunaCM behind a real OpenSSH sshd (issue #22 item 5): the group password is typed at LunaCM's prompt through a real
 * exec channel's stdin (sshd's ForceCommand relays it to the LunaCM simulator's handler), never on a command line.
 * What sshd handed on (the command lines) is recorded and never holds the password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationRejectedError, CredentialRefusedError, LunaCmHost, SshPool, type SshEndpoint } from '../../src/luna/index.js';
import { startApplianceSimulator, startLunaCmSimulator, type ApplianceSimulator, type LunaCmSimulator } from '../../src/sandbox/luna/index.js';
import { RealSshd, sshdUnavailable } from './support/sshd.js';

const unavailable = sshdUnavailable();
if (unavailable) throw new Error(`the conformance tier cannot run here: ${unavailable}`);

const CO = 'co-Conformance-7731';

describe('LunaCM group password through a real sshd', () => {
  let hsm: ApplianceSimulator;
  let cm: LunaCmSimulator;
  let d: RealSshd;
  let pool: SshPool;
  let host: LunaCmHost;
  const password = (value: string, resourceVersion: string) => ({ value, secret: { uid: 'group-pw', resourceVersion, digest: `d-${value}`, name: 'conf/group-password' } });

  beforeAll(async () => {
    hsm = await startApplianceSimulator({ hostname: 'hsm1', partitions: [{ label: 'par0', serial: '154438865287', coPassword: CO }, { label: 'par1', serial: '154438865288', coPassword: CO }] });
    cm = await startLunaCmSimulator({ appliances: [hsm] });
    d = await RealSshd.start({ auth: 'password', interpreter: cm.interpreter });
    pool = new SshPool();
    const ep: SshEndpoint = {
      host: d.host,
      port: d.port,
      username: d.user,
      credential: { password: d.password, secret: { uid: 'lunacm-ssh', resourceVersion: '1', digest: 'd-ssh', name: 'conf/lunacm-ssh' } },
      hostKey: { pinned: d.key('ed25519').fingerprint },
      role: 'lunacm-ssh',
    };
    host = new LunaCmHost(pool, ep);
  });
  afterAll(async () => {
    await pool?.close();
    await d?.stop();
    await cm?.stop();
    await hsm?.stop();
  });

  it('creates the group with the password answered at the prompt; no command line sshd relayed holds it', async () => {
    await host.createGroup('confHA', '154438865287', password(CO, '1'));
    expect(cm.counters.groupPassword).toEqual({ prompted: 1, answered: 1, unanswered: 0, onCommandLine: 0 });
    expect(cm.counters.passwordAttempts).toEqual({ success: 1, failure: 0 });
    expect(cm.state.groups.get('confHA')?.members.map((m) => m.serial)).toEqual(['154438865287']);
    expect(d.seen.log.length).toBeGreaterThan(0);
    for (const line of [...d.seen.log, ...cm.counters.commandLines]) expect(line).not.toContain(CO);
  });

  it('a wrong password is typed once through the real channel and then refused', async () => {
    const wrong = password('wrong-co-password', '2');
    expect(await host.addMember('confHA', '154438865288', wrong).catch((e: unknown) => e)).toBeInstanceOf(AuthenticationRejectedError);
    expect(await host.addMember('confHA', '154438865288', wrong).catch((e: unknown) => e)).toBeInstanceOf(CredentialRefusedError);
    expect(cm.counters.passwordAttempts).toEqual({ success: 1, failure: 1 });
    for (const line of d.seen.log) expect(line).not.toContain('wrong-co-password');
  });
});
