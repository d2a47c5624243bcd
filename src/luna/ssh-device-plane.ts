/**
 * The real device plane: the SSH pool (host-key pinning, credential guard, leader fence) under the appliance and
 * LunaCM facades, the zeroize path, and the NTLS and TCP probes. Each operation passes its AbortSignal down to the
 * pool (`withChannel`) or the probe's socket.
 */
import { Appliance } from './appliance.js';
import type { ApplianceOps, DeviceCallOptions, DevicePlane, LunaCmOps } from './device-plane.js';
import type { DeviceFacadeOptions } from './device-shell.js';
import { LunaCmHost } from './lunacm-host.js';
import { probeNtls, type NtlsProbeOptions, type NtlsProbeResult } from './ntls.js';
import type { SshEndpoint, SshPool } from './ssh-pool.js';
import { probeTcpPort, type TcpProbe } from './tcp.js';
import { zeroizeByFailedLogins, type ZeroizeConfirmation, type ZeroizeReport } from './zeroize.js';

export class SshDevicePlane implements DevicePlane {
  constructor(readonly pool: SshPool) {}

  appliance(endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}): ApplianceOps {
    return new Appliance(this.pool, endpoint, opts);
  }

  lunaCm(endpoint: SshEndpoint, opts: DeviceFacadeOptions = {}): LunaCmOps {
    return new LunaCmHost(this.pool, endpoint, opts);
  }

  zeroize(endpoint: SshEndpoint, confirmation: ZeroizeConfirmation, opts: DeviceFacadeOptions = {}): Promise<ZeroizeReport> {
    return zeroizeByFailedLogins(this.pool, endpoint, confirmation, opts);
  }

  probeNtls(opts: NtlsProbeOptions): Promise<NtlsProbeResult> {
    return probeNtls(opts);
  }

  probeTcp(address: { host: string; port: number }, timeoutMs: number, opts: DeviceCallOptions = {}): Promise<TcpProbe> {
    return probeTcpPort(address, timeoutMs, opts);
  }

  observedHostKey(host: string, port = 22): string | undefined {
    return this.pool.observedHostKey(host, port);
  }
}
