/**
 * The Azure plane as the DedicatedHsm controller sees it: a narrow external client (Crossplane style) returning
 * plain data. Every method throws `AzurePlaneError` (see errors.ts) on failure, already classified.
 */

export interface GatewayState {
  id: string;
  /** `ExpressRoute` | `Vpn` | `LocalGateway`. */
  gatewayType?: string;
  /** `Succeeded` | `Updating` | `Deleting` | `Failed` | `Creating` | `Canceled`. */
  provisioningState?: string;
  /** The VNet of the gateway's `GatewaySubnet`. */
  vnetId?: string;
}

export interface SubnetState {
  id: string;
  vnetId: string;
  addressPrefix?: string;
  /** Service names the subnet is delegated to. */
  delegations: string[];
  hasNsg: boolean;
  hasRouteTable: boolean;
}

export interface HsmState {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  sku?: string;
  stampId?: string;
  zones?: string[];
  subnetId?: string;
  provisioningState?: string;
  statusMessage?: string;
  nicId?: string;
  privateIpAddress?: string;
  tags: Record<string, string>;
}

/** What the operator asks ARM to create. All properties but `tags` are immutable once created. */
export interface HsmSpec {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  sku: string;
  stampId?: string;
  zones?: string[];
  subnetId: string;
  privateIpAddress?: string;
  tags?: Record<string, string>;
}

export interface NicState {
  id: string;
  privateIpAddress?: string;
  subnetId?: string;
  provisioningState?: string;
}

export interface FeatureState {
  /** `Microsoft.HardwareSecurityModules/AzureDedicatedHSM`. */
  name: string;
  /** `Registered` | `NotRegistered` | `Pending` | `Registering` | `Unregistering` | `Unregistered`. */
  state: string;
}

export interface FailedLeftover {
  name: string;
  id: string;
  stampId?: string;
}

/** HSM usage of one subscription in one region, as the quota counts it: failed leftovers included. */
export interface QuotaView {
  /** HSMs per stamp (or `zone-<z>` in zonal regions, `unassigned` when ARM does not say). */
  byStamp: Record<string, number>;
  region: number;
  failedLeftovers: FailedLeftover[];
  limits: QuotaLimits;
  /** ARM ids (lower case) of the HSMs counted, so a deployment this operator just sent is not counted twice. */
  ids?: readonly string[];
}

export interface QuotaLimits {
  perStamp: number;
  perRegion: number;
}

/** Progress of a long-running operation; `token` is opaque and must be persisted before anything else. */
export type CreateProgress = { done: false; token: string } | { done: true; hsm: HsmState };
export type DeleteProgress = { done: false; token: string } | { done: true };

export interface AzurePlane {
  /** undefined when the gateway does not exist. */
  getGateway(id: string): Promise<GatewayState | undefined>;
  getSubnet(id: string): Promise<SubnetState | undefined>;
  getNic(id: string): Promise<NicState | undefined>;
  getFeature(subscriptionId: string, namespace: string, name: string): Promise<FeatureState>;
  /** undefined when the HSM does not exist (404). */
  getHsm(subscriptionId: string, resourceGroup: string, name: string): Promise<HsmState | undefined>;
  listHsms(subscriptionId: string): Promise<HsmState[]>;
  quotaView(subscriptionId: string, location: string, limits?: QuotaLimits): Promise<QuotaView>;
  /** Sends the PUT and returns at once with a resume token (or the result when ARM answered synchronously). */
  beginCreateHsm(spec: HsmSpec): Promise<CreateProgress>;
  /** One polling step of a create started by `beginCreateHsm`, possibly in another process. */
  pollCreate(token: string): Promise<CreateProgress>;
  beginDeleteHsm(subscriptionId: string, resourceGroup: string, name: string): Promise<DeleteProgress>;
  pollDelete(token: string): Promise<DeleteProgress>;
  updateTags(subscriptionId: string, resourceGroup: string, name: string, tags: Record<string, string>): Promise<HsmState>;
}
