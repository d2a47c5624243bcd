/** The guide's failed-logins table: a wrong password is tried once, never again until its Secret changes. */
import { allReady, hasCondition } from './checks.js';
import { WORLD_PASSWORDS } from '../world.js';
import { sample } from '../samples.js';
import type { Scenario } from './types.js';

const HSM = 'hsm-eastus-1';
const SECRET = `${HSM}-appliance`;

export const wrongPassword: Scenario = {
  name: 'wrong-password',
  title: 'the appliance Secret holds a wrong password: one failed login, no retries, recovery when the Secret is fixed',
  guideSection: 'Failed Logins',
  promise: `${HSM} Ready=False CredentialRejected after exactly one failed login; after the Secret is fixed, everything Ready, still one failed login`,
  samples(manifests) {
    sample(manifests, 'Secret', SECRET).stringData = { password: 'a-wrong-password' };
  },
  async play(ctx) {
    const appliance = ctx.world.appliances.get(HSM);
    if (!appliance) throw new Error(`no appliance ${HSM}`);
    const failures = () => appliance.counters.ssh.sshLogins.failure;
    await ctx.waitFor(`${HSM} to report CredentialRejected`, (s) => hasCondition(s, 'DedicatedHsm', HSM, 'Ready', 'CredentialRejected', 'False'));
    ctx.say(`Detected: ${HSM} is Ready=False CredentialRejected after ${failures()} failed login(s). The operator will not use that password again until the Secret changes.`);
    await ctx.sleep(5_000);
    ctx.say(`Five seconds later the appliance still counts ${failures()} failed login(s): no retry loop that could lock the account.`);
    ctx.say(`The platform team puts the right password into Secret ${SECRET} (namespace ${ctx.namespaces.platform}).`);
    await ctx.setSecret(ctx.namespaces.platform, SECRET, 'password', WORLD_PASSWORDS.appliance);
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    const n = failures();
    if (n !== 1) throw new Error(`the appliance counted ${n} failed logins; the promise is exactly one`);
    return `CredentialRejected after exactly 1 failed login; recovered when the Secret changed; all ${ctx.applied.length} resources Ready`;
  },
};
