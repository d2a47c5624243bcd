/**
 * Observe: every read one DedicatedHsm pass needs, in one trip down to the planes, before anything is decided.
 * What is read depends only on what the earlier reads said (the settlement of an operation in flight, then the
 * resource's provisioningState): an operation still in flight is all; a deployed HSM adds its network, NIC and
 * appliance; a missing or Failed one adds the preflight (allowlisting, subnet, gateway, quota); one that is not
 * ours (ownership.ts) adds nothing. Nothing here writes, and nothing here decides what to do: decide.ts does.
 *
 * Gateway and subnet readings are shared between HSMs for a while (ReadCache) while they only wait; the decision
 * to PUT takes fresh ones inside the deploy gate (act.ts calls readPreflight with `fresh`).
 */
import { guardHostOf } from '../../luna/index.js';
import type { DedicatedHsm } from '../../api/index.js';
import {
  AzurePlaneError,
  classifyAzureError,
  hsmId,
  immutableDrift,
  type AzureFailure,
  type AzurePlane,
  type CreateProgress,
  type DeleteProgress,
  type FeatureState,
  type GatewayState,
  type HsmState,
  type QuotaView,
  type SubnetState,
} from '../../azure/index.js';
import { advertisedHost, applianceGuardRecords, type OperatorContext, type SecretReads } from '../shared/index.js';
import type { GuardStatusRecord } from '../shared/guard-status.js';
import type { ApplianceObservation } from './appliance-checks.js';
import { observeAppliance } from './appliance-observation.js';
import { DeployGate } from './deploy-gate.js';
import { armName, desiredHsm } from './desired.js';
import { ownershipOf, type Ownership } from './ownership.js';
import { REQUIRED_FEATURES, withoutSelf, type Read } from './preflight.js';
import { ReadCache } from './read-cache.js';
import { idPermitted } from './scope.js';

/** What the phases share across passes: the operator, the shared readings, the deploy gate and the duplicates' view. */
export interface HsmEnv {
  ctx: OperatorContext;
  gateways: ReadCache<GatewayState | undefined>;
  subnets: ReadCache<SubnetState | undefined>;
  gate: DeployGate;
  /** Every DedicatedHsm that names the same ARM resource ID (duplicates.ts; the reconciler's: the cache index). */
  claimants: (hsm: DedicatedHsm) => readonly DedicatedHsm[];
}

export function failureOf(e: unknown): AzureFailure {
  return e instanceof AzurePlaneError ? e.failure : classifyAzureError(e);
}

export async function read<T>(fn: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, failure: failureOf(e) };
  }
}

/** One poll of the operation status.pendingOperation records, with the resource read when the poll alone cannot say. */
export type OperationRead =
  | { kind: 'create'; poll: Read<CreateProgress>; current?: Read<HsmState | undefined> }
  | { kind: 'delete'; poll: Read<DeleteProgress> };

/**
 * What a poll means (pure). A create: still running, done (or Failed, or gone, or its token unusable: the resource
 * decides); a redeploy's delete of the failed resource: still running, done, or refused.
 */
export type Settlement =
  | { kind: 'creating'; current: HsmState | undefined; retryAfterMs?: number }
  | { kind: 'created'; resource: HsmState }
  | { kind: 'createFailed'; resource: HsmState; failure: AzureFailure }
  | { kind: 'createGone' }
  | { kind: 'tokenUnusable'; resource: HsmState; failure: AzureFailure }
  | { kind: 'deletingFailed'; failure?: AzureFailure; retryAfterMs?: number }
  | { kind: 'deletedFailed' }
  | { kind: 'redeployDeleteRefused'; failure: AzureFailure };

export function settle(op: OperationRead): Settlement {
  if (op.kind === 'delete') {
    if (op.poll.ok) return op.poll.value.done ? { kind: 'deletedFailed' } : { kind: 'deletingFailed' };
    const f = op.poll.failure;
    return f.retryable ? { kind: 'deletingFailed', failure: f, ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}) } : { kind: 'redeployDeleteRefused', failure: f };
  }
  if (op.poll.ok) {
    const p = op.poll.value;
    if (p.done) return { kind: 'created', resource: p.hsm };
    return { kind: 'creating', current: op.current?.ok ? op.current.value : undefined };
  }
  const f = op.poll.failure;
  // Cannot tell whether the operation failed or only the poll did: keep the token and look again.
  if (!op.current?.ok) return { kind: 'creating', current: undefined, retryAfterMs: f.retryAfterMs ?? 0 };
  const current = op.current.value;
  if (!current) return { kind: 'createGone' };
  if (current.provisioningState === 'Succeeded') return { kind: 'created', resource: current };
  if (current.provisioningState === 'Failed') return { kind: 'createFailed', resource: current, failure: f };
  if (f.retryable) return { kind: 'creating', current, retryAfterMs: f.retryAfterMs ?? 0 };
  return { kind: 'tokenUnusable', resource: current, failure: f };
}

/** The resource after a settled operation; `inFlight` while the operation still runs. */
export function resourceAfter(s: Settlement): { inFlight: true } | { inFlight: false; resource: HsmState | undefined } {
  switch (s.kind) {
    case 'created':
    case 'createFailed':
    case 'tokenUnusable':
      return { inFlight: false, resource: s.resource };
    case 'createGone':
    case 'deletedFailed':
      return { inFlight: false, resource: undefined };
    default:
      return { inFlight: true };
  }
}

export interface PreflightReads {
  features: Read<FeatureState[]>;
  subnet: Read<SubnetState | undefined>;
  gateway: Read<GatewayState | undefined>;
  /** Quota as this HSM would meet it: its own failed leftover not counted, PUTs this operator sent counted. */
  quota: Read<QuotaView>;
}

export interface NetworkReads {
  subnet: Read<SubnetState | undefined>;
  gateway: Read<GatewayState | undefined>;
}

export interface Deployed {
  /** The NIC's private IP (from the resource, status, or a NIC read). */
  ip: string | undefined;
  network: NetworkReads;
  appliance: ApplianceObservation;
  /** status.credentialGuard for this appliance's login, as the guard holds it now. */
  guard: GuardStatusRecord[] | undefined;
}

export interface Observation {
  /** The operation in flight and what its poll means. */
  operation?: { read: OperationRead; settlement: Settlement };
  /** The resource (after a settled operation); absent while an operation is in flight. */
  resource?: Read<HsmState | undefined>;
  /** Whose the existing resource is (ownership.ts); one that is not ours is read no further. */
  ownership?: Ownership;
  /** Immutable fields of an existing resource that differ from the spec. */
  drift?: string[];
  /** Provisioning or Deleting by someone else: the network it hangs off. */
  network?: NetworkReads;
  /** Missing or Failed: what a deployment needs. */
  preflight?: PreflightReads;
  /** Succeeded: the NIC, the network and the appliance. */
  deployed?: Deployed;
}

/**
 * The shared state of the phases, as the reconciler (and `hsm-operator plan`) build it. `claimants` defaults to
 * none: plan sees one manifest at a time, without the operator's cache.
 */
export function newHsmEnv(ctx: OperatorContext, claimants: HsmEnv['claimants'] = () => []): HsmEnv {
  // Shared readings live at most one first gateway wait, so a gateway that turned Succeeded is seen by then.
  const ttl = (): number => Math.min(30_000, ctx.settings.gatewayWaitInitialMs);
  return {
    ctx,
    gateways: new ReadCache<GatewayState | undefined>(ctx.clock, ttl),
    subnets: new ReadCache<SubnetState | undefined>(ctx.clock, ttl),
    gate: new DeployGate(() => ctx.clock.now()),
    claimants,
  };
}

const key = (identity: string, id: string): string => `${identity}|${id.toLowerCase()}`;

/** Forget the shared gateway and subnet readings of this HSM (resync-now, after our own PUT). */
export function invalidateNetwork(env: HsmEnv, hsm: DedicatedHsm, identity: string): void {
  env.gateways.invalidate(key(identity, hsm.spec.azure.expressRouteGatewayId));
  env.subnets.invalidate(key(identity, hsm.spec.azure.subnetId));
}

export async function observe(env: HsmEnv, hsm: DedicatedHsm, plane: AzurePlane, identity: string, secrets: SecretReads, signal: AbortSignal): Promise<Observation> {
  const obs: Observation = {};
  const a = hsm.spec.azure;
  const name = armName(hsm);
  const op = hsm.status?.pendingOperation;
  if (op) {
    const r = await readOperation(plane, hsm, op.kind, op.token);
    const settlement = settle(r);
    obs.operation = { read: r, settlement };
    const after = resourceAfter(settlement);
    if (after.inFlight) return obs;
    obs.resource = { ok: true, value: after.resource };
  } else {
    obs.resource = await read(() => plane.getHsm(a.subscriptionId, a.resourceGroup, name));
  }
  if (!obs.resource.ok) return obs;
  const existing = obs.resource.value;
  if (existing) {
    obs.ownership = ownershipOf(hsm, existing);
    // Not ours: nothing more is read about it (its network, NIC or appliance), and nothing of it is compared.
    if (obs.ownership.kind === 'notOurs') return obs;
    const drift = immutableDrift(desiredHsm(hsm), existing);
    if (drift.length) {
      obs.drift = drift;
      return obs;
    }
    if (existing.provisioningState === 'Succeeded') {
      obs.deployed = await observeDeployed(env, hsm, plane, identity, existing, secrets, signal);
      return obs;
    }
    if (existing.provisioningState !== 'Failed') {
      obs.network = await readNetwork(env, hsm, plane, identity);
      return obs;
    }
  }
  obs.preflight = await readPreflight(env, hsm, plane, identity, existing, { fresh: false });
  return obs;
}

/** One poll of the operation in flight, with the resource read when the poll alone cannot say (converge and finalize). */
export async function readOperation(plane: AzurePlane, hsm: DedicatedHsm, kind: 'create' | 'delete', token: string): Promise<OperationRead> {
  const a = hsm.spec.azure;
  const getHsm = (): Promise<HsmState | undefined> => plane.getHsm(a.subscriptionId, a.resourceGroup, armName(hsm));
  if (kind === 'delete') return { kind, poll: await read(() => plane.pollDelete(token)) };
  const poll = await read(() => plane.pollCreate(token));
  // Done: the poll carries the resource. Otherwise the resource says what the poll cannot.
  if (poll.ok && poll.value.done) return { kind, poll };
  return { kind, poll, current: await read(getHsm) };
}

/** The four checks a deployment needs, read side by side. */
export async function readPreflight(env: HsmEnv, hsm: DedicatedHsm, plane: AzurePlane, identity: string, failed: HsmState | undefined, opts: { fresh: boolean }): Promise<PreflightReads> {
  const a = hsm.spec.azure;
  const via = <T>(cache: ReadCache<T>, k: string, fetch: () => Promise<T>): Promise<T> => (opts.fresh ? cache.fresh(k, fetch) : cache.get(k, fetch));
  const [features, subnet, gateway, quota] = await Promise.all([
    read<FeatureState[]>(() => Promise.all(REQUIRED_FEATURES.map((f) => plane.getFeature(a.subscriptionId, f.namespace, f.name)))),
    read(() => via(env.subnets, key(identity, a.subnetId), () => plane.getSubnet(a.subnetId))),
    read(() => via(env.gateways, key(identity, a.expressRouteGatewayId), () => plane.getGateway(a.expressRouteGatewayId))),
    read<QuotaView>(() => plane.quotaView(a.subscriptionId, a.location, env.ctx.settings.quotaLimits)),
  ]);
  const scope = DeployGate.scope(a.subscriptionId, a.location);
  const self = hsmId(a.subscriptionId, a.resourceGroup, armName(hsm));
  return { features, subnet, gateway, quota: quota.ok ? { ok: true, value: env.gate.withReservations(scope, withoutSelf(quota.value, failed), self) } : quota };
}

/** The network a deployed (or deploying) HSM hangs off, from the shared readings. */
async function readNetwork(env: HsmEnv, hsm: DedicatedHsm, plane: AzurePlane, identity: string): Promise<NetworkReads> {
  const a = hsm.spec.azure;
  const [subnet, gateway] = await Promise.all([
    read(() => env.subnets.get(key(identity, a.subnetId), () => plane.getSubnet(a.subnetId))),
    read(() => env.gateways.get(key(identity, a.expressRouteGatewayId), () => plane.getGateway(a.expressRouteGatewayId))),
  ]);
  return { subnet, gateway };
}

async function observeDeployed(env: HsmEnv, hsm: DedicatedHsm, plane: AzurePlane, identity: string, existing: HsmState, secrets: SecretReads, signal: AbortSignal): Promise<Deployed> {
  const ctx = env.ctx;
  const status = hsm.status ?? {};
  // The NIC follows the HSM: its IP is where the appliance is reached.
  let ip = existing.privateIpAddress;
  const nicId = existing.nicId;
  if (!ip && nicId) {
    if (status.nicId === nicId && status.privateIpAddress) ip = status.privateIpAddress;
    else if (!idPermitted(ctx.tenancy, hsm, nicId)) {
      // An ID Azure handed back is read only where the tenancy policy lets this namespace read.
      ctx.log.warn({ hsm: armName(hsm) }, "the HSM's NIC is in a subscription the tenancy policy does not allow for this namespace; not read");
    } else {
      const nic = await read(() => plane.getNic(nicId));
      if (!nic.ok) ctx.log.warn({ hsm: armName(hsm), err: nic.failure.message }, 'could not read the HSM NIC');
      ip = nic.ok ? nic.value?.privateIpAddress : undefined;
    }
  }
  const network = await readNetwork(env, hsm, plane, identity);
  // The appliance: reads only.
  const view = applianceView(hsm, ip);
  const appliance = await observeAppliance(ctx, view, secrets, signal);
  return { ip, network, appliance, guard: guardRecords(ctx, view) };
}

/** The object as the appliance reads see it: the NIC IP Azure reports stands in for status until it is written. */
export function applianceView(hsm: DedicatedHsm, ip: string | undefined): DedicatedHsm {
  return { ...hsm, status: { ...(hsm.status ?? {}), ...(ip ? { privateIpAddress: ip } : {}) } };
}

/** The guard's records of the appliance login only (keyed by host:port, as persistGuard in shared/appliance.ts). */
function guardRecords(ctx: OperatorContext, hsm: DedicatedHsm): GuardStatusRecord[] | undefined {
  const host = advertisedHost(hsm);
  if (!host) return undefined;
  const ep = ctx.resolve({ host, port: hsm.spec.appliance.port }, 'ssh');
  // Other roles on the same address (a LunaCM host, an HA group password) belong to other objects.
  return applianceGuardRecords(ctx, hsm, guardHostOf(ep.host, ep.port));
}
