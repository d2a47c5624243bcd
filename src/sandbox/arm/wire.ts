/**
 * Wire JSON of the simulated ARM: the bodies the SDKs deserialize (HSM api-version 2021-11-30, Network,
 * Features, async operation status) and ARM's error envelope `{ error: { code, message, target?, details?,
 * innererror? } }`.
 */

/**
 * One node of an ARM error. `target`, `details` and `additionalInfo` are ARM's common error shape (the
 * resource-management common types, ErrorDetail); `innererror` is the narrower cause the Dedicated HSM provider's own
 * 2021-11-30 swagger declares (DHsmError.innererror, recursive).
 */
export interface ArmErrorNode {
  code: string;
  message: string;
  target?: string;
  details?: ArmErrorNode[];
  innererror?: ArmErrorNode;
}

/** An ARM error answer: status, ARM code, message, extra headers (Retry-After), and the narrower causes. */
export class ArmHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly more: Pick<ArmErrorNode, 'target' | 'details' | 'innererror'> = {},
  ) {
    super(message);
    this.name = 'ArmHttpError';
  }

  body(): { error: ArmErrorNode } {
    return { error: { code: this.code, message: this.message, ...this.more } };
  }
}

/** The innermost message of an error chain (what a provider writes into the resource's statusMessage). */
export function innermostMessage(e: ArmErrorNode): string {
  let node = e;
  while (node.innererror) node = node.innererror;
  return node.details?.[0]?.message ?? node.message;
}

export const HSM_RESOURCE_TYPE = 'Microsoft.HardwareSecurityModules/dedicatedHSMs';
export const LUNA_SKU = 'SafeNet Luna Network HSM A790';
export const STATUS_PROVISIONING = 'DedicatedHsm device is being provisioned.';
export const STATUS_FUNCTIONAL = 'DedicatedHsm device is functional.';

export interface HsmWireView {
  id: string;
  name: string;
  location: string;
  sku: string;
  zones?: string[];
  tags: Record<string, string>;
  stampId?: string;
  subnetId: string;
  nicId?: string;
  privateIpAddress?: string;
  provisioningState: string;
  statusMessage: string;
  createdAt: number;
}

export function hsmBody(h: HsmWireView): Record<string, unknown> {
  const nics = h.nicId ? [{ id: h.nicId, privateIpAddress: h.privateIpAddress }] : h.privateIpAddress ? [{ privateIpAddress: h.privateIpAddress }] : [];
  return {
    id: h.id,
    name: h.name,
    type: HSM_RESOURCE_TYPE,
    location: h.location,
    sku: { name: h.sku },
    ...(h.zones?.length ? { zones: h.zones } : {}),
    tags: h.tags,
    systemData: { createdBy: 'hsm-operator@example.com', createdByType: 'Application', createdAt: new Date(h.createdAt).toISOString() },
    properties: {
      networkProfile: { subnet: { id: h.subnetId }, networkInterfaces: nics },
      ...(h.stampId ? { stampId: h.stampId } : {}),
      statusMessage: h.statusMessage,
      provisioningState: h.provisioningState,
    },
  };
}

export interface OperationWireView {
  id: string;
  path: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  error?: ArmErrorNode;
  startTime: number;
  endTime?: number;
}

export function operationStatusBody(op: OperationWireView): Record<string, unknown> {
  return {
    id: op.path,
    name: op.id,
    status: op.status,
    startTime: new Date(op.startTime).toISOString(),
    ...(op.endTime ? { endTime: new Date(op.endTime).toISOString() } : {}),
    ...(op.error ? { error: op.error } : {}),
  };
}

export function gatewayBody(g: { id: string; name: string; location: string; gatewayType: string; vnetId: string }, state: string): Record<string, unknown> {
  const sku = g.gatewayType === 'ExpressRoute' ? 'ErGw1AZ' : 'VpnGw1';
  return {
    id: g.id,
    name: g.name,
    type: 'Microsoft.Network/virtualNetworkGateways',
    location: g.location,
    etag: 'W/"00000000-0000-0000-0000-000000000001"',
    properties: {
      provisioningState: state,
      gatewayType: g.gatewayType,
      ...(g.gatewayType === 'Vpn' ? { vpnType: 'RouteBased' } : {}),
      sku: { name: sku, tier: sku },
      ipConfigurations: [
        {
          id: `${g.id}/ipConfigurations/default`,
          name: 'default',
          properties: { privateIPAllocationMethod: 'Dynamic', subnet: { id: `${g.vnetId}/subnets/GatewaySubnet` }, provisioningState: state },
        },
      ],
    },
  };
}

export function subnetBody(s: { id: string; name: string; addressPrefix: string; delegations: string[]; nsgId?: string; routeTableId?: string }): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    type: 'Microsoft.Network/virtualNetworks/subnets',
    etag: 'W/"00000000-0000-0000-0000-000000000002"',
    properties: {
      provisioningState: 'Succeeded',
      addressPrefix: s.addressPrefix,
      delegations: s.delegations.map((serviceName, i) => ({
        id: `${s.id}/delegations/delegation${i}`,
        name: `delegation${i}`,
        type: 'Microsoft.Network/virtualNetworks/subnets/delegations',
        properties: {
          serviceName,
          actions: ['Microsoft.Network/networkinterfaces/*', 'Microsoft.Network/virtualNetworks/subnets/join/action'],
          provisioningState: 'Succeeded',
        },
      })),
      ...(s.nsgId ? { networkSecurityGroup: { id: s.nsgId } } : {}),
      ...(s.routeTableId ? { routeTable: { id: s.routeTableId } } : {}),
      privateEndpointNetworkPolicies: 'Disabled',
      privateLinkServiceNetworkPolicies: 'Enabled',
    },
  };
}

export function vnetBody(v: { id: string; name: string; location: string; addressPrefixes: string[] }, subnets: Array<Record<string, unknown>>): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    type: 'Microsoft.Network/virtualNetworks',
    location: v.location,
    properties: { provisioningState: 'Succeeded', addressSpace: { addressPrefixes: v.addressPrefixes }, subnets },
  };
}

export function nicBody(n: { id: string; name: string; location: string; subnetId: string; privateIpAddress: string; allocation: string }): Record<string, unknown> {
  return {
    id: n.id,
    name: n.name,
    type: 'Microsoft.Network/networkInterfaces',
    location: n.location,
    properties: {
      provisioningState: 'Succeeded',
      ipConfigurations: [
        {
          id: `${n.id}/ipConfigurations/ipconfig1`,
          name: 'ipconfig1',
          type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
          properties: {
            provisioningState: 'Succeeded',
            privateIPAddress: n.privateIpAddress,
            privateIPAllocationMethod: n.allocation,
            privateIPAddressVersion: 'IPv4',
            subnet: { id: n.subnetId },
            primary: true,
          },
        },
      ],
    },
  };
}

export function featureBody(subscriptionId: string, namespace: string, name: string, state: string): Record<string, unknown> {
  return {
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.Features/providers/${namespace}/features/${name}`,
    name: `${namespace}/${name}`,
    type: 'Microsoft.Features/providers/features',
    properties: { state },
  };
}
