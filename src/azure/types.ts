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

/** Options of one Azure plane call. */
export interface AzureCallOptions {
  /**
   * Aborts the call (the SDK's `abortSignal`): an aborted signal sends nothing, one that fires while a request is on
   * the wire stops waiting for its answer (a PUT or DELETE already sent may still take effect). Either way the call
   * throws AzureAbortedError (an AzurePlaneError).
   */
  signal?: AbortSignal;
}

export interface AzurePlane {
  /** undefined when the gateway does not exist. */
  getGateway(id: string, opts?: AzureCallOptions): Promise<GatewayState | undefined>;
  getSubnet(id: string, opts?: AzureCallOptions): Promise<SubnetState | undefined>;
  getNic(id: string, opts?: AzureCallOptions): Promise<NicState | undefined>;
  getFeature(subscriptionId: string, namespace: string, name: string, opts?: AzureCallOptions): Promise<FeatureState>;
  /** undefined when the HSM does not exist (404). */
  getHsm(subscriptionId: string, resourceGroup: string, name: string, opts?: AzureCallOptions): Promise<HsmState | undefined>;
  listHsms(subscriptionId: string, opts?: AzureCallOptions): Promise<HsmState[]>;
  quotaView(subscriptionId: string, location: string, limits?: QuotaLimits, opts?: AzureCallOptions): Promise<QuotaView>;
  /** Sends the PUT and returns at once with a resume token (or the result when ARM answered synchronously). */
  beginCreateHsm(spec: HsmSpec, opts?: AzureCallOptions): Promise<CreateProgress>;
  /** One polling step of a create started by `beginCreateHsm`, possibly in another process. */
  pollCreate(token: string, opts?: AzureCallOptions): Promise<CreateProgress>;
  beginDeleteHsm(subscriptionId: string, resourceGroup: string, name: string, opts?: AzureCallOptions): Promise<DeleteProgress>;
  pollDelete(token: string, opts?: AzureCallOptions): Promise<DeleteProgress>;
  updateTags(subscriptionId: string, resourceGroup: string, name: string, tags: Record<string, string>, opts?: AzureCallOptions): Promise<HsmState>;
  /**
   * The same plane with `signal` passed to every call that names none (a reconcile binds its `rc.signal` once, so its
   * call sites stay as they are). Shares everything else (clients, throttle gate) with this plane.
   */
  withSignal(signal: AbortSignal | undefined): AzurePlane;
}
