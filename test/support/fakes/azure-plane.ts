/**
 * An in-memory AzurePlane: networks, gateways, feature registrations, quota and dedicated HSMs as plain state, no HTTP,
 * so reconciler tests run in milliseconds. Behaviour follows the ARM simulator (src/sandbox/arm/world.ts: the checks a
 * PUT meets, quota counting failed leftovers, the gateway race, zeroization before delete) and reuses its network model
 * (SimNetwork: subnets, gateways, IPs, NICs), its request validation and its wire bodies; answers are read by the real
 * converters (src/azure/wire.ts), and every failure is an ARM error answer classified by the real classifier
 * (classifyAzureError / classifyOperationError), so a controller sees what ArmAzurePlane would throw.
 *
 * Differences, by design: a long-running operation advances only when its token is polled (it completes after
 * `pollsToComplete` polls, or at once with `completeOperations()`), not on timers; PATCH answers synchronously.
 * Retry-After is honoured like ArmAzurePlane's throttle gate (per resource and kind, read or write): after a 429,
 * later calls on it fail fast, nothing sent, until the time has passed on the fake's clock.
 * Proven against ArmAzurePlane + the ARM simulator by test/unit/fakes/azure-plane.contract.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { createHttpHeaders, createPipelineRequest, RestError, type PipelineResponse } from '@azure/core-rest-pipeline';
import {
  AzurePlaneError,
  bindAzureSignal,
  classifyAzureError,
  classifyOperationError,
  computeQuotaView,
  hsmId,
  normalizeLocation,
  sameArmId,
  throwIfAzureAborted,
  ACTIONS,
  type AzureCallOptions,
  type AzurePlane,
  type CreateProgress,
  type DeleteProgress,
  type FeatureState,
  type GatewayState,
  type HsmSpec,
  type HsmState,
  type NicState,
  type QuotaLimits,
  type QuotaView,
  type SubnetState,
} from '../../../src/azure/index.js';
import { fromWireHsm } from '../../../src/azure/wire.js';
import { changedImmutable, NAME_RULE, parseHsmBody, STAMPS, stampOf } from '../../../src/sandbox/arm/hsm-request.js';
import { HSM_DELEGATION, SimNetwork, type GatewayTimeline, type SubnetRecord } from '../../../src/sandbox/arm/network.js';
import { ArmHttpError, hsmBody, innermostMessage, LUNA_SKU, STATUS_FUNCTIONAL, STATUS_PROVISIONING, type ArmErrorNode } from '../../../src/sandbox/arm/wire.js';

/** What the world answers a request: a value, or (a request that was answered) a failure. */
type Answer<T> = { status: number; value: T } | { status: number; fail: AzurePlaneError };

/** The AzurePlane calls the fake counts and scripts failures for. */
export type AzureMethod = Exclude<keyof AzurePlane, 'withSignal'>;

/** An ARM error answer, as the simulator's ArmHttpError carries it. */
export interface ArmFailure {
  status: number;
  code: string;
  message: string;
  /** `Retry-After` (delay-seconds or an HTTP date). */
  retryAfter?: number | string;
  target?: string;
  details?: ArmErrorNode[];
  innererror?: ArmErrorNode;
}

/** One request the fake answered as ARM would have: what reached "the wire". */
export interface FakeRequest {
  method: 'GET' | 'PUT' | 'DELETE' | 'PATCH';
  call: AzureMethod;
  /** ARM id (or path) of what was asked. */
  resource: string;
  status: number;
}

export interface FakeAzurePlaneOptions {
  /** Polls after which a create or delete completes (default 2). */
  pollsToComplete?: number;
  /** Register the two allowlisting features for every subscription (default true). */
  allowlisted?: boolean;
  /** The subscription quota Azure enforces (default 2 per stamp, 4 per region). */
  quota?: QuotaLimits;
  /** Regions with availability zones (stampId refused); default `southeastasia`. */
  zonalRegions?: string[];
  /** Clock of gateway timelines and Retry-After (default Date.now). */
  now?: () => number;
}

export interface ApplianceLink {
  isZeroized(): boolean | Promise<boolean>;
}

interface HsmRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  sku: string;
  zones?: string[];
  tags: Record<string, string>;
  stampId?: string;
  subnetId: string;
  nicId?: string;
  privateIpAddress?: string;
  requestedIp?: string;
  heldIp?: string;
  holdsDevice: boolean;
  provisioningState: string;
  statusMessage: string;
  createdAt: number;
  opId?: string;
}

interface Operation {
  id: string;
  kind: 'create' | 'delete';
  hsmKey: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  error?: ArmErrorNode;
  polls: number;
  /** Steps left to run (create: quota, capacity, network, finish; delete: finish). */
  steps: (() => boolean)[];
}

const REQUIRED_FEATURES: ReadonlyArray<readonly [string, string]> = [
  ['Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM'],
  ['Microsoft.Network', 'AllowBaremetalServers'],
];
const DEFAULT_CAPACITY_PER_STAMP = 12;
const key = (s: string): string => s.toLowerCase();

export class FakeAzurePlane implements AzurePlane {
  readonly network: SimNetwork;
  pollsToComplete: number;
  /** Every call, by method (refused ones included). */
  readonly calls: Record<AzureMethod, number> = {
    getGateway: 0,
    getSubnet: 0,
    getNic: 0,
    getFeature: 0,
    getHsm: 0,
    listHsms: 0,
    quotaView: 0,
    beginCreateHsm: 0,
    pollCreate: 0,
    beginDeleteHsm: 0,
    pollDelete: 0,
    updateTags: 0,
  };
  /** Every request that reached "ARM", in order. */
  readonly requests: FakeRequest[] = [];
  /** HSM PUTs that arrived while the gateway of their VNet was not Succeeded (the deployment race). */
  gatewayRaces = 0;

  readonly #now: () => number;
  readonly #hsms = new Map<string, HsmRecord>();
  readonly #ops = new Map<string, Operation>();
  readonly #features = new Map<string, string>();
  readonly #quotas = new Map<string, QuotaLimits>();
  readonly #capacities = new Map<string, number>();
  readonly #zonal = new Set<string>();
  readonly #failures: { call: AzureMethod; failure: ArmFailure | AzurePlaneError; remaining: number }[] = [];
  readonly #putFailures: ('race' | 'internal')[] = [];
  #deleteFailures = 0;
  readonly #appliances = new Map<string, ApplianceLink>();
  readonly #neverFinish = new Set<string>();
  /** Retry-After gates: `read|write <resource>` -> epoch ms. */
  readonly #gates = new Map<string, number>();

  constructor(opts: FakeAzurePlaneOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.network = new SimNetwork(this.#now);
    this.pollsToComplete = opts.pollsToComplete ?? 2;
    this.#quotas.set('*', opts.quota ?? { perStamp: 2, perRegion: 4 });
    for (const r of opts.zonalRegions ?? ['southeastasia']) this.#zonal.add(normalizeLocation(r));
    if (opts.allowlisted ?? true) for (const [ns, name] of REQUIRED_FEATURES) this.registerFeature(ns, name);
  }

  // ---- scripting (names as ArmWorld's) ----

  addVnet(v: { subscriptionId: string; resourceGroup: string; name: string; location?: string; addressPrefixes?: string[] }): string {
    return this.network.addVnet(v);
  }

  addSubnet(s: { vnetId: string; name: string; addressPrefix: string; delegated?: boolean; nsg?: boolean; routeTable?: boolean }): string {
    return this.network.addSubnet(s);
  }

  setSubnetDelegated(subnetId: string, delegated: boolean): void {
    this.network.setDelegated(subnetId, delegated);
  }

  /** `timeline` on the fake's clock, e.g. `[['Updating', 500], ['Succeeded']]`; default Succeeded. */
  addGateway(g: { vnetId: string; name: string; gatewayType?: string; timeline?: GatewayTimeline }): string {
    return this.network.addGateway(g);
  }

  setGatewayState(idOrName: string, state: string): void {
    this.network.setGatewayState(idOrName, state);
  }

  registerFeature(namespace: string, name: string, opts: { subscriptionId?: string; state?: string } = {}): void {
    this.#features.set(key(`${opts.subscriptionId ?? '*'}|${namespace}/${name}`), opts.state ?? 'Registered');
  }

  unregisterFeature(namespace: string, name: string, opts: { subscriptionId?: string } = {}): void {
    this.registerFeature(namespace, name, { ...opts, state: 'NotRegistered' });
  }

  setQuota(limits: Partial<QuotaLimits>, opts: { subscriptionId?: string } = {}): void {
    const scope = opts.subscriptionId ?? '*';
    this.#quotas.set(key(scope), { ...this.#quotaFor(scope), ...limits });
  }

  setCapacity(perStamp: number, opts: { location?: string; stampId?: string } = {}): void {
    this.#capacities.set(key(`${opts.location ? normalizeLocation(opts.location) : '*'}|${opts.stampId ?? '*'}`), perStamp);
  }

  setZonalRegion(location: string, zonal = true): void {
    if (zonal) this.#zonal.add(normalizeLocation(location));
    else this.#zonal.delete(normalizeLocation(location));
  }

  /** The next `n` accepted HSM PUTs fail asynchronously (`race`: the documented gateway race). */
  failNextPuts(n: number, kind: 'race' | 'internal' = 'race'): void {
    for (let i = 0; i < n; i++) this.#putFailures.push(kind);
  }

  /** The next `n` accepted DELETEs end Failed (InternalServerError); the HSM stays, provisioningState Failed. */
  failNextDeletes(n: number): void {
    this.#deleteFailures += n;
  }

  /**
   * The next `times` calls of `call` fail: with an ARM error answer (classified as ArmAzurePlane would), or with a
   * ready AzurePlaneError. A 429 with `retryAfter` also closes the throttle gate of that resource.
   */
  failNext(call: AzureMethod, failure: ArmFailure | AzurePlaneError, times = 1): void {
    this.#failures.push({ call, failure, remaining: times });
  }

  /** The next `times` calls of `call` get 429 with `Retry-After`, as the simulator's throttle fault words it. */
  throttle(call: AzureMethod, retryAfter: number | string, times = 1): void {
    this.failNext(
      call,
      {
        status: 429,
        code: 'TooManyRequests',
        message: `The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00. Please try again after ${String(retryAfter)}.`,
        retryAfter,
      },
      times,
    );
  }

  /** Deletion of `hsmName` is refused (409 HsmNotZeroized) unless the appliance says it is zeroized. */
  linkAppliance(hsmName: string, link: ApplianceLink): void {
    this.#appliances.set(key(hsmName), link);
  }

  /** Operations on `hsmName` stop before their last step until lifted. */
  lroNeverFinishes(hsmName: string, never = true): void {
    if (never) this.#neverFinish.add(key(hsmName));
    else this.#neverFinish.delete(key(hsmName));
  }

  /** Runs every step of every operation in flight (as if enough time had passed). */
  completeOperations(): void {
    for (const op of this.#ops.values()) this.#advance(op, Infinity);
  }

  /** Someone deleted the HSM in the portal: gone at once. */
  deleteOutOfBand(nameOrId: string): void {
    const rec = this.#find(nameOrId);
    if (!rec) throw new Error(`no dedicated HSM ${nameOrId}`);
    const op = rec.opId ? this.#ops.get(rec.opId) : undefined;
    if (op?.status === 'InProgress') this.#finishOp(op, 'Failed', { code: 'ResourceDeleted', message: `The dedicated HSM '${rec.name}' was deleted while the operation was running.` });
    this.#remove(rec);
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
      sku: LUNA_SKU,
      tags: { ...(s.tags ?? {}) },
      subnetId: s.subnetId ?? `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroup}/providers/Microsoft.Network/virtualNetworks/seeded/subnets/hsmsubnet`,
      provisioningState: state,
      statusMessage: s.statusMessage ?? (state === 'Succeeded' ? STATUS_FUNCTIONAL : state === 'Failed' ? 'Deployment failed.' : STATUS_PROVISIONING),
      createdAt: this.#now(),
      holdsDevice: true,
    };
    if (s.zones?.length) rec.zones = [...s.zones];
    else rec.stampId = s.stampId ?? 'stamp1';
    if (state === 'Succeeded' && s.subnetId && this.network.subnet(s.subnetId)) {
      rec.heldIp = this.network.holdIp(s.subnetId, s.privateIpAddress);
      this.#attachNic(rec);
    } else if (s.privateIpAddress) rec.privateIpAddress = s.privateIpAddress;
    this.#hsms.set(key(id), rec);
    return id;
  }

  /** The HSM as ARM holds it now (no request counted). */
  hsm(nameOrId: string): HsmState | undefined {
    const rec = this.#find(nameOrId);
    return rec && this.#state(rec);
  }

  /** Requests that reached ARM, filtered. */
  count(filter: { method?: FakeRequest['method']; call?: AzureMethod; resourceIncludes?: string } = {}): number {
    return this.requests.filter(
      (r) => (!filter.method || r.method === filter.method) && (!filter.call || r.call === filter.call) && (!filter.resourceIncludes || key(r.resource).includes(key(filter.resourceIncludes))),
    ).length;
  }

  /** HSM PUTs sent (of `name`, or all). */
  puts(name?: string): number {
    return this.count({ method: 'PUT', ...(name ? { resourceIncludes: `/dedicatedHSMs/${name}` } : {}) });
  }

  /** HSM DELETEs sent (of `name`, or all). */
  deletes(name?: string): number {
    return this.count({ method: 'DELETE', ...(name ? { resourceIncludes: `/dedicatedHSMs/${name}` } : {}) });
  }

  // ---- AzurePlane ----

  withSignal(signal: AbortSignal | undefined): AzurePlane {
    return bindAzureSignal(this, signal);
  }

  async getGateway(id: string, opts: AzureCallOptions = {}): Promise<GatewayState | undefined> {
    return this.#call('getGateway', 'get gateway', 'GET', id, opts, () => {
      const g = [...this.network.gateways.values()].find((x) => sameArmId(x.id, id));
      if (!g) return undefined;
      return { id: g.id, gatewayType: g.gatewayType, provisioningState: this.network.gatewayState(g), vnetId: g.vnetId };
    });
  }

  async getSubnet(id: string, opts: AzureCallOptions = {}): Promise<SubnetState | undefined> {
    return this.#call('getSubnet', 'get subnet', 'GET', id, opts, () => {
      const s = this.network.subnet(id);
      if (!s) return undefined;
      return { id: s.id, vnetId: s.vnetId, addressPrefix: s.addressPrefix, delegations: [...s.delegations], hasNsg: Boolean(s.nsgId), hasRouteTable: Boolean(s.routeTableId) };
    });
  }

  async getNic(id: string, opts: AzureCallOptions = {}): Promise<NicState | undefined> {
    return this.#call('getNic', 'get network interface', 'GET', id, opts, () => {
      const n = this.network.nic(id);
      return n && { id: n.id, privateIpAddress: n.privateIpAddress, subnetId: n.subnetId, provisioningState: 'Succeeded' };
    });
  }

  async getFeature(subscriptionId: string, namespace: string, name: string, opts: AzureCallOptions = {}): Promise<FeatureState> {
    const path = `/subscriptions/${subscriptionId}/providers/Microsoft.Features/providers/${namespace}/features/${name}`;
    this.calls.getFeature++;
    return this.#send<FeatureState>('getFeature', 'get feature', 'GET', path, opts, 'read', () => ({ status: 200, value: { name: `${namespace}/${name}`, state: this.#featureState(subscriptionId, namespace, name) } }));
  }

  async getHsm(subscriptionId: string, resourceGroup: string, name: string, opts: AzureCallOptions = {}): Promise<HsmState | undefined> {
    const id = hsmId(subscriptionId, resourceGroup, name);
    return this.#call('getHsm', 'get dedicated HSM', 'GET', id, opts, () => {
      const rec = this.#hsms.get(key(id));
      return rec && this.#state(rec);
    });
  }

  async listHsms(subscriptionId: string, opts: AzureCallOptions = {}): Promise<HsmState[]> {
    this.calls.listHsms++;
    return this.#list(subscriptionId, opts);
  }

  async quotaView(subscriptionId: string, location: string, limits?: QuotaLimits, opts: AzureCallOptions = {}): Promise<QuotaView> {
    this.calls.quotaView++;
    return computeQuotaView(await this.#list(subscriptionId, opts, 'quotaView'), location, limits);
  }

  async beginCreateHsm(spec: HsmSpec, opts: AzureCallOptions = {}): Promise<CreateProgress> {
    const op = 'create dedicated HSM';
    this.calls.beginCreateHsm++;
    // Refused before anything is sent, as ArmAzurePlane does.
    if (spec.stampId && spec.zones?.length)
      throw new AzurePlaneError(
        { class: 'invalid', retryable: false, message: `dedicated HSM '${spec.name}' asks for both stampId '${spec.stampId}' and zones [${spec.zones.join(', ')}]: give one of them`, action: ACTIONS.stampInZonalRegion },
        op,
      );
    const id = hsmId(spec.subscriptionId, spec.resourceGroup, spec.name);
    return this.#send<CreateProgress>('beginCreateHsm', op, 'PUT', id, opts, 'write', () => {
      const { status, rec, sync } = this.#put(spec);
      if (sync) return { status, value: { done: true, hsm: this.#state(rec) } satisfies CreateProgress };
      return { status, value: { done: false, token: `fake-create:${rec.opId ?? ''}` } satisfies CreateProgress };
    });
  }

  async pollCreate(token: string, opts: AzureCallOptions = {}): Promise<CreateProgress> {
    this.calls.pollCreate++;
    const o = this.#opOf(token, 'create');
    const rec = this.#hsms.get(o.hsmKey);
    return this.#send<CreateProgress>('pollCreate', 'create dedicated HSM', 'GET', `operation ${o.id}`, opts, 'read', () => {
      this.#advance(o, Math.ceil(4 / Math.max(1, this.pollsToComplete)));
      if (o.status === 'InProgress') return { status: 200, value: { done: false, token } satisfies CreateProgress };
      if (o.status === 'Succeeded' && rec && this.#hsms.get(o.hsmKey) === rec) return { status: 200, value: { done: true, hsm: this.#state(rec) } satisfies CreateProgress };
      return { status: 200, fail: new AzurePlaneError(classifyOperationError({ error: o.error ?? { code: 'Canceled', message: 'The operation was canceled.' } }), 'create dedicated HSM') };
    });
  }

  async beginDeleteHsm(subscriptionId: string, resourceGroup: string, name: string, opts: AzureCallOptions = {}): Promise<DeleteProgress> {
    this.calls.beginDeleteHsm++;
    const id = hsmId(subscriptionId, resourceGroup, name);
    const link = this.#appliances.get(key(name));
    const zeroized = link && this.#hsms.has(key(id)) && !this.#deleting(key(id)) ? await link.isZeroized() : true;
    return this.#send<DeleteProgress>('beginDeleteHsm', 'delete dedicated HSM', 'DELETE', id, opts, 'write', () => {
      const rec = this.#hsms.get(key(id));
      if (!rec) return { status: 204, value: { done: true } satisfies DeleteProgress };
      const running = rec.opId ? this.#ops.get(rec.opId) : undefined;
      if (rec.provisioningState === 'Deleting' && running?.status === 'InProgress') return { status: 202, value: { done: false, token: `fake-delete:${running.id}` } satisfies DeleteProgress };
      // HsmNotZeroized: ASSUMED (as the simulator): the service refuses to delete an HSM that is not zeroized.
      if (!zeroized) throw new ArmHttpError(409, 'HsmNotZeroized', `The dedicated HSM '${name}' cannot be deleted because the HSM is not zeroized. Zeroize the HSM before deleting the resource.`);
      if (running?.status === 'InProgress') this.#finishOp(running, 'Canceled');
      const o = this.#newOp('delete', rec);
      rec.provisioningState = 'Deleting';
      const fails = this.#deleteFailures > 0;
      if (fails) this.#deleteFailures--;
      o.steps = [
        () => {
          if (this.#neverFinish.has(key(rec.name))) return false;
          if (fails) {
            const error = { code: 'InternalServerError', message: `The dedicated HSM '${rec.name}' could not be deleted. Retry the deletion.` };
            rec.provisioningState = 'Failed';
            rec.statusMessage = error.message;
            this.#finishOp(o, 'Failed', error);
          } else {
            this.#remove(rec);
            this.#finishOp(o, 'Succeeded');
          }
          return true;
        },
      ];
      return { status: 202, value: { done: false, token: `fake-delete:${o.id}` } satisfies DeleteProgress };
    });
  }

  async pollDelete(token: string, opts: AzureCallOptions = {}): Promise<DeleteProgress> {
    this.calls.pollDelete++;
    const o = this.#opOf(token, 'delete');
    const rec = this.#hsms.get(o.hsmKey);
    // ArmAzurePlane polls the HSM's own URL (the published Location): its throttle gate is the HSM's read gate.
    return this.#send<DeleteProgress>('pollDelete', 'delete dedicated HSM', 'GET', rec?.id ?? o.hsmKey, opts, 'read', () => {
      o.polls++;
      if (o.polls >= this.pollsToComplete) this.#advance(o, Infinity);
      if (!this.#hsms.has(o.hsmKey)) return { status: 404, value: { done: true } satisfies DeleteProgress };
      if (o.status === 'InProgress') return { status: 200, value: { done: false, token } satisfies DeleteProgress };
      if (o.status === 'Succeeded') return { status: 404, value: { done: true } satisfies DeleteProgress };
      // Failed or canceled, the HSM still there: this token is over (not retryable); the caller reads and decides again.
      const failure =
        o.status === 'Failed' && o.error
          ? classifyOperationError({ error: o.error })
          : { class: 'conflict' as const, retryable: false, message: `the delete of dedicated HSM '${rec?.name ?? ''}' was canceled`, action: ACTIONS.conflict };
      return { status: 200, fail: new AzurePlaneError({ ...failure, retryable: false }, 'delete dedicated HSM') };
    });
  }

  async updateTags(subscriptionId: string, resourceGroup: string, name: string, tags: Record<string, string>, opts: AzureCallOptions = {}): Promise<HsmState> {
    this.calls.updateTags++;
    const id = hsmId(subscriptionId, resourceGroup, name);
    return this.#send('updateTags', 'update dedicated HSM tags', 'PATCH', id, opts, 'write', () => {
      const rec = this.#hsms.get(key(id));
      if (!rec) throw notFound('Microsoft.HardwareSecurityModules/dedicatedHSMs', name, resourceGroup);
      rec.tags = { ...tags };
      return { status: 200, value: this.#state(rec) };
    });
  }

  // ---- the wire ----

  /** A read that answers undefined on a 404, as ArmAzurePlane's `orUndefined`. */
  async #call<T>(call: AzureMethod, operation: string, method: 'GET', resource: string, opts: AzureCallOptions, read: () => T | undefined): Promise<T | undefined> {
    this.calls[call]++;
    return this.#send(call, operation, method, resource, opts, 'read', () => {
      const value = read();
      return { status: value === undefined ? 404 : 200, value };
    });
  }

  /**
   * One request: refused when the signal has fired (nothing sent) or the throttle gate is closed (nothing sent);
   * otherwise recorded, a scripted failure or the world's answer, an ARM error answer classified on the way out.
   */
  async #send<T>(call: AzureMethod, operation: string, method: FakeRequest['method'], resource: string, opts: AzureCallOptions, kind: 'read' | 'write', answer: () => Answer<T>): Promise<T> {
    throwIfAzureAborted(opts.signal, operation);
    const gate = `${kind} ${key(resource)}`;
    const wait = Math.max(0, (this.#gates.get(gate) ?? 0) - this.#now());
    if (wait > 0) {
      throw classify(
        new ArmHttpError(429, 'TooManyRequests', `Azure Resource Manager throttled this request; not sending it again before its Retry-After has passed (${Math.ceil(wait / 1000)} s left).`, {
          'retry-after-ms': String(wait),
        }),
        operation,
        method,
        this.#now(),
      );
    }
    const scripted = this.#takeFailure(call);
    try {
      if (scripted instanceof AzurePlaneError) {
        this.requests.push({ method, call, resource, status: scripted.failure.statusCode ?? 500 });
        throw scripted;
      }
      if (scripted) throw new ArmHttpError(scripted.status, scripted.code, scripted.message, scripted.retryAfter !== undefined ? { 'Retry-After': String(scripted.retryAfter) } : {}, {
        ...(scripted.target ? { target: scripted.target } : {}),
        ...(scripted.details ? { details: scripted.details } : {}),
        ...(scripted.innererror ? { innererror: scripted.innererror } : {}),
      });
      const a = answer();
      this.requests.push({ method, call, resource, status: a.status });
      if ('fail' in a) throw a.fail;
      return a.value;
    } catch (e) {
      if (!(e instanceof ArmHttpError)) throw e;
      this.requests.push({ method, call, resource, status: e.status });
      if (e.status === 429) {
        const failure = classify(e, operation, method, this.#now());
        const ms = failure.failure.retryAfterMs;
        if (ms !== undefined && ms > 0) this.#gates.set(gate, Math.max(this.#gates.get(gate) ?? 0, this.#now() + ms));
        throw failure;
      }
      throw classify(e, operation, method, this.#now());
    }
  }

  async #list(subscriptionId: string, opts: AzureCallOptions, call: AzureMethod = 'listHsms'): Promise<HsmState[]> {
    const path = `/subscriptions/${subscriptionId}/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs`;
    return this.#send(call, 'list dedicated HSMs', 'GET', path, opts, 'read', () => ({
      status: 200,
      value: [...this.#hsms.values()]
        .filter((h) => key(h.subscriptionId) === key(subscriptionId))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((h) => this.#state(h)),
    }));
  }

  #takeFailure(call: AzureMethod): ArmFailure | AzurePlaneError | undefined {
    const i = this.#failures.findIndex((f) => f.call === call);
    const f = this.#failures[i];
    if (!f) return undefined;
    if (--f.remaining <= 0) this.#failures.splice(i, 1);
    return f.failure;
  }

  // ---- the world (world.ts's rules) ----

  /** world.ts putHsm: name rule, features, zonal stampId, immutables, operations in progress, subnet, delegation, IP. */
  #put(spec: HsmSpec): { status: number; rec: HsmRecord; sync: boolean } {
    const { subscriptionId: sub, resourceGroup: rg, name } = spec;
    if (!NAME_RULE.test(name))
      throw new ArmHttpError(400, 'InvalidResourceName', `The resource name '${name}' is invalid. A dedicated HSM name must be 3 to 24 characters long and contain only letters, digits and hyphens.`);
    const req = parseHsmBody({
      location: spec.location,
      sku: { name: spec.sku },
      ...(spec.zones?.length ? { zones: spec.zones } : {}),
      tags: spec.tags ?? {},
      properties: {
        networkProfile: { subnet: { id: spec.subnetId }, ...(spec.privateIpAddress ? { networkInterfaces: [{ privateIpAddress: spec.privateIpAddress }] } : {}) },
        ...(spec.stampId ? { stampId: spec.stampId } : {}),
      },
    });
    for (const [ns, feature] of REQUIRED_FEATURES) {
      if (this.#featureState(sub, ns, feature) !== 'Registered')
        throw new ArmHttpError(409, 'SubscriptionNotRegisteredForFeature', `Subscription '${sub}' lacks the feature '${ns}/${feature}' that dedicated HSM deployments need.`);
    }
    if (req.stampId && (req.zones?.length || this.#zonal.has(normalizeLocation(req.location))))
      throw new ArmHttpError(400, 'BadRequest', `Region '${req.location}' has availability zones: give zones and leave stampId out.`, {}, { target: 'properties.stampId' });
    const id = hsmId(sub, rg, name);
    const existing = this.#hsms.get(key(id));
    if (existing) {
      const changed = changedImmutable(existing, req);
      if (changed.length) throw new ArmHttpError(400, 'PropertyChangeNotAllowed', `Changing property '${changed.join("', '")}' is not allowed: all properties of a dedicated HSM except tags are immutable.`);
      if (existing.provisioningState === 'Succeeded') {
        existing.tags = req.tags;
        return { status: 200, rec: existing, sync: true };
      }
      if (existing.provisioningState !== 'Failed')
        throw new ArmHttpError(409, 'AnotherOperationInProgress', `Another operation is in progress on dedicated HSM '${name}' (provisioningState '${existing.provisioningState}'). Retry when it completes.`);
      this.#checkDelegation(existing.subnetId);
      existing.tags = req.tags;
      if (!existing.heldIp) existing.heldIp = this.network.holdIp(existing.subnetId, existing.requestedIp);
      this.#startCreate(existing);
      return { status: 200, rec: existing, sync: false };
    }
    const subnet = this.network.subnet(req.subnetId);
    if (!subnet) throw new ArmHttpError(400, 'InvalidResourceReference', `Resource ${req.subnetId} referenced by resource ${id} was not found.`);
    this.#checkDelegation(subnet.id);
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
      createdAt: this.#now(),
      holdsDevice: false,
      heldIp: this.network.holdIp(subnet.id, req.privateIpAddress),
    };
    if (req.privateIpAddress) rec.requestedIp = rec.privateIpAddress = req.privateIpAddress;
    if (req.zones?.length) rec.zones = req.zones;
    if (req.stampId) rec.stampId = req.stampId;
    this.#hsms.set(key(id), rec);
    this.#startCreate(rec);
    return { status: 201, rec, sync: false };
  }

  #checkDelegation(subnetIdValue: string): void {
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

  /** world.ts startCreate: CheckingQuota -> Allocating -> Connecting -> Provisioning -> Succeeded, one step at a time. */
  #startCreate(rec: HsmRecord): void {
    const networkFailure = this.#networkVerdict(rec);
    const op = this.#newOp('create', rec);
    rec.provisioningState = 'CheckingQuota';
    rec.statusMessage = STATUS_PROVISIONING;
    op.steps = [
      () => {
        const quota = this.#quotaVerdict(rec);
        if (quota) return this.#failCreate(rec, op, quota, false);
        rec.provisioningState = 'Allocating';
        return true;
      },
      () => {
        if (!rec.holdsDevice) {
          const capacity = this.#capacityVerdict(rec);
          if (capacity) return this.#failCreate(rec, op, capacity, false);
          rec.holdsDevice = true;
        }
        rec.provisioningState = 'Connecting';
        return true;
      },
      () => {
        if (networkFailure) return this.#failCreate(rec, op, networkFailure, true);
        this.#attachNic(rec);
        rec.provisioningState = 'Provisioning';
        return true;
      },
      () => {
        if (this.#neverFinish.has(key(rec.name))) return false;
        rec.provisioningState = 'Succeeded';
        rec.statusMessage = STATUS_FUNCTIONAL;
        this.#finishOp(op, 'Succeeded');
        return true;
      },
    ];
  }

  /** Runs up to `n` steps of `op`; a step returning false holds the operation there. */
  #advance(op: Operation, n: number): void {
    for (let i = 0; i < n && op.status === 'InProgress'; i++) {
      const step = op.steps[0];
      if (!step) return;
      if (!step()) return;
      op.steps.shift();
    }
  }

  #networkVerdict(rec: HsmRecord): ArmErrorNode | undefined {
    const forced = this.#putFailures.shift();
    const subnet = this.network.subnet(rec.subnetId) as SubnetRecord;
    if (subnet.nsgId || subnet.routeTableId)
      return {
        code: 'DeploymentFailed',
        message: 'The dedicated HSM could not be connected to its subnet.',
        innererror: {
          code: 'InvalidSubnetConfiguration',
          message: `Subnet '${subnet.id}' has a network security group or route table associated with it; the subnet of dedicated HSMs must have neither.`,
        },
      };
    if (forced === 'internal') return { code: 'InternalServerError', message: 'An internal error occurred while deploying the dedicated HSM. Retry the operation.' };
    const gw = this.network.gatewayOfVnet(subnet.vnetId);
    if (!gw || gw.gatewayType !== 'ExpressRoute')
      return { code: 'NetworkingDependencyNotReady', message: `No ExpressRoute gateway was found in virtual network '${subnet.vnetId}': the networking dependencies of the dedicated HSM are not ready.` };
    const state = forced === 'race' ? 'Updating' : this.network.gatewayState(gw);
    if (state !== 'Succeeded' && forced !== 'race') this.gatewayRaces++;
    if (state !== 'Succeeded')
      return {
        code: 'NetworkingDependencyNotReady',
        message: `The ExpressRoute gateway '${gw.id}' was in provisioning state '${state}' while the dedicated HSM was being connected: networking dependencies were not ready. Retry the deployment once the gateway has succeeded.`,
      };
    return undefined;
  }

  #quotaVerdict(rec: HsmRecord): ArmErrorNode | undefined {
    const limits = this.#quotaFor(rec.subscriptionId);
    const others = [...this.#hsms.values()].filter((h) => h !== rec && key(h.subscriptionId) === key(rec.subscriptionId) && normalizeLocation(h.location) === normalizeLocation(rec.location));
    const inStamp = (stamp: string): number => others.filter((h) => stampOf(h) === stamp).length;
    if (!rec.stampId && !rec.zones?.length) rec.stampId = STAMPS.find((s) => inStamp(s) < limits.perStamp && this.#freeDevices(rec.location, s) > 0) ?? STAMPS[0];
    const stamp = stampOf(rec);
    const failed = others.filter((h) => h.provisioningState === 'Failed').length;
    const leftovers = failed ? ` ${failed} of them from failed deployments, which keep consuming quota until deleted.` : '';
    if (others.length >= limits.perRegion)
      return { code: 'QuotaExceeded', message: `Operation results in exceeding the dedicated HSM quota: the subscription has ${others.length} HSMs in region '${rec.location}' (limit ${limits.perRegion}).${leftovers}` };
    if (inStamp(stamp) >= limits.perStamp)
      return { code: 'QuotaExceeded', message: `Operation results in exceeding the dedicated HSM quota: the subscription has ${inStamp(stamp)} HSMs in ${stamp} of region '${rec.location}' (limit ${limits.perStamp} per stamp).${leftovers}` };
    return undefined;
  }

  #capacityVerdict(rec: HsmRecord): ArmErrorNode | undefined {
    const stamp = stampOf(rec);
    if (this.#freeDevices(rec.location, stamp, rec) > 0) return undefined;
    return { code: 'InsufficientCapacity', message: `There is not enough capacity in ${stamp} of region '${rec.location}' to allocate a dedicated HSM device.` };
  }

  #freeDevices(location: string, stamp: string, except?: HsmRecord): number {
    const loc = normalizeLocation(location);
    const cap = this.#capacities.get(key(`${loc}|${stamp}`)) ?? this.#capacities.get(key(`${loc}|*`)) ?? this.#capacities.get(key(`*|${stamp}`)) ?? this.#capacities.get('*|*') ?? DEFAULT_CAPACITY_PER_STAMP;
    const used = [...this.#hsms.values()].filter((h) => h !== except && h.holdsDevice && normalizeLocation(h.location) === loc && stampOf(h) === stamp).length;
    return cap - used;
  }

  #failCreate(rec: HsmRecord, op: Operation, error: ArmErrorNode, keepDevice: boolean): true {
    rec.provisioningState = 'Failed';
    rec.statusMessage = innermostMessage(error);
    if (!keepDevice) rec.holdsDevice = false;
    if (!rec.nicId && rec.heldIp) {
      this.network.releaseIp(rec.subnetId, rec.heldIp);
      delete rec.heldIp;
    }
    this.#finishOp(op, 'Failed', error);
    return true;
  }

  #attachNic(rec: HsmRecord): void {
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

  #remove(rec: HsmRecord): void {
    this.#hsms.delete(key(rec.id));
    if (rec.nicId) this.network.removeNic(rec.nicId);
    else if (rec.heldIp) this.network.releaseIp(rec.subnetId, rec.heldIp);
  }

  #newOp(kind: 'create' | 'delete', rec: HsmRecord): Operation {
    const op: Operation = { id: randomUUID(), kind, hsmKey: key(rec.id), status: 'InProgress', polls: 0, steps: [] };
    this.#ops.set(op.id, op);
    rec.opId = op.id;
    return op;
  }

  #finishOp(op: Operation, status: Operation['status'], error?: ArmErrorNode): void {
    op.status = status;
    op.steps = [];
    if (error) op.error = error;
  }

  #opOf(token: string, kind: 'create' | 'delete'): Operation {
    const m = /^fake-(create|delete):(.+)$/.exec(token);
    const op = m?.[1] === kind ? this.#ops.get(m[2] ?? '') : undefined;
    if (!op) throw new AzurePlaneError({ class: 'invalid', retryable: false, message: `not a ${kind} token of this plane: ${token.slice(0, 40)}`, action: 'Clear status.pendingOperation.' }, `${kind} dedicated HSM`);
    return op;
  }

  #deleting(hsmKey: string): boolean {
    const rec = this.#hsms.get(hsmKey);
    const op = rec?.opId ? this.#ops.get(rec.opId) : undefined;
    return rec?.provisioningState === 'Deleting' && op?.status === 'InProgress';
  }

  #featureState(sub: string, namespace: string, name: string): string {
    return this.#features.get(key(`${sub}|${namespace}/${name}`)) ?? this.#features.get(key(`*|${namespace}/${name}`)) ?? 'NotRegistered';
  }

  #quotaFor(subscriptionId: string): QuotaLimits {
    return this.#quotas.get(key(subscriptionId)) ?? this.#quotas.get('*') ?? { perStamp: 2, perRegion: 4 };
  }

  #find(nameOrId: string): HsmRecord | undefined {
    const byId = this.#hsms.get(key(nameOrId));
    if (byId) return byId;
    const byName = [...this.#hsms.values()].filter((h) => key(h.name) === key(nameOrId));
    if (byName.length > 1) throw new Error(`HSM name ${nameOrId} is ambiguous: use its ID`);
    return byName[0];
  }

  /** The HSM as the real plane reads it: the simulator's wire body through the real converter. */
  #state(rec: HsmRecord): HsmState {
    return fromWireHsm(hsmBody(rec));
  }
}

/** An ARM error answer as ArmAzurePlane turns it into an AzurePlaneError (failureOfAnswer: a RestError with the body). */
function classify(e: ArmHttpError, operation: string, method: string, now: number): AzurePlaneError {
  const request = createPipelineRequest({ url: `https://management.azure.com/fake`, method: method as 'GET' });
  const response: PipelineResponse = { request, status: e.status, headers: createHttpHeaders(e.headers), bodyAsText: JSON.stringify(e.body()) };
  const err = new RestError(e.message, { statusCode: e.status, code: e.code, request, response });
  return new AzurePlaneError(classifyAzureError(err, now), operation);
}

function notFound(type: string, name: string, rg: string): ArmHttpError {
  return new ArmHttpError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
}
