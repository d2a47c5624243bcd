/** The guide's "NTLS certificates out of sync": the server certificate is regenerated behind the operator's back. */
import { outputSecretName, type NtlsClientBinding } from '../../api/index.js';
import { serverCertKey } from '../../controllers/ntlsclientbinding/output.js';
import { hsmAddress } from '../../controllers/shared/grants.js';
import { allReady, find, sawEvent } from './checks.js';
import type { Scenario } from './types.js';

const HSM = 'hsm-eastus-1';
const DRIFT_EVENTS = ['DriftDetected', 'Drifted', 'Repushing'];

const samePem = (a: string | undefined, b: string) => a !== undefined && a.replace(/\s+/g, '') === b.replace(/\s+/g, '');

export const ntlsDrift: Scenario = {
  name: 'ntls-drift',
  title: "an appliance's NTLS server certificate is regenerated; the bindings detect the drift and re-push",
  guideSection: 'NTLS Certificates out of sync',
  promise: `after Ready, ${HSM} regenerates its server certificate; every binding detects it and its output Secret carries the new server certificate; everything Ready`,
  async play(ctx) {
    await ctx.waitFor('every resource Ready', (s) => allReady(s, ctx.applied));
    const appliance = ctx.world.appliances.get(HSM);
    if (!appliance) throw new Error(`no appliance ${HSM}`);
    ctx.say(`Everything is Ready. Now someone runs "sysconf regenCert" on ${HSM}: clients holding the old server.pem fail with "unknown ca".`);
    await appliance.controls.regenCert();
    const fresh = appliance.state.serverCert.certPem;
    const bindings = ctx.applied.filter((a) => a.kind === 'NtlsClientBinding').map((a) => a.name);
    await ctx.waitFor('every binding to notice the drift', (s) => bindings.every((n) => sawEvent(s, 'NtlsClientBinding', n, ...DRIFT_EVENTS)));
    ctx.say(`Detected by every binding (${bindings.join(', ')}). The operator re-reads the HSM and refreshes server.pem in the output Secrets, so clients can reconnect.`);
    // Each output Secret sits in its binding's namespace; an HSM of another namespace is keyed <namespace>_<name>.pem.
    const secrets = await ctx.waitFor('every resource Ready again', (s) => {
      if (!allReady(s, ctx.applied)) return undefined;
      return bindings.map((n) => {
        const b = find(s, 'NtlsClientBinding', n) as NtlsClientBinding;
        const ns = b.metadata.namespace ?? '';
        const target = b.spec.targets.find((t) => t.dedicatedHsmRef.name === HSM);
        if (!target) throw new Error(`NtlsClientBinding ${n} does not target ${HSM}`);
        return { namespace: ns, name: outputSecretName(n, b.spec), key: serverCertKey(hsmAddress(ns, target.dedicatedHsmRef).statusKey) };
      });
    });
    const names = secrets.map((x) => `${x.namespace}/${x.name}`).join(', ');
    await ctx.poll(`the new server certificate of ${HSM} in ${names}`, async () => {
      for (const x of secrets) if (!samePem((await ctx.readSecret(x.namespace, x.name))?.[x.key], fresh)) return false;
      return true;
    });
    return `drift on ${HSM} detected by ${bindings.length} bindings and repaired (new server certificate in ${names}); all ${ctx.applied.length} resources Ready`;
  },
};
