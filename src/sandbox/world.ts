/**
 * A whole Dedicated HSM world on loopback: the ARM simulator with a VNet, a delegated HSM subnet and an ExpressRoute
 * gateway; one appliance simulator per HSM (started before the HSM exists, so its host key can be pinned in the
 * spec); a LunaCM client host; and the endpoint resolver that maps the private addresses Azure hands out to those
 * simulators. The sandbox (`npm start`) and the integration tests build on this, so both exercise the same code.
 */
import type { ArmConnection, CredentialSource } from '../azure/index.js';
import { connectionFor } from '../azure/index.js';
import type { DeviceAddress, EndpointResolver } from '../controllers/shared/endpoints.js';
import { startArmSimulator, type ArmSimulator, type GatewayTimeline } from './arm/index.js';
import { startApplianceSimulator, startLunaCmSimulator, type ApplianceSimulator, type LunaCmSimulator } from './luna/index.js';

export interface WorldHsm {
  /** ARM name (and DedicatedHsm name in the samples). */
  name: string;
  stampId?: 'stamp1' | 'stamp2';
  rebootPatchInstalled?: boolean;
  /** Partitions on the appliance: label and cloning domain. Default: par0 in domain `sandbox-domain`. */
  partitions?: { label: string; cloningDomain?: string; serial?: string }[];
  serial?: string;
}

export interface WorldOptions {
  hsms?: WorldHsm[];
  subscriptionId?: string;
  resourceGroup?: string;
  location?: string;
  /** Gateway states over time, e.g. [['Updating', 3000], ['Succeeded']]. Default: Succeeded. */
  gatewayTimeline?: GatewayTimeline;
  /** Per provisioning phase (ms). */
  provisioningMs?: number;
  /** LunaCM auto-recovery time scale (0.001 turns 60 s into 60 ms). */
  lunacmTimeScale?: number;
  /** Host name the HA groups name as their LunaCM client host. */
  lunacmHostName?: string;
  /** SSH user of the LunaCM client host (the samples use `lunaadmin`). Default: the simulator's default. */
  lunacmUsername?: string;
}

export const WORLD_PASSWORDS = {
  appliance: 'sandbox-appliance-password',
  lunacm: 'sandbox-lunacm-password',
  /** Crypto Officer password of every partition, which is also the HA group password. */
  partition: 'sandbox-partition-password',
} as const;

export interface World {
  arm: ArmSimulator;
  /** Appliance simulators by HSM (ARM) name. */
  appliances: Map<string, ApplianceSimulator>;
  lunacm: LunaCmSimulator;
  lunacmHostName: string;
  ids: { subscriptionId: string; resourceGroup: string; location: string; vnetId: string; subnetId: string; gatewayId: string };
  /** Maps HSM private IPs (ssh / ntls) and the LunaCM host name to the simulators; anything else to a closed loopback port. */
  resolve: EndpointResolver;
  /** How the operator reaches the ARM simulator. */
  azure: { connection: ArmConnection; credential: CredentialSource };
  /** The appliance behind a private IP, once Azure assigned it. */
  applianceAt(ip: string): ApplianceSimulator | undefined;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on: what unknown addresses resolve to, so no test ever dials a real network. */
const NOWHERE: DeviceAddress = { host: '127.0.0.1', port: 9 };

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const subscriptionId = opts.subscriptionId ?? '00000000-0000-0000-0000-000000000001';
  const resourceGroup = opts.resourceGroup ?? 'hsm-rg';
  const location = opts.location ?? 'eastus';
  const hsms = opts.hsms ?? [
    { name: 'hsm1', stampId: 'stamp1' },
    { name: 'hsm2', stampId: 'stamp2' },
  ];
  const arm = await startArmSimulator({ provisioningMs: opts.provisioningMs ?? 20 });
  const vnetId = arm.world.addVnet({ subscriptionId, resourceGroup, name: 'hsm-vnet', location, addressPrefixes: ['10.0.0.0/16'] });
  const subnetId = arm.world.addSubnet({ vnetId, name: 'hsmsubnet', addressPrefix: '10.0.2.0/24', delegated: true });
  arm.world.addSubnet({ vnetId, name: 'GatewaySubnet', addressPrefix: '10.0.255.0/27' });
  const gatewayId = arm.world.addGateway({ vnetId, name: 'hsm-ergw', gatewayType: 'ExpressRoute', timeline: opts.gatewayTimeline ?? [['Succeeded']] });

  const appliances = new Map<string, ApplianceSimulator>();
  let n = 0;
  for (const h of hsms) {
    n++;
    const sim = await startApplianceSimulator({
      hostname: h.name,
      serial: h.serial ?? String(572_400 + n),
      password: WORLD_PASSWORDS.appliance,
      rebootPatchInstalled: h.rebootPatchInstalled ?? true,
      partitions: (h.partitions ?? [{ label: 'par0', cloningDomain: 'sandbox-domain' }]).map((p, i) => ({
        label: p.label,
        serial: p.serial ?? `${1_582_775_430_000 + n * 10 + i}`,
        cloningDomain: p.cloningDomain ?? 'sandbox-domain',
        coPassword: WORLD_PASSWORDS.partition,
      })),
    });
    appliances.set(h.name, sim);
    arm.world.linkAppliance(h.name, { isZeroized: () => sim.state.zeroized });
  }
  const lunacm = await startLunaCmSimulator({
    appliances: [...appliances.values()],
    password: WORLD_PASSWORDS.lunacm,
    timeScale: opts.lunacmTimeScale ?? 0.01,
    ...(opts.lunacmUsername ? { username: opts.lunacmUsername } : {}),
  });
  const lunacmHostName = opts.lunacmHostName ?? 'lunaclient.sandbox.internal';

  const applianceAt = (ip: string): ApplianceSimulator | undefined => {
    for (const name of arm.world.hsmNames()) {
      const h = arm.world.hsm(name);
      if (h?.privateIpAddress === ip && h.provisioningState === 'Succeeded') return appliances.get(h.name);
    }
    return undefined;
  };
  const resolve: EndpointResolver = (address, service) => {
    if (address.host === lunacmHostName) return service === 'ssh' ? { host: lunacm.host, port: lunacm.port } : NOWHERE;
    const sim = applianceAt(address.host) ?? appliances.get(address.host);
    if (!sim) return NOWHERE;
    return service === 'ssh' ? { host: sim.host, port: sim.port } : { host: sim.host, port: sim.ntlsPort };
  };

  const azure = {
    connection: connectionFor({ endpoint: arm.endpoint, credentialScopes: [`${arm.endpoint}/.default`] }, { caPem: arm.caPem }),
    credential: {
      kind: 'static' as const,
      key: 'sandbox',
      credential: { getToken: () => Promise.resolve({ token: 'sandbox-token', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    },
  };

  return {
    arm,
    appliances,
    lunacm,
    lunacmHostName,
    ids: { subscriptionId, resourceGroup, location, vnetId, subnetId, gatewayId },
    resolve,
    azure,
    applianceAt,
    async stop() {
      await lunacm.stop();
      await Promise.all([...appliances.values()].map((a) => a.stop()));
      await arm.stop();
    },
  };
}
