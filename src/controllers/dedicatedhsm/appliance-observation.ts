/**
 * Reading the appliance of a provisioned HSM: `hsm show`, `package list` and `server.pem` over SSH (read-only
 * commands only, host key pinned, credential guarded), and a TCP connect to the NTLS port. The two run side by
 * side; neither changes anything on the device.
 */
import type { DedicatedHsm } from '../../api/index.js';
import { CredentialRefusedError, normalizeHostKeyPin, probeTcpPort } from '../../luna/index.js';
import { advertisedHost, applianceAccess, describeDeviceError, withAppliance, type DeviceAddress, type OperatorContext, type SecretReads } from '../shared/index.js';
import type { ApplianceObservation, NtlsOutcome, SshOutcome } from './appliance-checks.js';

export async function observeAppliance(ctx: OperatorContext, hsm: DedicatedHsm, secrets: SecretReads): Promise<ApplianceObservation> {
  const a = hsm.spec.appliance;
  const host = advertisedHost(hsm);
  const base = { host, sshPort: a.port, ntlsPort: a.ntlsPort };
  const ntlsAddress = host ? ctx.resolve({ host, port: a.ntlsPort }, 'ntls') : undefined;
  const ntls = ntlsAddress ? probeTcp(ntlsAddress, ctx.settings.ntlsTimeoutMs) : Promise.resolve<NtlsOutcome>({ kind: 'unknown' });
  const access = await applianceAccess(ctx, hsm, secrets);
  if (!access.ok) return { ...base, ssh: { kind: 'unavailable', reason: access.reason, message: access.message }, ntls: await ntls };
  const ssh = (async (): Promise<SshOutcome> => {
    try {
      const facts = await withAppliance(ctx, hsm, access, async (appliance) => {
        const show = await appliance.show();
        const packages = await appliance.packages();
        const cert = await appliance.serverCertificate();
        return { show, rebootPatchInstalled: packages.rebootPatchInstalled, serverCert: { sha256: cert.facts.sha256, notAfter: cert.facts.notAfter } };
      });
      const seen = access.endpoint.hostKey.pinned ?? ctx.ssh.observedHostKey(access.endpoint.host, access.endpoint.port ?? 22);
      return { kind: 'ok', facts: { ...facts, hostKeyFingerprint: seen ? normalizeHostKeyPin(seen) : undefined } };
    } catch (e) {
      if (e instanceof CredentialRefusedError) ctx.metrics.credentialRefusals.inc({ role: 'appliance-ssh' });
      return { kind: 'failed', problem: describeDeviceError(e, `appliance ${access.advertisedHost}`) };
    }
  })();
  const [sshOutcome, ntlsOutcome] = await Promise.all([ssh, ntls]);
  return { ...base, ssh: sshOutcome, ntls: ntlsOutcome };
}

/** Whether the NTLS port answers at all (the guide's "at a minimum TCP port 1792"). */
export async function probeTcp(address: DeviceAddress, timeoutMs: number): Promise<NtlsOutcome> {
  const r = await probeTcpPort(address, timeoutMs);
  if (r.ok) return { kind: 'reachable' };
  return { kind: 'unreachable', message: r.timedOut ? `no TCP connection within ${timeoutMs} ms` : (r.code ?? r.detail) };
}
