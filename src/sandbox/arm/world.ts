/**
 * The simulated Azure world behind the ARM simulator, scriptable through plain TypeScript: networks, gateways,
 * feature registrations, quota, capacity, faults, timing, and the dedicated HSMs themselves. It enforces what the
 * real service enforces (name rules, allowlisting, subnet delegation, the gateway race, quota counting failed
 * leftovers, stamp capacity, immutable properties, zeroization before delete) and walks provisioning through
 * CheckingQuota -> Allocating -> Connecting -> Provisioning -> Succeeded on timers.
 */
import { randomUUID } from 'node:crypto';
import { hsmId, normalizeLocation, sameArmId } from '../../azure/ids.js';
import type { QuotaLimits } from '../../azure/types.js';
import { FaultQueue } from './faults.js';
import type { RequestFilter } from './faults.js';
import { NAME_RULE, STAMPS, changedImmutable, parseHsmBody, stampOf, stringRecord } from './hsm-request.js';
import { HSM_DELEGATION, SimNetwork } from './network.js';
import type { GatewayTimeline, SubnetRecord } from './network.js';
import { ArmHttpError, HSM_RESOURCE_TYPE, LUNA_SKU, STATUS_FUNCTIONAL, STATUS_PROVISIONING, featureBody, gatewayBody, hsmBody, innermostMessage, nicBody, operationStatusBody, subnetBody, vnetBody } from './wire.js';
import type { ArmErrorNode, HsmWireView, OperationWireView } from './wire.js';

/** How a PUT answers: `Azure-AsyncOperation` (201 + operation status URL) or `body` (no header: poll provisioningState). */
export type LroStyle = 'asyncOperation' | 'body';
/**
 * How a DELETE answers. `resourceLocation`: 202 with a `Location` naming the HSM itself, no api-version, trailing
 * slash (the form of azure-rest-api-specs hardwaresecuritymodules 2025-03-31 example DedicatedHsm_Delete.json); the
 * resource reads `Deleting` until it is gone (404). `operationResult`: 202 with a `Location` on an operationResults
 * URL that answers 202 until done, then 204 (ARM's generic async pattern). `asyncOperation`: 202 with an
 * `Azure-AsyncOperation` operation-status URL (`{ status, error? }`) besides that Location (ARM's async-operation
 * pattern, as the PUT uses it).
 */
export type DeleteStyle = 'resourceLocation' | 'operationResult' | 'asyncOperation';
/**
 * How a PATCH (tags) answers. `sync`: 200 with the resource (2021-11-30 swagger: 200 only). `resourceLocation`: 202
 * with a `Location` on the HSM itself (2025-03-31 example DedicatedHsm_Update.json); the tags change a phase later.
 */
export type PatchStyle = 'sync' | 'resourceLocation';
export type PutFailureKind = 'race' | 'internal';

export interface ApplianceLink {
  isZeroized(): boolean | Promise<boolean>;
}

export interface HsmEvent {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  privateIpAddress?: string;
  nicId?: string;
}

/** An HTTP answer of a world operation. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface HsmRecord extends HsmWireView {
  subscriptionId: string;
  resourceGroup: string;
  /** The IP asked for in the PUT (kept to re-run a failed deployment). */
  requestedIp?: string;
  /** The IP held in the subnet for this HSM. */
  heldIp?: string;
  /** A device of the stamp is allocated to it (counts against capacity). */
  holdsDevice: boolean;
  /** Bumped by every new operation: timers of an older one become no-ops. */
  generation: number;
  opId?: string;
}

interface OperationRecord extends OperationWireView {
  kind: 'create' | 'delete';
  hsmKey: string;
}

export const REQUIRED_FEATURES: ReadonlyArray<readonly [namespace: string, name: string]> = [
  ['Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM'],
  ['Microsoft.Network', 'AllowBaremetalServers'],
];

const DEFAULT_CAPACITY_PER_STAMP = 12;
const key = (s: string): string => s.toLowerCase();

export interface WorldOptions {
  /** Time each provisioning phase takes (and a delete), ms. */
  provisioningMs?: number;
  /** Register the two allowlisting features for every subscription. Default true. */
  allowlisted?: boolean;
  lroStyle?: LroStyle;
  /** Default `resourceLocation`, the published example's form. */
  deleteStyle?: DeleteStyle;
  /** Default `sync`. */
  patchStyle?: PatchStyle;
  quota?: QuotaLimits;
  /**
   * Regions with availability zones, where a PUT with `stampId` is refused. Default `southeastasia`, the region of
   * hashicorp/terraform-provider-azurerm issue #8741 (the service refused stampId there since zones are supported).
   */
  zonalRegions?: string[];
}

export class ArmWorld {
  readonly network = new SimNetwork(() => Date.now());
  private readonly hsmRecords = new Map<string, HsmRecord>();
  private readonly operations = new Map<string, OperationRecord>();
  private readonly features = new Map<string, string>();
  /** `<subscription>|<namespace>` (or `*|<namespace>`) of resource providers NOT registered. */
  private readonly unregisteredProviders = new Set<string>();
  private readonly zonalRegions = new Set<string>();
  private readonly quotas = new Map<string, QuotaLimits>();
  private readonly capacities = new Map<string, number>();
  private readonly faults = new FaultQueue();
  private readonly putFailures: PutFailureKind[] = [];
  private deleteFailures = 0;
  private readonly appliances = new Map<string, ApplianceLink>();
  private readonly neverFinish = new Set<string>();
  /** Last steps held back by `lroNeverFinishes`, run when it is lifted. */
  private readonly parked = new Map<string, () => void>();
  private readonly readyListeners = new Set<(e: HsmEvent) => void>();
  private readonly deletedListeners = new Set<(e: HsmEvent) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  latencyMs = 0;
  /**
   * Which bearer tokens ARM accepts. Unset: any (a token is still required). Set (e.g. to an Entra simulator's
   * `issued`), every other token is refused with 401 InvalidAuthenticationToken, as ARM refuses a token it cannot
   * validate.
   */
  acceptToken: ((token: string) => boolean) | undefined;
  provisioningMs: number;
  lroStyle: LroStyle;
  deleteStyle: DeleteStyle;
  patchStyle: PatchStyle;

  /** HSM PUTs that arrived while the gateway of their VNet was not Succeeded (the deployment race, not forced). */
  gatewayRaces = 0;
  /**
   * After an HSM PUT that found the gateway Succeeded, the gateway of its VNet reads `Updating` for this long (ms),
   * then `Succeeded`. Assumed, not documented: the guide only says the networking resources are dependencies of the
   * HSM and timing is crucial; scripting it lets tests aim a second PUT at that window. Off (undefined) by default.
   */
  gatewayUpdatingAfterHsmPutMs: number | undefined;

  constructor(opts: WorldOptions = {}) {
    this.provisioningMs = opts.provisioningMs ?? 10;
    this.lroStyle = opts.lroStyle ?? 'asyncOperation';
    this.deleteStyle = opts.deleteStyle ?? 'resourceLocation';
    this.patchStyle = opts.patchStyle ?? 'sync';
    for (const r of opts.zonalRegions ?? ['southeastasia']) this.zonalRegions.add(normalizeLocation(r));
    this.quotas.set('*', opts.quota ?? { perStamp: 2, perRegion: 4 });
    if (opts.allowlisted ?? true) for (const [ns, name] of REQUIRED_FEATURES) this.registerFeature(ns, name);
  }

  // ---- scripting: network ----

  addVnet(v: { subscriptionId: string; resourceGroup: string; name: string; location?: string; addressPrefixes?: string[] }): string {
    return this.network.addVnet(v);
  }

  addSubnet(s: { vnetId: string; name: string; addressPrefix: string; delegated?: boolean; nsg?: boolean; routeTable?: boolean }): string {
    return this.network.addSubnet(s);
  }

  setSubnetDelegated(subnetId: string, delegated: boolean): void {
    this.network.setDelegated(subnetId, delegated);
  }

  /** `timeline` e.g. `[['Updating', 500], ['Succeeded']]`; default Succeeded at once. */
  addGateway(g: { vnetId: string; name: string; gatewayType?: string; timeline?: GatewayTimeline }): string {
    return this.network.addGateway(g);
  }

  setGatewayState(idOrName: string, state: string): void {
    this.network.setGatewayState(idOrName, state);
  }

  setGatewayTimeline(idOrName: string, timeline: GatewayTimeline): void {
    this.network.setGatewayTimeline(idOrName, timeline);
  }

  gatewayState(idOrName: string): string | undefined {
    const g = this.network.gateway(idOrName);
    return g && this.network.gatewayState(g);
  }

  // ---- scripting: subscription ----

  registerFeature(namespace: string, name: string, opts: { subscriptionId?: string; state?: string } = {}): void {
    this.features.set(key(`${opts.subscriptionId ?? '*'}|${namespace}/${name}`), opts.state ?? 'Registered');
  }

  unregisterFeature(namespace: string, name: string, opts: { subscriptionId?: string } = {}): void {
    this.registerFeature(namespace, name, { ...opts, state: 'NotRegistered' });
  }

  featureState(subscriptionId: string, namespace: string, name: string): string {
    return this.features.get(key(`${subscriptionId}|${namespace}/${name}`)) ?? this.features.get(key(`*|${namespace}/${name}`)) ?? 'NotRegistered';
  }

  /** The resource provider `namespace` is not registered on the subscription (or on all): PUTs get MissingSubscriptionRegistration. */
  unregisterProvider(namespace: string, opts: { subscriptionId?: string } = {}): void {
    this.unregisteredProviders.add(key(`${opts.subscriptionId ?? '*'}|${namespace}`));
  }

  registerProvider(namespace: string, opts: { subscriptionId?: string } = {}): void {
    this.unregisteredProviders.delete(key(`${opts.subscriptionId ?? '*'}|${namespace}`));
  }

  /** Whether `location` has availability zones (a PUT with stampId is refused there). */
  setZonalRegion(location: string, zonal = true): void {
    if (zonal) this.zonalRegions.add(normalizeLocation(location));
    else this.zonalRegions.delete(normalizeLocation(location));
  }

  setQuota(limits: Partial<QuotaLimits>, opts: { subscriptionId?: string } = {}): void {
    const scope = opts.subscriptionId ?? '*';
    this.quotas.set(key(scope), { ...this.quotaFor(scope), ...limits });
  }

  /** Free customer devices per stamp (default 12), across all subscriptions. */
  setCapacity(perStamp: number, opts: { location?: string; stampId?: string } = {}): void {
    this.capacities.set(key(`${opts.location ? normalizeLocation(opts.location) : '*'}|${opts.stampId ?? '*'}`), perStamp);
  }

  // ---- scripting: faults and timing ----

  /** The next `n` accepted HSM PUTs fail asynchronously: `race` like the documented gateway race. */
  failNextPuts(n: number, kind: PutFailureKind = 'race'): void {
    for (let i = 0; i < n; i++) this.putFailures.push(kind);
  }

  /**
   * The next `n` accepted DELETEs end Failed: the operation reports an InternalServerError (documented ARM code) and
   * the HSM stays, provisioningState Failed.
   */
  failNextDeletes(n: number): void {
    this.deleteFailures += n;
  }

  /** The next `count` matching requests get 429 with `Retry-After` (seconds, or an HTTP date string). */
  throttle(count: number, retryAfter: number | string, filter?: RequestFilter): void {
    this.faults.throttle(count, retryAfter, filter);
  }

  /** The next `n` matching requests fail with `status`. */
  failNext(n: number, status: number, filter?: RequestFilter): void {
    this.faults.failNext(n, status, filter);
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Time per provisioning phase (and per delete), ms. */
  setProvisioningTiming(ms: number): void {
    this.provisioningMs = ms;
  }

  /** `body`: PUT answers without Azure-AsyncOperation, so pollers poll the resource's provisioningState. */
  setLroStyle(style: LroStyle): void {
    this.lroStyle = style;
  }

  setDeleteStyle(style: DeleteStyle): void {
    this.deleteStyle = style;
  }

  setPatchStyle(style: PatchStyle): void {
    this.patchStyle = style;
  }

  /** Deletion of `hsmName` is refused unless the appliance says it is zeroized. */
  linkAppliance(hsmName: string, link: ApplianceLink): void {
    this.appliances.set(key(hsmName), link);
  }

  unlinkAppliance(hsmName: string): void {
    this.appliances.delete(key(hsmName));
  }

  /** Operations on `hsmName` stop before their end: create stays Provisioning, delete stays Deleting, a 202 PATCH keeps the old tags. */
  lroNeverFinishes(hsmName: string, never = true): void {
    if (never) {
      this.neverFinish.add(key(hsmName));
      return;
    }
    this.neverFinish.delete(key(hsmName));
    const resume = this.parked.get(key(hsmName));
    this.parked.delete(key(hsmName));
    resume?.();
  }

  /** Someone deleted the HSM in the portal: gone at once, no checks. */
  deleteOutOfBand(nameOrId: string): void {
    const rec = this.find(nameOrId);
    if (!rec) throw new Error(`no dedicated HSM ${nameOrId}`);
    const op = rec.opId ? this.operations.get(rec.opId) : undefined;
    // ResourceDeleted: ASSUMED.
    if (op?.status === 'InProgress') this.finishOp(op, 'Failed', { code: 'ResourceDeleted', message: `The dedicated HSM '${rec.name}' was deleted while the operation was running.` });
    this.remove(rec);
  }

  /** Seeds an existing HSM (adoption, failed leftovers, other tenants' usage). */
  addHsm(s: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    subnetId?: string;
    stampId?: string;
    zones?: string[];
    sku?: string;
    provisioningState?: string;
    statusMessage?: string;
    privateIpAddress?: string;
    tags?: Record<string, string>;
  }): string {
    const id = hsmId(s.subscriptionId, s.resourceGroup, s.name);
    const state = s.provisioningState ?? 'Succeeded';
    const rec: HsmRecord = {
      id,
      name: s.name,
      subscriptionId: s.subscriptionId,
      resourceGroup: s.resourceGroup,
      location: s.location,
      sku: s.sku ?? LUNA_SKU,
      tags: { ...(s.tags ?? {}) },
      subnetId: s.subnetId ?? `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroup}/providers/Microsoft.Network/virtualNetworks/seeded/subnets/hsmsubnet`,
      provisioningState: state,
      statusMessage: s.statusMessage ?? (state === 'Succeeded' ? STATUS_FUNCTIONAL : state === 'Failed' ? 'Deployment failed.' : STATUS_PROVISIONING),
      createdAt: Date.now(),
      holdsDevice: true,
      generation: 0,
    };
    if (s.zones?.length) rec.zones = [...s.zones];
    else rec.stampId = s.stampId ?? 'stamp1';
    if (state === 'Succeeded' && s.subnetId && this.network.subnet(s.subnetId)) {
      rec.heldIp = this.network.holdIp(s.subnetId, s.privateIpAddress);
      this.attachNic(rec);
    } else if (s.privateIpAddress) {
      rec.privateIpAddress = s.privateIpAddress;
    }
    this.hsmRecords.set(key(id), rec);
    return id;
  }

  // ---- inspection and events ----

  hsm(nameOrId: string): Readonly<HsmWireView & { subscriptionId: string; resourceGroup: string }> | undefined {
    const rec = this.find(nameOrId);
    return rec && { ...rec, tags: { ...rec.tags } };
  }

  hsmNames(): string[] {
    return [...this.hsmRecords.values()].map((h) => h.name).sort();
  }

  onHsmReady(cb: (e: HsmEvent) => void): () => void {
    this.readyListeners.add(cb);
    return () => this.readyListeners.delete(cb);
  }

  onHsmDeleted(cb: (e: HsmEvent) => void): () => void {
    this.deletedListeners.add(cb);
    return () => this.deletedListeners.delete(cb);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- request handling (called by the HTTP server) ----

  /** A scripted fault for this request, if one is due. */
  takeFault(method: string, path: string): ArmHttpError | undefined {
    return this.faults.take(method, path);
  }

  getHsm(sub: string, rg: string, name: string): Reply {
    return { status: 200, body: hsmBody(this.mustHsm(sub, rg, name)) };
  }

  listHsms(sub: string, rg?: string): Array<Record<string, unknown>> {
    return [...this.hsmRecords.values()]
      .filter((h) => key(h.subscriptionId) === key(sub) && (rg === undefined || key(h.resourceGroup) === key(rg)))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(hsmBody);
  }

  putHsm(sub: string, rg: string, name: string, body: unknown, baseUrl: string): Reply {
    if (!NAME_RULE.test(name))
      throw new ArmHttpError(400, 'InvalidResourceName', `The resource name '${name}' is invalid. A dedicated HSM name must be 3 to 24 characters long and contain only letters, digits and hyphens.`);
    const req = parseHsmBody(body);
    // Documented ARM code (ARM docs, "Resolve errors for resource provider registration"): the provider itself is not
    // registered on the subscription. Wording is the simulator's own.
    if (this.providerUnregistered(sub, 'Microsoft.HardwareSecurityModules'))
      throw new ArmHttpError(409, 'MissingSubscriptionRegistration', `Subscription '${sub}' has no registration for the resource provider namespace 'Microsoft.HardwareSecurityModules'.`);
    for (const [ns, feature] of REQUIRED_FEATURES) {
      // SubscriptionNotRegisteredForFeature: ARM's code for a feature flag the subscription lacks, seen in public reports
      // (Microsoft.Network/AllowBringYourOwnPublicIpAddress failures; the Storage RP error table lists it as 409).
      if (this.featureState(sub, ns, feature) !== 'Registered')
        throw new ArmHttpError(
          409,
          'SubscriptionNotRegisteredForFeature',
          `Subscription '${sub}' lacks the feature '${ns}/${feature}' that dedicated HSM deployments need.`,
        );
    }
    // Seen in public reports (hashicorp/terraform-provider-azurerm #8741): in a region with availability zones the
    // service refuses stampId. Status 400 and code BadRequest are assumed (the report shows only the message, in a
    // screenshot); the target names the property. Wording is the simulator's own.
    if (req.stampId && (req.zones?.length || this.zonalRegions.has(normalizeLocation(req.location))))
      throw new ArmHttpError(400, 'BadRequest', `Region '${req.location}' has availability zones: give zones and leave stampId out.`, {}, { target: 'properties.stampId' });
    const id = hsmId(sub, rg, name);
    const existing = this.hsmRecords.get(key(id));
    if (existing) {
      const changed = changedImmutable(existing, req);
      if (changed.length)
        throw new ArmHttpError(400, 'PropertyChangeNotAllowed', `Changing property '${changed.join("', '")}' is not allowed: all properties of a dedicated HSM except tags are immutable.`);
      if (existing.provisioningState === 'Succeeded') {
        existing.tags = req.tags;
        return { status: 200, body: hsmBody(existing) };
      }
      if (existing.provisioningState !== 'Failed')
        throw new ArmHttpError(409, 'AnotherOperationInProgress', `Another operation is in progress on dedicated HSM '${name}' (provisioningState '${existing.provisioningState}'). Retry when it completes.`);
      // Re-running a failed deployment: the same resource goes through provisioning again.
      this.checkDelegation(existing.subnetId);
      existing.tags = req.tags;
      if (!existing.heldIp) existing.heldIp = this.network.holdIp(existing.subnetId, existing.requestedIp);
      return this.startCreate(existing, baseUrl, 200);
    }
    const subnet = this.network.subnet(req.subnetId);
    // InvalidResourceReference: documented ARM code (common deployment errors).
    if (!subnet) throw new ArmHttpError(400, 'InvalidResourceReference', `Resource ${req.subnetId} referenced by resource ${id} was not found.`);
    this.checkDelegation(subnet.id);
    const rec: HsmRecord = {
      id,
      name,
      subscriptionId: sub,
      resourceGroup: rg,
      location: req.location,
      sku: req.sku,
      tags: req.tags,
      subnetId: subnet.id,
      provisioningState: 'CheckingQuota',
      statusMessage: STATUS_PROVISIONING,
      createdAt: Date.now(),
      holdsDevice: false,
      generation: 0,
      heldIp: this.network.holdIp(subnet.id, req.privateIpAddress),
    };
    if (req.privateIpAddress) rec.requestedIp = rec.privateIpAddress = req.privateIpAddress;
    if (req.zones?.length) rec.zones = req.zones;
    if (req.stampId) rec.stampId = req.stampId;
    this.hsmRecords.set(key(id), rec);
    return this.startCreate(rec, baseUrl, 201);
  }

  patchHsm(sub: string, rg: string, name: string, body: unknown, baseUrl: string): Reply {
    const rec = this.mustHsm(sub, rg, name);
    const raw = (body as { tags?: unknown } | undefined)?.tags;
    const tags = raw === undefined ? undefined : stringRecord(raw, 'tags');
    if (this.patchStyle === 'sync') {
      if (tags) rec.tags = tags;
      return { status: 200, body: hsmBody(rec) };
    }
    // 202 + Location on the HSM itself (2025-03-31 example DedicatedHsm_Update.json); the new tags show a phase later,
    // and provisioningState stays as it was (the enum has no updating state).
    if (tags) {
      const apply = (): void => {
        if (this.neverFinish.has(key(rec.name))) this.parked.set(key(rec.name), apply);
        else rec.tags = tags;
      };
      this.later(apply);
    }
    return { status: 202, headers: { Location: this.resourceUrl(baseUrl, rec) } };
  }

  async deleteHsm(sub: string, rg: string, name: string, baseUrl: string): Promise<Reply> {
    let rec = this.hsmRecords.get(key(hsmId(sub, rg, name)));
    if (!rec) return { status: 204 };
    const running = rec.opId ? this.operations.get(rec.opId) : undefined;
    if (rec.provisioningState === 'Deleting' && running?.status === 'InProgress') return this.deleteAccepted(baseUrl, rec, running);
    const link = this.appliances.get(key(name));
    // HsmNotZeroized: ASSUMED. The Dedicated HSM docs say an HSM must be zeroized before deletion but publish no code.
    if (link && !(await link.isZeroized()))
      throw new ArmHttpError(409, 'HsmNotZeroized', `The dedicated HSM '${name}' cannot be deleted because the HSM is not zeroized. Zeroize the HSM before deleting the resource.`);
    rec = this.hsmRecords.get(key(hsmId(sub, rg, name)));
    if (!rec) return { status: 204 };
    if (running?.status === 'InProgress') this.finishOp(running, 'Canceled');
    const op = this.newOp('delete', rec);
    const gen = ++rec.generation;
    rec.provisioningState = 'Deleting';
    const target = rec;
    const fails = this.deleteFailures > 0;
    if (fails) this.deleteFailures--;
    const finish = (): void => {
      if (target.generation !== gen) return;
      if (this.neverFinish.has(key(target.name))) {
        this.parked.set(key(target.name), finish);
        return;
      }
      if (fails) {
        const error = { code: 'InternalServerError', message: `The dedicated HSM '${target.name}' could not be deleted. Retry the deletion.` };
        target.provisioningState = 'Failed';
        target.statusMessage = error.message;
        this.finishOp(op, 'Failed', error);
        return;
      }
      this.remove(target);
      this.finishOp(op, 'Succeeded');
    };
    this.later(finish);
    return this.deleteAccepted(baseUrl, rec, op);
  }

  private deleteAccepted(baseUrl: string, rec: HsmRecord, op: OperationRecord): Reply {
    if (this.deleteStyle === 'resourceLocation') return { status: 202, headers: { Location: this.resourceUrl(baseUrl, rec) } };
    const headers: Record<string, string> = { Location: this.opUrl(baseUrl, op, 'operationResults') };
    if (this.deleteStyle === 'asyncOperation') headers['Azure-AsyncOperation'] = this.opUrl(baseUrl, op, 'operationStatuses');
    return { status: 202, headers };
  }

  /** The HSM's own URL as the published examples give it in a Location: no api-version, trailing slash. */
  private resourceUrl(baseUrl: string, rec: HsmRecord): string {
    return `${baseUrl}${rec.id}/`;
  }

  private providerUnregistered(sub: string, namespace: string): boolean {
    return this.unregisteredProviders.has(key(`${sub}|${namespace}`)) || this.unregisteredProviders.has(key(`*|${namespace}`));
  }

  /**
   * A subnet without the delegation is refused when the PUT arrives: a 400 whose outer code and message are generic
   * (BadRequest, documented) and whose `details` carry the cause with its `target` (ARM's common error shape).
   * SubnetMissingRequiredDelegation is Microsoft.Network's code for a subnet lacking a required delegation, seen in
   * public reports; whether the HSM provider passes it through is assumed. Wording is the simulator's own.
   */
  private checkDelegation(subnetIdValue: string): void {
    const subnet = this.network.subnet(subnetIdValue);
    if (!subnet || subnet.delegations.includes(HSM_DELEGATION)) return;
    throw new ArmHttpError(400, 'BadRequest', 'The request failed validation; see details.', {}, {
      details: [
        {
          code: 'SubnetMissingRequiredDelegation',
          target: 'properties.networkProfile.subnet.id',
          message: `Subnet '${subnet.id}' has no delegation to '${HSM_DELEGATION}'; add it before deploying dedicated HSMs into the subnet.`,
        },
      ],
    });
  }

  operationStatus(sub: string, opId: string): Reply {
    return { status: 200, body: operationStatusBody(this.mustOp(sub, opId)) };
  }

  operationResult(sub: string, opId: string, baseUrl: string): Reply {
    const op = this.mustOp(sub, opId);
    if (op.status === 'InProgress') return { status: 202, headers: { Location: this.opUrl(baseUrl, op, 'operationResults') } };
    if (op.status === 'Succeeded') return { status: 204 };
    const e = op.error ?? { code: 'InternalServerError', message: 'The operation failed.' };
    throw new ArmHttpError(500, e.code, e.message, {}, { ...(e.details ? { details: e.details } : {}), ...(e.innererror ? { innererror: e.innererror } : {}) });
  }

  getGateway(sub: string, rg: string, name: string): Reply {
    const g = [...this.network.gateways.values()].find((x) => sameArmId(x.id, `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworkGateways/${name}`));
    if (!g) throw notFound('Microsoft.Network/virtualNetworkGateways', name, rg);
    return { status: 200, body: gatewayBody(g, this.network.gatewayState(g)) };
  }

  getVnet(sub: string, rg: string, name: string): Reply {
    const v = this.network.vnets.get(key(`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/${name}`));
    if (!v) throw notFound('Microsoft.Network/virtualNetworks', name, rg);
    const subnets = [...this.network.subnets.values()].filter((s) => sameArmId(s.vnetId, v.id)).map(subnetBody);
    return { status: 200, body: vnetBody(v, subnets) };
  }

  getSubnet(sub: string, rg: string, vnet: string, name: string): Reply {
    const s = this.network.subnet(`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/${vnet}/subnets/${name}`);
    if (!s) throw notFound('Microsoft.Network/virtualNetworks/subnets', `${vnet}/${name}`, rg);
    return { status: 200, body: subnetBody(s) };
  }

  getNic(sub: string, rg: string, name: string): Reply {
    const n = this.network.nic(`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/networkInterfaces/${name}`);
    if (!n) throw notFound('Microsoft.Network/networkInterfaces', name, rg);
    return { status: 200, body: nicBody(n) };
  }

  getFeature(sub: string, namespace: string, name: string): Reply {
    return { status: 200, body: featureBody(sub, namespace, name, this.featureState(sub, namespace, name)) };
  }

  // ---- provisioning ----

  private startCreate(rec: HsmRecord, baseUrl: string, status: number): Reply {
    // The networking prerequisites are judged when the PUT arrives: the race is about the gateway's state then.
    const networkFailure = this.networkVerdict(rec);
    const op = this.newOp('create', rec);
    const gen = ++rec.generation;
    rec.provisioningState = 'CheckingQuota';
    rec.statusMessage = STATUS_PROVISIONING;
    const current = (): boolean => rec.generation === gen && this.hsmRecords.get(key(rec.id)) === rec;
    const steps: Array<() => boolean> = [
      () => {
        const quota = this.quotaVerdict(rec);
        if (quota) return this.failCreate(rec, op, quota, false);
        rec.provisioningState = 'Allocating';
        return true;
      },
      () => {
        if (!rec.holdsDevice) {
          const capacity = this.capacityVerdict(rec);
          if (capacity) return this.failCreate(rec, op, capacity, false);
          rec.holdsDevice = true;
        }
        rec.provisioningState = 'Connecting';
        return true;
      },
      () => {
        // A failure here leaves a failed leftover that keeps its device and keeps counting against quota.
        if (networkFailure) return this.failCreate(rec, op, networkFailure, true);
        this.attachNic(rec);
        rec.provisioningState = 'Provisioning';
        return true;
      },
      () => {
        if (this.neverFinish.has(key(rec.name))) {
          this.parked.set(key(rec.name), () => {
            if (current()) steps[3]?.();
          });
          return false;
        }
        rec.provisioningState = 'Succeeded';
        rec.statusMessage = STATUS_FUNCTIONAL;
        this.finishOp(op, 'Succeeded');
        this.emit(this.readyListeners, rec);
        return false;
      },
    ];
    const run = (i: number): void => {
      this.later(() => {
        const step = steps[i];
        if (current() && step?.()) run(i + 1);
      });
    };
    run(0);
    const headers: Record<string, string> = this.lroStyle === 'asyncOperation' ? { 'Azure-AsyncOperation': this.opUrl(baseUrl, op, 'operationStatuses') } : {};
    return { status, body: hsmBody(rec), headers };
  }

  /**
   * Codes of asynchronous failures. Dedicated HSM publishes no error codes; where nothing public names one, the
   * simulator's code is invented and marked ASSUMED: NetworkingDependencyNotReady (the gateway race),
   * InvalidSubnetConfiguration (NSG/UDR on the subnet). DeploymentFailed and InternalServerError are documented ARM
   * codes (common deployment errors).
   */
  private networkVerdict(rec: HsmRecord): ArmErrorNode | undefined {
    const forced = this.putFailures.shift();
    const subnet = this.network.subnet(rec.subnetId) as SubnetRecord;
    if (subnet.nsgId || subnet.routeTableId)
      // The narrower cause under a generic one, as the provider's swagger allows (DHsmError.innererror).
      return {
        code: 'DeploymentFailed',
        message: 'The dedicated HSM could not be connected to its subnet.',
        innererror: {
          code: 'InvalidSubnetConfiguration', // ASSUMED
          message: `Subnet '${subnet.id}' has a network security group or route table associated with it; the subnet of dedicated HSMs must have neither.`,
        },
      };
    if (forced === 'internal') return { code: 'InternalServerError', message: 'An internal error occurred while deploying the dedicated HSM. Retry the operation.' };
    const gw = this.network.gatewayOfVnet(subnet.vnetId);
    if (!gw || gw.gatewayType !== 'ExpressRoute')
      return {
        code: 'NetworkingDependencyNotReady', // ASSUMED
        message: `No ExpressRoute gateway was found in virtual network '${subnet.vnetId}': the networking dependencies of the dedicated HSM are not ready.`,
      };
    const state = forced === 'race' ? 'Updating' : this.network.gatewayState(gw);
    if (state !== 'Succeeded' && forced !== 'race') this.gatewayRaces++;
    if (state === 'Succeeded' && this.gatewayUpdatingAfterHsmPutMs) this.network.setGatewayTimeline(gw.id, [['Updating', this.gatewayUpdatingAfterHsmPutMs], ['Succeeded']]);
    if (state !== 'Succeeded')
      return {
        code: 'NetworkingDependencyNotReady', // ASSUMED
        message: `The ExpressRoute gateway '${gw.id}' was in provisioning state '${state}' while the dedicated HSM was being connected: networking dependencies were not ready. Retry the deployment once the gateway has succeeded.`,
      };
    return undefined;
  }

  /** Every HSM of the subscription in the region counts, failed leftovers included. Assigns a stamp if none. */
  /** QuotaExceeded: seen in public reports (ARM providers' quota failures; ResourceQuotaExceeded is the documented one). */
  private quotaVerdict(rec: HsmRecord): ArmErrorNode | undefined {
    const limits = this.quotaFor(rec.subscriptionId);
    const others = [...this.hsmRecords.values()].filter(
      (h) => h !== rec && key(h.subscriptionId) === key(rec.subscriptionId) && normalizeLocation(h.location) === normalizeLocation(rec.location),
    );
    const inStamp = (stamp: string): number => others.filter((h) => stampOf(h) === stamp).length;
    if (!rec.stampId && !rec.zones?.length) {
      rec.stampId = STAMPS.find((s) => inStamp(s) < limits.perStamp && this.freeDevices(rec.location, s) > 0) ?? STAMPS[0];
    }
    const stamp = stampOf(rec);
    const failed = others.filter((h) => h.provisioningState === 'Failed').length;
    const leftovers = failed ? ` ${failed} of them from failed deployments, which keep consuming quota until deleted.` : '';
    if (others.length >= limits.perRegion)
      return {
        code: 'QuotaExceeded',
        message: `Operation results in exceeding the dedicated HSM quota: the subscription has ${others.length} HSMs in region '${rec.location}' (limit ${limits.perRegion}).${leftovers}`,
      };
    if (inStamp(stamp) >= limits.perStamp)
      return {
        code: 'QuotaExceeded',
        message: `Operation results in exceeding the dedicated HSM quota: the subscription has ${inStamp(stamp)} HSMs in ${stamp} of region '${rec.location}' (limit ${limits.perStamp} per stamp).${leftovers}`,
      };
    return undefined;
  }

  /** InsufficientCapacity: ASSUMED (nothing public names the code of a full stamp; AllocationFailed is ARM's documented code). */
  private capacityVerdict(rec: HsmRecord): ArmErrorNode | undefined {
    const stamp = stampOf(rec);
    if (this.freeDevices(rec.location, stamp, rec) > 0) return undefined;
    return { code: 'InsufficientCapacity', message: `There is not enough capacity in ${stamp} of region '${rec.location}' to allocate a dedicated HSM device.` };
  }

  private freeDevices(location: string, stamp: string, except?: HsmRecord): number {
    const loc = normalizeLocation(location);
    const cap =
      this.capacities.get(key(`${loc}|${stamp}`)) ?? this.capacities.get(key(`${loc}|*`)) ?? this.capacities.get(key(`*|${stamp}`)) ?? this.capacities.get('*|*') ?? DEFAULT_CAPACITY_PER_STAMP;
    const used = [...this.hsmRecords.values()].filter((h) => h !== except && h.holdsDevice && normalizeLocation(h.location) === loc && stampOf(h) === stamp).length;
    return cap - used;
  }

  private failCreate(rec: HsmRecord, op: OperationRecord, error: ArmErrorNode, keepDevice: boolean): false {
    rec.provisioningState = 'Failed';
    rec.statusMessage = innermostMessage(error);
    if (!keepDevice) rec.holdsDevice = false;
    if (!rec.nicId && rec.heldIp) {
      this.network.releaseIp(rec.subnetId, rec.heldIp);
      delete rec.heldIp;
    }
    this.finishOp(op, 'Failed', error);
    return false;
  }

  private attachNic(rec: HsmRecord): void {
    if (rec.nicId || !rec.heldIp) return;
    rec.nicId = this.network.addNic({
      subscriptionId: rec.subscriptionId,
      resourceGroup: rec.resourceGroup,
      name: `${rec.name}_HSMnic`,
      location: rec.location,
      subnetId: rec.subnetId,
      privateIpAddress: rec.heldIp,
      allocation: rec.requestedIp ? 'Static' : 'Dynamic',
    });
    rec.privateIpAddress = rec.heldIp;
  }

  private remove(rec: HsmRecord): void {
    rec.generation++;
    this.hsmRecords.delete(key(rec.id));
    if (rec.nicId) this.network.removeNic(rec.nicId);
    else if (rec.heldIp) this.network.releaseIp(rec.subnetId, rec.heldIp);
    this.emit(this.deletedListeners, rec);
  }

  private newOp(kind: 'create' | 'delete', rec: HsmRecord): OperationRecord {
    const id = randomUUID();
    const op: OperationRecord = {
      id,
      kind,
      hsmKey: key(rec.id),
      path: `/subscriptions/${rec.subscriptionId}/providers/Microsoft.HardwareSecurityModules/locations/${normalizeLocation(rec.location)}/operationStatuses/${id}`,
      status: 'InProgress',
      startTime: Date.now(),
    };
    this.operations.set(id, op);
    rec.opId = id;
    return op;
  }

  private finishOp(op: OperationRecord, status: OperationRecord['status'], error?: ArmErrorNode): void {
    op.status = status;
    op.endTime = Date.now();
    if (error) op.error = error;
  }

  private opUrl(baseUrl: string, op: OperationRecord, kind: 'operationStatuses' | 'operationResults'): string {
    return `${baseUrl}${op.path.replace('/operationStatuses/', `/${kind}/`)}?api-version=2021-11-30`;
  }

  private mustOp(sub: string, opId: string): OperationRecord {
    const op = this.operations.get(opId);
    if (!op || !op.path.toLowerCase().startsWith(`/subscriptions/${sub.toLowerCase()}/`)) throw new ArmHttpError(404, 'OperationNotFound', `The operation '${opId}' was not found.`);
    return op;
  }

  private mustHsm(sub: string, rg: string, name: string): HsmRecord {
    const rec = this.hsmRecords.get(key(hsmId(sub, rg, name)));
    if (!rec) throw notFound(HSM_RESOURCE_TYPE, name, rg);
    return rec;
  }

  private find(nameOrId: string): HsmRecord | undefined {
    const byId = this.hsmRecords.get(key(nameOrId));
    if (byId) return byId;
    const byName = [...this.hsmRecords.values()].filter((h) => key(h.name) === key(nameOrId));
    if (byName.length > 1) throw new Error(`HSM name ${nameOrId} is ambiguous: use its ID`);
    return byName[0];
  }

  private quotaFor(subscriptionId: string): QuotaLimits {
    return this.quotas.get(key(subscriptionId)) ?? this.quotas.get('*') ?? { perStamp: 2, perRegion: 4 };
  }

  private later(fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, this.provisioningMs);
    t.unref();
    this.timers.add(t);
  }

  private emit(listeners: Set<(e: HsmEvent) => void>, rec: HsmRecord): void {
    const event: HsmEvent = { id: rec.id, name: rec.name, subscriptionId: rec.subscriptionId, resourceGroup: rec.resourceGroup, location: rec.location };
    if (rec.privateIpAddress) event.privateIpAddress = rec.privateIpAddress;
    if (rec.nicId) event.nicId = rec.nicId;
    for (const l of listeners) {
      try {
        l(event);
      } catch {
        /* a listener's failure is its own business */
      }
    }
  }
}

function notFound(type: string, name: string, rg: string): ArmHttpError {
  return new ArmHttpError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
}
