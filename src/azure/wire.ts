/**
 * The one place that knows the SDK models: @azure/arm-hardwaresecuritymodules 1.0.0 (api-version 2021-11-30,
 * flattened: `networkProfile.subnet.id`, `networkInterfaces[].id`) and @azure/arm-network 39 (flattened).
 * Newer HSM api-versions rename `subnet.id` / NIC `id` to `resourceId`: an SDK bump changes only this file.
 */
import type { DedicatedHsm } from '@azure/arm-hardwaresecuritymodules';
import type { NetworkInterface, Subnet, VirtualNetworkGateway } from '@azure/arm-network';
import { parentArmId, parseArmId, sameArmId, vnetOfSubnet } from './ids.js';
import type { GatewayState, HsmSpec, HsmState, NicState, SubnetState } from './types.js';

export const HSM_API_VERSION = '2021-11-30';

export function toSdkHsm(spec: HsmSpec): DedicatedHsm {
  const hsm: DedicatedHsm = {
    location: spec.location,
    sku: { name: spec.sku },
    networkProfile: {
      subnet: { id: spec.subnetId },
      ...(spec.privateIpAddress ? { networkInterfaces: [{ privateIpAddress: spec.privateIpAddress }] } : {}),
    },
    tags: { ...(spec.tags ?? {}) },
  };
  if (spec.stampId) hsm.stampId = spec.stampId;
  if (spec.zones?.length) hsm.zones = [...spec.zones];
  return hsm;
}

export function fromSdkHsm(hsm: DedicatedHsm): HsmState {
  const id = hsm.id ?? '';
  const nic = hsm.networkProfile?.networkInterfaces?.[0];
  const state: HsmState = {
    id,
    name: hsm.name ?? (id ? parseArmId(id).name : ''),
    resourceGroup: id ? (parseArmId(id).resourceGroup ?? '') : '',
    location: hsm.location,
    tags: { ...(hsm.tags ?? {}) },
  };
  if (hsm.sku?.name) state.sku = hsm.sku.name;
  if (hsm.stampId) state.stampId = hsm.stampId;
  if (hsm.zones?.length) state.zones = [...hsm.zones];
  if (hsm.networkProfile?.subnet?.id) state.subnetId = hsm.networkProfile.subnet.id;
  if (hsm.provisioningState) state.provisioningState = hsm.provisioningState;
  if (hsm.statusMessage) state.statusMessage = hsm.statusMessage;
  if (nic?.id) state.nicId = nic.id;
  if (nic?.privateIpAddress) state.privateIpAddress = nic.privateIpAddress;
  return state;
}

/** A dedicated HSM as the wire carries it (2021-11-30: `id`; 2024-06-30-preview and later: `resourceId`). */
interface WireHsm {
  id?: string;
  name?: string;
  location?: string;
  zones?: string[];
  tags?: Record<string, string>;
  sku?: { name?: string };
  properties?: {
    stampId?: string;
    provisioningState?: string;
    statusMessage?: string;
    networkProfile?: {
      subnet?: { id?: string; resourceId?: string };
      networkInterfaces?: Array<{ id?: string; resourceId?: string; privateIpAddress?: string }>;
    };
  };
}

/**
 * A dedicated HSM from raw wire JSON (what this plane reads itself: list pages followed through their nextLink
 * verbatim, PATCH answers, resource polls). A nextLink may name another api-version, so both ID field names are read.
 */
export function fromWireHsm(body: unknown): HsmState {
  const b = (typeof body === 'object' && body !== null ? body : {}) as WireHsm;
  const p = b.properties ?? {};
  const subnet = p.networkProfile?.subnet?.id ?? p.networkProfile?.subnet?.resourceId;
  const hsm: DedicatedHsm = {
    ...(b.id ? { id: b.id } : {}),
    ...(b.name ? { name: b.name } : {}),
    location: b.location ?? '',
    tags: b.tags ?? {},
    ...(b.sku?.name ? { sku: { name: b.sku.name } } : {}),
    ...(b.zones?.length ? { zones: [...b.zones] } : {}),
    ...(p.stampId ? { stampId: p.stampId } : {}),
    ...(p.provisioningState ? { provisioningState: p.provisioningState } : {}),
    ...(p.statusMessage ? { statusMessage: p.statusMessage } : {}),
    networkProfile: {
      ...(subnet ? { subnet: { id: subnet } } : {}),
      networkInterfaces: (p.networkProfile?.networkInterfaces ?? []).map((n) => ({
        ...(n.id ?? n.resourceId ? { id: n.id ?? n.resourceId } : {}),
        ...(n.privateIpAddress ? { privateIpAddress: n.privateIpAddress } : {}),
      })),
    },
  };
  return fromSdkHsm(hsm);
}

export function fromSdkGateway(id: string, gw: VirtualNetworkGateway): GatewayState {
  const state: GatewayState = { id: gw.id ?? id };
  if (gw.gatewayType) state.gatewayType = gw.gatewayType;
  if (gw.provisioningState) state.provisioningState = gw.provisioningState;
  const gatewaySubnet = gw.ipConfigurations?.find((c) => c.subnet?.id)?.subnet?.id;
  if (gatewaySubnet) state.vnetId = parentArmId(gatewaySubnet);
  return state;
}

export function fromSdkSubnet(id: string, subnet: Subnet): SubnetState {
  const state: SubnetState = {
    id: subnet.id ?? id,
    vnetId: vnetOfSubnet(subnet.id ?? id),
    delegations: (subnet.delegations ?? []).map((d) => d.serviceName ?? '').filter((s) => s !== ''),
    hasNsg: Boolean(subnet.networkSecurityGroup?.id),
    hasRouteTable: Boolean(subnet.routeTable?.id),
  };
  const prefix = subnet.addressPrefix ?? subnet.addressPrefixes?.[0];
  if (prefix) state.addressPrefix = prefix;
  return state;
}

export function fromSdkNic(id: string, nic: NetworkInterface): NicState {
  const primary = nic.ipConfigurations?.find((c) => c.primary) ?? nic.ipConfigurations?.[0];
  const state: NicState = { id: nic.id ?? id };
  if (primary?.privateIPAddress) state.privateIpAddress = primary.privateIPAddress;
  if (primary?.subnet?.id) state.subnetId = primary.subnet.id;
  if (nic.provisioningState) state.provisioningState = nic.provisioningState;
  return state;
}

/**
 * Immutable properties that differ between what the spec asks and what exists in ARM (all but tags are
 * immutable). Properties the spec leaves open (stamp, zones, IP) only count when the spec sets them.
 */
export function immutableDrift(spec: HsmSpec, hsm: HsmState): string[] {
  const drift: string[] = [];
  const loc = (s: string): string => s.replace(/\s+/g, '').toLowerCase();
  if (loc(spec.location) !== loc(hsm.location)) drift.push('location');
  if (hsm.sku !== undefined && spec.sku !== hsm.sku) drift.push('sku');
  if (hsm.subnetId !== undefined && !sameArmId(spec.subnetId, hsm.subnetId)) drift.push('subnetId');
  if (spec.stampId && hsm.stampId && spec.stampId.toLowerCase() !== hsm.stampId.toLowerCase()) drift.push('stampId');
  if (spec.zones?.length && [...spec.zones].sort().join(',') !== [...(hsm.zones ?? [])].sort().join(',')) drift.push('zones');
  if (spec.privateIpAddress && hsm.privateIpAddress && spec.privateIpAddress !== hsm.privateIpAddress) drift.push('privateIpAddress');
  return drift;
}
