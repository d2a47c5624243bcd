/**
 * The simulated Microsoft.Network side: VNets, subnets (delegation, NSG, route table), virtual network gateways
 * whose provisioning state follows a scripted timeline, NICs and the IP addresses they hold.
 */
import { gatewayId, nicId, parentArmId, parseArmId, subnetId, vnetId } from '../../azure/ids.js';
import { ArmHttpError } from './wire.js';

export const HSM_DELEGATION = 'Microsoft.HardwareSecurityModules/dedicatedHSMs';

export interface VnetRecord {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  addressPrefixes: string[];
}

export interface SubnetRecord {
  id: string;
  vnetId: string;
  name: string;
  addressPrefix: string;
  delegations: string[];
  nsgId?: string;
  routeTableId?: string;
}

/** `[['Updating', 200], ['Succeeded']]`: Updating for 200 ms after creation, then Succeeded for good. */
export type GatewayTimeline = ReadonlyArray<readonly [state: string, ms?: number]>;

export interface GatewayRecord {
  id: string;
  name: string;
  vnetId: string;
  location: string;
  gatewayType: string;
  createdAt: number;
  timeline: GatewayTimeline;
}

export interface NicRecord {
  id: string;
  name: string;
  location: string;
  subnetId: string;
  privateIpAddress: string;
  allocation: 'Static' | 'Dynamic';
}

const key = (id: string): string => id.toLowerCase();

export class SimNetwork {
  readonly vnets = new Map<string, VnetRecord>();
  readonly subnets = new Map<string, SubnetRecord>();
  readonly gateways = new Map<string, GatewayRecord>();
  readonly nics = new Map<string, NicRecord>();
  /** IPs held per subnet (NICs and pending deployments). */
  private readonly held = new Map<string, Set<string>>();

  constructor(private readonly now: () => number) {}

  addVnet(v: { subscriptionId: string; resourceGroup: string; name: string; location?: string; addressPrefixes?: string[] }): string {
    const id = vnetId(v.subscriptionId, v.resourceGroup, v.name);
    this.vnets.set(key(id), {
      id,
      subscriptionId: v.subscriptionId,
      resourceGroup: v.resourceGroup,
      name: v.name,
      location: v.location ?? 'westeurope',
      addressPrefixes: v.addressPrefixes ?? ['10.0.0.0/16'],
    });
    return id;
  }

  addSubnet(s: { vnetId: string; name: string; addressPrefix: string; delegated?: boolean; nsg?: boolean; routeTable?: boolean }): string {
    const vnet = this.vnets.get(key(s.vnetId));
    if (!vnet) throw new Error(`no VNet ${s.vnetId}`);
    parseCidr(s.addressPrefix);
    const id = subnetId(vnet.subscriptionId, vnet.resourceGroup, vnet.name, s.name);
    const rec: SubnetRecord = { id, vnetId: vnet.id, name: s.name, addressPrefix: s.addressPrefix, delegations: s.delegated ? [HSM_DELEGATION] : [] };
    if (s.nsg) rec.nsgId = `/subscriptions/${vnet.subscriptionId}/resourceGroups/${vnet.resourceGroup}/providers/Microsoft.Network/networkSecurityGroups/${s.name}-nsg`;
    if (s.routeTable) rec.routeTableId = `/subscriptions/${vnet.subscriptionId}/resourceGroups/${vnet.resourceGroup}/providers/Microsoft.Network/routeTables/${s.name}-rt`;
    this.subnets.set(key(id), rec);
    return id;
  }

  subnet(id: string): SubnetRecord | undefined {
    return this.subnets.get(key(id));
  }

  setDelegated(subnetIdValue: string, delegated: boolean): void {
    const s = this.mustSubnet(subnetIdValue);
    s.delegations = delegated ? [HSM_DELEGATION] : s.delegations.filter((d) => d !== HSM_DELEGATION);
  }

  /** Adds a gateway and its GatewaySubnet. One gateway per VNet, as in Azure. */
  addGateway(g: { vnetId: string; name: string; gatewayType?: string; timeline?: GatewayTimeline; resourceGroup?: string }): string {
    const vnet = this.vnets.get(key(g.vnetId));
    if (!vnet) throw new Error(`no VNet ${g.vnetId}`);
    if (this.gatewayOfVnet(vnet.id)) throw new Error(`VNet ${vnet.name} already has a gateway (one gateway per virtual network)`);
    const gwSubnet = subnetId(vnet.subscriptionId, vnet.resourceGroup, vnet.name, 'GatewaySubnet');
    if (!this.subnets.has(key(gwSubnet))) {
      this.subnets.set(key(gwSubnet), { id: gwSubnet, vnetId: vnet.id, name: 'GatewaySubnet', addressPrefix: gatewaySubnetPrefix(vnet.addressPrefixes[0] ?? '10.0.0.0/16'), delegations: [] });
    }
    const id = gatewayId(vnet.subscriptionId, g.resourceGroup ?? vnet.resourceGroup, g.name);
    this.gateways.set(key(id), {
      id,
      name: g.name,
      vnetId: vnet.id,
      location: vnet.location,
      gatewayType: g.gatewayType ?? 'ExpressRoute',
      createdAt: this.now(),
      timeline: g.timeline ?? [['Succeeded']],
    });
    return id;
  }

  gatewayOfVnet(vnet: string): GatewayRecord | undefined {
    return [...this.gateways.values()].find((g) => key(g.vnetId) === key(vnet));
  }

  /** Finds a gateway by ID or by name. */
  gateway(idOrName: string): GatewayRecord | undefined {
    return this.gateways.get(key(idOrName)) ?? [...this.gateways.values()].find((g) => key(g.name) === key(idOrName));
  }

  gatewayState(g: GatewayRecord): string {
    let elapsed = this.now() - g.createdAt;
    for (const [state, ms] of g.timeline) {
      if (ms === undefined || elapsed < ms) return state;
      elapsed -= ms;
    }
    return g.timeline[g.timeline.length - 1]?.[0] ?? 'Succeeded';
  }

  setGatewayState(idOrName: string, state: string): void {
    this.setGatewayTimeline(idOrName, [[state]]);
  }

  setGatewayTimeline(idOrName: string, timeline: GatewayTimeline): void {
    const g = this.gateway(idOrName);
    if (!g) throw new Error(`no gateway ${idOrName}`);
    g.timeline = timeline;
    g.createdAt = this.now();
  }

  /** Holds an IP for a deployment: the explicit one (checked) or the next free one of the subnet. */
  holdIp(subnetIdValue: string, explicit?: string): string {
    const s = this.mustSubnet(subnetIdValue);
    const held = this.heldIn(s.id);
    const range = parseCidr(s.addressPrefix);
    if (explicit !== undefined) {
      const n = ipToInt(explicit);
      if (n === undefined || n < range.first || n > range.last)
        throw new ArmHttpError(400, 'PrivateIPAddressNotInSubnet', `Private static IP address ${explicit} does not belong to the range of subnet prefix ${s.addressPrefix}.`);
      if (n < range.first + 4 || n === range.last) throw new ArmHttpError(400, 'PrivateIPAddressIsReserved', `Private static IP address ${explicit} is a reserved address of subnet prefix ${s.addressPrefix}.`);
      if (held.has(explicit)) throw new ArmHttpError(400, 'PrivateIPAddressInUse', `IP configuration uses private IP address ${explicit}, which is already in use in subnet ${s.id}.`);
      held.add(explicit);
      return explicit;
    }
    // Azure reserves the first four addresses and the last one of every subnet.
    for (let n = range.first + 4; n < range.last; n++) {
      const ip = intToIp(n);
      if (!held.has(ip)) {
        held.add(ip);
        return ip;
      }
    }
    throw new ArmHttpError(400, 'SubnetIsFull', `Subnet ${s.id} with address prefix ${s.addressPrefix} does not have enough capacity for 1 IP address.`);
  }

  releaseIp(subnetIdValue: string, ip: string): void {
    this.held.get(key(subnetIdValue))?.delete(ip);
  }

  addNic(n: { subscriptionId: string; resourceGroup: string; name: string; location: string; subnetId: string; privateIpAddress: string; allocation: 'Static' | 'Dynamic' }): string {
    const id = nicId(n.subscriptionId, n.resourceGroup, n.name);
    this.nics.set(key(id), { id, name: n.name, location: n.location, subnetId: n.subnetId, privateIpAddress: n.privateIpAddress, allocation: n.allocation });
    return id;
  }

  nic(id: string): NicRecord | undefined {
    return this.nics.get(key(id));
  }

  removeNic(id: string): void {
    const nic = this.nics.get(key(id));
    if (!nic) return;
    this.nics.delete(key(id));
    this.releaseIp(nic.subnetId, nic.privateIpAddress);
  }

  vnetOfSubnet(subnetIdValue: string): VnetRecord | undefined {
    return this.vnets.get(key(parentArmId(subnetIdValue)));
  }

  private heldIn(id: string): Set<string> {
    let s = this.held.get(key(id));
    if (!s) {
      s = new Set();
      this.held.set(key(id), s);
    }
    return s;
  }

  private mustSubnet(id: string): SubnetRecord {
    const s = this.subnets.get(key(id));
    if (!s) throw new Error(`no subnet ${id} (${parseArmId(id).name})`);
    return s;
  }
}

export function parseCidr(cidr: string): { first: number; last: number } {
  const [ip, bitsText] = cidr.split('/');
  const base = ip === undefined ? undefined : ipToInt(ip);
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 8 || bits > 29) throw new Error(`unsupported IPv4 prefix ${cidr}`);
  const size = 2 ** (32 - bits);
  const first = base - (base % size);
  return { first, last: first + size - 1 };
}

export function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** A /27 at the top of the VNet's first prefix, for the auto-created GatewaySubnet. */
function gatewaySubnetPrefix(vnetPrefix: string): string {
  const r = parseCidr(vnetPrefix);
  return `${intToIp(r.last - 31)}/27`;
}
