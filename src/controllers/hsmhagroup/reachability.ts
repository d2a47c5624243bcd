/**
 * Is a member's appliance up? Decides whether a down member is worth a `hagroup recover` or whether its appliance
 * is itself down (then it is reported, not hammered). A fresh TCP connect to the appliance's SSH address answers it;
 * the DedicatedHsm's ApplianceReachable condition is only used when there is no address to dial, because it is as
 * old as that controller's last re-sync.
 */
import type { DedicatedHsm } from '../../api/index.js';
import { advertisedHost, type DeviceAddress, type OperatorContext } from '../shared/index.js';

export interface Reach {
  reachable: boolean;
  /** Why not, for messages. */
  message?: string;
}

/** Whether a TCP port answers; the socket is closed at once (no bytes are sent). An abort destroys it and throws. */
export async function tcpReachable(ctx: OperatorContext, address: DeviceAddress, timeoutMs: number, signal?: AbortSignal): Promise<Reach> {
  const r = await ctx.device.probeTcp(address, timeoutMs, signal ? { signal } : {});
  if (r.ok) return { reachable: true };
  return { reachable: false, message: r.timedOut ? `no TCP answer within ${timeoutMs} ms` : r.code ? `TCP connect failed: ${r.code}` : 'TCP connect failed' };
}

export async function applianceReach(ctx: OperatorContext, hsm: DedicatedHsm | undefined, name: string, signal?: AbortSignal): Promise<Reach> {
  if (!hsm) return { reachable: false, message: `DedicatedHsm ${name} does not exist` };
  const host = advertisedHost(hsm);
  if (!host) {
    const cond = hsm.status?.conditions?.find((c) => c.type === 'ApplianceReachable');
    return cond?.status === 'True' ? { reachable: true } : { reachable: false, message: 'it has no address yet' };
  }
  const ssh = ctx.resolve({ host, port: hsm.spec.appliance.port }, 'ssh');
  return tcpReachable(ctx, ssh, Math.min(ctx.settings.ntlsTimeoutMs, 3_000), signal);
}
