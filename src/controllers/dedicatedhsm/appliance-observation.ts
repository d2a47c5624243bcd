/**
 * Reading the appliance of a provisioned HSM: `hsm show`, `package list` and `server.pem` over SSH (read-only
 * commands only, host key pinned, credential guarded), and a TCP connect to the NTLS port. The two run side by
 * side; neither changes anything on the device.
 */
import type { DedicatedHsm } from '../../api/index.js';
import { CredentialRefusedError, DeviceAbortedError, normalizeHostKeyPin } from '../../luna/index.js';
import { advertisedHost, applianceAccess, describeDeviceError, withAppliance, type DeviceAddress, type OperatorContext, type SecretReads } from '../shared/index.js';
import type { ApplianceObservation, NtlsOutcome, SshOutcome } from './appliance-checks.js';

/**
 * `signal` (the reconcile's `rc.signal`) is honoured by every command and the probe; an abort is thrown, not reported
 * as an outcome, so an aborted pass writes nothing about the appliance.
 */
export async function observeAppliance(ctx: OperatorContext, hsm: DedicatedHsm, secrets: SecretReads, signal?: AbortSignal): Promise<ApplianceObservation> {
  const a = hsm.spec.appliance;
  const host = advertisedHost(hsm);
  const base = { host, sshPort: a.port, ntlsPort: a.ntlsPort };
  const ntlsAddress = host ? ctx.resolve({ host, port: a.ntlsPort }, 'ntls') : undefined;
  const ntls = ntlsAddress ? probeTcp(ctx, ntlsAddress, ctx.settings.ntlsTimeoutMs, signal) : Promise.resolve<NtlsOutcome>({ kind: 'unknown' });
  const access = await applianceAccess(ctx, hsm, secrets, signal);
  if (!access.ok) return { ...base, ssh: { kind: 'unavailable', reason: access.reason, message: access.message }, ntls: await ntls };
  const ssh = (async (): Promise<SshOutcome> => {
    try {
      const facts = await withAppliance(ctx, hsm, access, async (appliance) => {
        const show = await appliance.show();
        const packages = await appliance.packages();
        const cert = await appliance.serverCertificate();
        return { show, rebootPatchInstalled: packages.rebootPatchInstalled, serverCert: { sha256: cert.facts.sha256, notAfter: cert.facts.notAfter } };
      });
      const seen = access.endpoint.hostKey.pinned ?? ctx.device.observedHostKey(access.endpoint.host, access.endpoint.port ?? 22);
      const { uid, resourceVersion, name } = access.endpoint.credential.secret;
      return { kind: 'ok', facts: { ...facts, hostKeyFingerprint: seen ? normalizeHostKeyPin(seen) : undefined, credential: { uid, resourceVersion, name } } };
    } catch (e) {
      if (e instanceof DeviceAbortedError) throw e;
      if (e instanceof CredentialRefusedError) ctx.metrics.credentialRefusals.inc({ role: 'appliance-ssh' });
      return { kind: 'failed', problem: describeDeviceError(e, `appliance ${access.advertisedHost}`) };
    }
  })();
  const [sshOutcome, ntlsOutcome] = await Promise.all([ssh, ntls]);
  return { ...base, ssh: sshOutcome, ntls: ntlsOutcome };
}

/** Whether the NTLS port answers at all (the guide's "at a minimum TCP port 1792"). */
export async function probeTcp(ctx: OperatorContext, address: DeviceAddress, timeoutMs: number, signal?: AbortSignal): Promise<NtlsOutcome> {
  const r = await ctx.device.probeTcp(address, timeoutMs, signal ? { signal } : {});
  if (r.ok) return { kind: 'reachable' };
  return { kind: 'unreachable', message: r.timedOut ? `no TCP connection within ${timeoutMs} ms` : (r.code ?? r.detail) };
}
