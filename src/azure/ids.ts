/**
 * ARM resource IDs: parse and format. ARM treats the fixed segments and resource types case-insensitively,
 * so parsing does too, and comparisons go through `sameArmId`.
 */

export interface ArmId {
  subscriptionId: string;
  /** Absent for subscription-scoped resources (e.g. a feature registration). */
  resourceGroup?: string;
  /** Provider namespace, e.g. `Microsoft.Network`. */
  provider?: string;
  /** Resource types from the outermost, e.g. `['virtualNetworks', 'subnets']`. */
  types: string[];
  /** Names matching `types`, e.g. `['vnet-hsm', 'hsm-subnet']`. */
  names: string[];
  /** The last name: the resource's own name. */
  name: string;
}

export class InvalidArmIdError extends Error {
  constructor(id: string, why: string) {
    super(`invalid ARM resource ID '${id}': ${why}`);
    this.name = 'InvalidArmIdError';
  }
}

/** Parses `/subscriptions/{s}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}[/{type}/{name}]...]`. */
export function parseArmId(id: string): ArmId {
  const parts = id.replace(/\/+$/, '').split('/');
  if (parts[0] !== '' || parts.length < 3) throw new InvalidArmIdError(id, 'must start with /subscriptions/{id}');
  const segments = parts.slice(1).map(decodeURIComponent);
  if (segments.some((s) => s === '')) throw new InvalidArmIdError(id, 'empty segment');
  if (segments[0]?.toLowerCase() !== 'subscriptions' || !segments[1]) throw new InvalidArmIdError(id, 'must start with /subscriptions/{id}');
  const result: ArmId = { subscriptionId: segments[1], types: [], names: [], name: segments[1] };
  let i = 2;
  if (segments[i]?.toLowerCase() === 'resourcegroups') {
    const rg = segments[i + 1];
    if (!rg) throw new InvalidArmIdError(id, 'resource group name missing');
    result.resourceGroup = rg;
    result.name = rg;
    i += 2;
  }
  if (i === segments.length) return result;
  if (segments[i]?.toLowerCase() !== 'providers' || !segments[i + 1]) throw new InvalidArmIdError(id, "expected '/providers/{namespace}'");
  result.provider = segments[i + 1];
  i += 2;
  const rest = segments.slice(i);
  if (rest.length === 0 || rest.length % 2 !== 0) throw new InvalidArmIdError(id, 'resource types and names must come in pairs');
  for (let j = 0; j < rest.length; j += 2) {
    result.types.push(rest[j] as string);
    result.names.push(rest[j + 1] as string);
  }
  result.name = result.names[result.names.length - 1] as string;
  return result;
}

/** Formats an ID from its parts (names are not encoded: ARM names never contain '/'). */
export function formatArmId(id: Omit<ArmId, 'name'>): string {
  let out = `/subscriptions/${id.subscriptionId}`;
  if (id.resourceGroup) out += `/resourceGroups/${id.resourceGroup}`;
  if (id.provider) {
    out += `/providers/${id.provider}`;
    id.types.forEach((t, k) => {
      out += `/${t}/${id.names[k] ?? ''}`;
    });
  }
  return out;
}

/** `Microsoft.Network/virtualNetworks/subnets`: the full type of a parsed ID, for checks. */
export function armType(id: ArmId): string {
  return [id.provider ?? '', ...id.types].join('/');
}

/** Parses and checks the full resource type (case-insensitive). */
export function parseArmIdOfType(id: string, type: string): ArmId {
  const parsed = parseArmId(id);
  if (armType(parsed).toLowerCase() !== type.toLowerCase()) throw new InvalidArmIdError(id, `expected a ${type} ID`);
  if (!parsed.resourceGroup) throw new InvalidArmIdError(id, 'resource group missing');
  return parsed;
}

/** The parent resource's ID: a subnet's VNet, a gateway IP configuration's gateway. */
export function parentArmId(id: string): string {
  const parsed = parseArmId(id);
  if (parsed.types.length < 2) throw new InvalidArmIdError(id, 'has no parent resource');
  return formatArmId({ ...parsed, types: parsed.types.slice(0, -1), names: parsed.names.slice(0, -1) });
}

export function sameArmId(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();
}

export const HSM_TYPE = 'Microsoft.HardwareSecurityModules/dedicatedHSMs';
export const SUBNET_TYPE = 'Microsoft.Network/virtualNetworks/subnets';
export const GATEWAY_TYPE = 'Microsoft.Network/virtualNetworkGateways';
export const NIC_TYPE = 'Microsoft.Network/networkInterfaces';

export function hsmId(subscriptionId: string, resourceGroup: string, name: string): string {
  return formatArmId({ subscriptionId, resourceGroup, provider: 'Microsoft.HardwareSecurityModules', types: ['dedicatedHSMs'], names: [name] });
}

export function subnetId(subscriptionId: string, resourceGroup: string, vnet: string, subnet: string): string {
  return formatArmId({ subscriptionId, resourceGroup, provider: 'Microsoft.Network', types: ['virtualNetworks', 'subnets'], names: [vnet, subnet] });
}

export function vnetId(subscriptionId: string, resourceGroup: string, vnet: string): string {
  return formatArmId({ subscriptionId, resourceGroup, provider: 'Microsoft.Network', types: ['virtualNetworks'], names: [vnet] });
}

export function gatewayId(subscriptionId: string, resourceGroup: string, name: string): string {
  return formatArmId({ subscriptionId, resourceGroup, provider: 'Microsoft.Network', types: ['virtualNetworkGateways'], names: [name] });
}

export function nicId(subscriptionId: string, resourceGroup: string, name: string): string {
  return formatArmId({ subscriptionId, resourceGroup, provider: 'Microsoft.Network', types: ['networkInterfaces'], names: [name] });
}

/** The VNet that holds a subnet. */
export function vnetOfSubnet(subnet: string): string {
  parseArmIdOfType(subnet, SUBNET_TYPE);
  return parentArmId(subnet);
}

/** ARM locations compare without case and spaces: "West Europe" is "westeurope". */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}
