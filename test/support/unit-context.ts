/**
 * The DedicatedHsm phases (observe -> decide -> act, and finalize) over the in-memory fakes, no API server: an
 * OperatorContext around a FakeAzurePlane and a FakeDevicePlane, a manual clock, a silent logger, real metrics on a
 * fresh registry, a real credential guard and digest, and a real SecretCache whose client reads Secrets from a map.
 *
 * Kubernetes is not there: the manager (and the informer caches) throw on any use and record it, so a test that ends
 * with `managerUses` empty proves the phases never wrote to Kubernetes themselves. The one cache the phases read is
 * the HsmHaGroups' (finalize asks whether the HSM holds a group's last live copy): it lists `haGroups`. One write they do make, when an
 * appliance rejects a credential (shared/appliance.ts persistGuard, through manager.status), is let through and
 * recorded only where a world asks for it (`recordStatusWrites`). The skeleton's writes are the
 * pass's report and its write-ahead checkpoints; `runPass` and `runFinalize` stand in for both (`applyPass`), as
 * controllers/shared/skeleton.ts does: status fields set and dropped, conditions through the real `report` (Ready,
 * Reconciling, Stalled rolled up), Events flushed.
 */
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterEach, expect } from 'vitest';
import { SKU_A790, type DedicatedHsm, type DedicatedHsmStatus, type DeletionPolicy, type HsmHaGroup, type ReconcileMode } from '../../src/api/index.js';
import type { Checkpoint } from '../../src/controllers/dedicatedhsm/act.js';
import { applyNotes, converge } from '../../src/controllers/dedicatedhsm/reconciler.js';
import type { HsmAction } from '../../src/controllers/dedicatedhsm/decide.js';
import { finalize, RELEASE } from '../../src/controllers/dedicatedhsm/finalize.js';
import { armIdKey } from '../../src/controllers/dedicatedhsm/duplicates.js';
import { newHsmEnv, type HsmEnv, type Observation } from '../../src/controllers/dedicatedhsm/observe.js';
import { Pass } from '../../src/controllers/dedicatedhsm/pass.js';
import {
  DEFAULT_DIGEST_KEY_SECRET,
  dialAsIs,
  report,
  secretKeyedDigest,
  SecretReads,
  type OperatorContext,
  type OperatorSettings,
  type PendingEvent,
  type TenancyPolicy,
} from '../../src/controllers/shared/index.js';
import { CredentialGuard } from '../../src/luna/index.js';
import { createHsmMetrics } from '../../src/observability/hsm-metrics.js';
import {
  FakeClock,
  KubeClient,
  objectKey,
  RetryableError,
  SecretCache,
  silentLogger,
  type ApiRequest,
  type ApiResponse,
  type Manager,
  type ReconcileOutcome,
  type SecretObject,
  type StreamRequest,
  type Transport,
} from '../../src/runtime/index.js';
import { FakeAzurePlane, type AzureMethod, type FakeAzurePlaneOptions } from './fakes/azure-plane.js';
import { FakeDevicePlane, type FakeAppliance, type FakeApplianceOptions } from './fakes/device-plane.js';

export const NAMESPACE = 'hsm-system';
export const CONTROLLER = 'DedicatedHsm';

/** Small waits: everything runs on the manual clock anyway, these only shape the schedule. */
export const UNIT_SETTINGS: OperatorSettings = {
  defaultResyncMs: 60_000,
  gatewayWaitInitialMs: 1_000,
  gatewayWaitMaxMs: 8_000,
  needsHumanRecheckMs: 30_000,
  ntlsTimeoutMs: 100,
};

// ---------------------------------------------------------------------------------------------------------------
// Secrets: a real SecretCache over a real KubeClient whose transport serves GETs of Secrets from a map

/** A Transport that knows Secrets only: GET of one Secret from memory; anything else is refused and recorded. */
export class MemorySecrets implements Transport {
  readonly host = '';
  readonly #secrets = new Map<string, SecretObject>();
  #rv = 1;
  /** Secret GETs that reached "the API server". */
  gets = 0;
  /** Requests other than a Secret GET (none expected). */
  readonly refused: string[] = [];
  cache: SecretCache | undefined;

  /** Creates or replaces a Secret (values as the data decodes to); the cache forgets its copy, as a watch event would. */
  set(namespace: string, name: string, data: Record<string, string | Buffer>, annotations: Record<string, string> = { 'dedicatedhsm.io/credential-for': '*' }): void {
    const key = `${namespace}/${name}`;
    const uid = this.#secrets.get(key)?.metadata?.uid ?? `uid-secret-${name}`;
    this.#secrets.set(key, {
      apiVersion: 'v1',
      kind: 'Secret',
      // Opted in as a device credential by default (dedicatedhsm.io/credential-for); pass {} to test a Secret that is not.
      metadata: { name, namespace, uid, resourceVersion: String(++this.#rv), annotations },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
    this.cache?.informer.store.remove(key);
  }

  async request(req: ApiRequest): Promise<ApiResponse> {
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/.exec(req.path);
    if (req.verb !== 'GET' || !m) {
      this.refused.push(`${req.verb} ${req.path}`);
      throw new Error(`unit context: no API server (${req.verb} ${req.path})`);
    }
    this.gets++;
    const s = this.#secrets.get(`${decodeURIComponent(m[1] ?? '')}/${decodeURIComponent(m[2] ?? '')}`);
    if (!s) return { status: 404, body: JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: `secrets "${m[2] ?? ''}" not found` }) };
    return { status: 200, body: JSON.stringify(s) };
  }

  async stream(req: StreamRequest): Promise<void> {
    this.refused.push(`WATCH ${req.path}`);
    throw new Error(`unit context: no API server (watch ${req.path})`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Kubernetes that is not there

/** An object any use of which throws (after recording it in `uses`): the phases never write to Kubernetes. */
function absent<T extends object>(what: string, uses: string[], except: Record<string, unknown> = {}): T {
  return new Proxy({} as T, {
    get(_t, prop) {
      if (typeof prop === 'string' && Object.hasOwn(except, prop)) return except[prop];
      const use = `${what}.${String(prop)}`;
      uses.push(use);
      throw new Error(`the phases never write to Kubernetes (${use} was used)`);
    },
  });
}

/** A status write that reached the (absent) manager: only withAppliance's persistGuard makes one. */
export interface StatusWrite {
  name: string | undefined;
  status: DedicatedHsmStatus;
  options: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// The world

export interface UnitWorldOptions {
  settings?: Partial<OperatorSettings>;
  azure?: Omit<FakeAzurePlaneOptions, 'now'>;
  /** The gateway's state (default Succeeded). */
  gatewayState?: string;
  /** The HSM subnet is delegated (default true). */
  delegated?: boolean;
  /**
   * Let `manager.status.update` through, recorded in `statusWrites` (default: it throws like every other use). The
   * one write the phases make themselves: shared/appliance.ts persistGuard, when an appliance rejects a credential.
   */
  recordStatusWrites?: boolean;
  /** The platform team's tenancy policy (default none: single-tenant mode). */
  tenancy?: TenancyPolicy;
}

export interface RecordedEvent extends PendingEvent {
  /** Which pass sent it (1-based, counted over runPass and runFinalize). */
  pass: number;
}

export interface UnitWorld {
  clock: FakeClock;
  azure: FakeAzurePlane;
  device: FakeDevicePlane;
  secrets: MemorySecrets;
  ctx: OperatorContext;
  env: HsmEnv;
  registry: Registry;
  /** Every use of the manager or the informer caches (each one also threw). */
  managerUses: string[];
  /** Status writes let through with `recordStatusWrites`. */
  statusWrites: StatusWrite[];
  /** Every Event the passes sent, in order. */
  events: RecordedEvent[];
  /** What the HsmHaGroup cache lists (ctx.caches.haGroups.list()); tests push groups here. */
  haGroups: HsmHaGroup[];
  passes: number;
  ids: { subscriptionId: string; resourceGroup: string; location: string; vnetId: string; subnetId: string; gatewayId: string };
  /** Other DedicatedHsms in the cluster, as the operator's cache would hand them to the duplicate rule (duplicates.ts). */
  others: DedicatedHsm[];
  /** The address the fake ARM gives the first HSM's NIC in the subnet (10.0.2.4). */
  firstIp: string;
}

export function unitWorld(o: UnitWorldOptions = {}): UnitWorld {
  const clock = new FakeClock();
  const azure = new FakeAzurePlane({ pollsToComplete: 2, ...o.azure, now: () => clock.now() });
  const subscriptionId = '00000000-0000-0000-0000-0000000000a1';
  const resourceGroup = 'rg-hsm';
  const location = 'westeurope';
  const vnetId = azure.addVnet({ subscriptionId, resourceGroup, name: 'hsm-vnet', location });
  const subnetId = azure.addSubnet({ vnetId, name: 'hsmsubnet', addressPrefix: '10.0.2.0/24', delegated: o.delegated ?? true });
  const gatewayId = azure.addGateway({ vnetId, name: 'hsm-ergw', timeline: [[o.gatewayState ?? 'Succeeded']] });

  const guard = new CredentialGuard();
  const device = new FakeDevicePlane({ guard });
  const secrets = new MemorySecrets();
  const client = new KubeClient(secrets);
  const cache = new SecretCache({ client, clock });
  secrets.cache = cache;
  // The digest key Secret exists already (as after the operator's first start): the real keyed digest reads it.
  secrets.set(NAMESPACE, DEFAULT_DIGEST_KEY_SECRET, { key: randomBytes(32) });
  const registry = new Registry();
  const managerUses: string[] = [];
  const statusWrites: StatusWrite[] = [];
  const status = absent<Manager['status']>('manager.status', managerUses, {
    update: async (_type: unknown, obj: DedicatedHsm, mutate: (s: DedicatedHsmStatus) => DedicatedHsmStatus | undefined, options: unknown) => {
      const draft = structuredClone(obj.status ?? {});
      const next = mutate(draft) ?? draft;
      statusWrites.push({ name: obj.metadata.name, status: next, options });
      return { object: { ...obj, status: next }, written: true };
    },
  });
  const settings: OperatorSettings = { ...UNIT_SETTINGS, ...o.settings };
  const haGroups: HsmHaGroup[] = [];
  const others: DedicatedHsm[] = [];
  const ctx: OperatorContext = {
    manager: absent<Manager>('manager', managerUses, o.recordStatusWrites ? { status } : {}),
    log: silentLogger,
    clock,
    caches: absent<OperatorContext['caches']>('caches', managerUses, { haGroups: absent('caches.haGroups', managerUses, { list: () => [...haGroups] }) }),
    secrets: cache,
    device,
    guard,
    digest: secretKeyedDigest(client, { namespace: NAMESPACE, name: DEFAULT_DIGEST_KEY_SECRET }),
    azure: () => azure,
    resolve: dialAsIs,
    metrics: createHsmMetrics(registry, { now: () => clock.now() }),
    settings,
    ...(o.tenancy ? { tenancy: o.tenancy } : {}),
  };
  return {
    clock,
    azure,
    device,
    secrets,
    ctx,
    env: hsmEnv(ctx, (hsm) => others.filter((o) => armIdKey(o) === armIdKey(hsm))),
    others,
    registry,
    managerUses,
    statusWrites,
    events: [],
    haGroups,
    passes: 0,
    ids: { subscriptionId, resourceGroup, location, vnetId, subnetId, gatewayId },
    firstIp: '10.0.2.4',
  };
}

/** The phases' shared state, built as DedicatedHsmReconciler builds it (claimants: the world's `others`, not a cache). */
export function hsmEnv(ctx: OperatorContext, claimants?: HsmEnv['claimants']): HsmEnv {
  return newHsmEnv(ctx, claimants);
}

/** An appliance at `host` (default the first NIC address) with its password Secret `<name>-appliance`. */
export async function addAppliance(w: UnitWorld, name: string, o: Partial<FakeApplianceOptions> & { secretPassword?: string } = {}): Promise<FakeAppliance> {
  const { secretPassword, ...opts } = o;
  const a = await w.device.addAppliance({ host: w.firstIp, serial: '572413', rebootPatchInstalled: true, ...opts });
  w.secrets.set(NAMESPACE, `${name}-appliance`, { password: secretPassword ?? a.password });
  return a;
}

export interface HsmOptions {
  /** spec.azure.name (default: metadata.name). */
  armName?: string;
  stampId?: 'stamp1' | 'stamp2';
  tags?: Record<string, string>;
  raceRetries?: number;
  redeployAfter?: number;
  deletionPolicy?: DeletionPolicy;
  annotations?: Record<string, string>;
  /** The appliance's pinned host key (spec.appliance.hostKey); without it trust on first use. */
  hostKey?: string;
  status?: DedicatedHsmStatus;
}

/** A DedicatedHsm as the API server serves it (defaults filled in), as src/sandbox/manifests.ts writes one. */
export function dedicatedHsm(w: UnitWorld, name: string, o: HsmOptions = {}): DedicatedHsm {
  const { subscriptionId, resourceGroup, location, subnetId, gatewayId } = w.ids;
  return {
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'DedicatedHsm',
    metadata: { name, namespace: NAMESPACE, uid: `uid-${name}`, generation: 1, resourceVersion: '1', ...(o.annotations ? { annotations: { ...o.annotations } } : {}) },
    spec: {
      azure: {
        subscriptionId,
        resourceGroup,
        ...(o.armName ? { name: o.armName } : {}),
        location,
        sku: SKU_A790,
        stampId: o.stampId ?? 'stamp1',
        subnetId,
        expressRouteGatewayId: gatewayId,
        ...(o.tags ? { tags: { ...o.tags } } : {}),
      },
      appliance: {
        port: 22,
        username: 'tenantadmin',
        credentialsRef: { name: `${name}-appliance`, key: 'password' },
        ...(o.hostKey ? { hostKey: o.hostKey } : {}),
        insecureTrustOnFirstUse: !o.hostKey,
        ntlsPort: 1792,
      },
      deployment: { raceRetries: o.raceRetries ?? 3, redeployAfter: o.redeployAfter ?? 2 },
      deletionPolicy: o.deletionPolicy ?? 'Orphan',
      resyncInterval: '10m',
    },
    ...(o.status ? { status: structuredClone(o.status) } : {}),
  };
}

/** The object being deleted (what the finalizer path sees). */
export function deleting(hsm: DedicatedHsm, annotations: Record<string, string> = {}): DedicatedHsm {
  const c = structuredClone(hsm);
  c.metadata.deletionTimestamp = new Date(0).toISOString();
  c.metadata.finalizers = ['dedicatedhsm.io/finalizer'];
  c.metadata.annotations = { ...(c.metadata.annotations ?? {}), ...annotations };
  return c;
}

/**
 * What the skeleton's write makes of a pass (status fields put and cleared, conditions through `report`, observed
 * generation) on a copy of `hsm`; the pass's Events are flushed into `sent` as the skeleton flushes them.
 */
export function applyPass(hsm: DedicatedHsm, pass: Pass, sent: PendingEvent[] = []): DedicatedHsm {
  const out = structuredClone(hsm);
  const status: DedicatedHsmStatus = out.status ?? {};
  Object.assign(status, structuredClone(pass.set));
  for (const k of pass.drop) delete status[k];
  const r = report('DedicatedHsm', status.conditions, pass.conditions, out.metadata.generation, pass.now, {
    ...(pass.override ? { override: pass.override } : {}),
    ...(pass.happy ? { happy: pass.happy } : {}),
  });
  status.conditions = r.conditions;
  if (out.metadata.generation !== undefined) status.observedGeneration = out.metadata.generation;
  out.status = status;
  sent.push(...pass.events.splice(0));
  return out;
}

/** A checkpoint as the fakes saw it when it was written. */
export interface CheckpointSeen {
  status: DedicatedHsmStatus;
  events: PendingEvent[];
  azureCalls: Record<AzureMethod, number>;
  hsmLoginFailures: number;
}

export interface PassRun {
  /** The object after the pass's report. */
  hsm: DedicatedHsm;
  pass: Pass;
  obs: Observation | undefined;
  action: HsmAction | undefined;
  outcome: ReconcileOutcome;
  /** The RetryableError the pass ended with (its report is written first, as the skeleton does). */
  error: RetryableError | undefined;
  checkpoints: CheckpointSeen[];
  events: PendingEvent[];
  /** When to look again: the outcome's requeueAfter, else the error's retryAfterMs. */
  next: number | undefined;
}

function checkpointer(w: UnitWorld, get: () => DedicatedHsm, set: (h: DedicatedHsm) => void, sent: PendingEvent[], seen: CheckpointSeen[]): Checkpoint {
  return async (p) => {
    const before = sent.length;
    set(applyPass(get(), p, sent));
    seen.push({
      status: structuredClone(get().status ?? {}),
      events: sent.slice(before),
      azureCalls: { ...w.azure.calls },
      hsmLoginFailures: w.device.counters().hsmLogins.failure,
    });
    return get();
  };
}

/** The edge of a pass (reconciler.ts `noted`): the metric changes decide noted. */
/** A phase run the way the reconciler runs it: a RetryableError is the pass's answer, the Secret reads and notes settle after. */
async function asReconcilerRuns<T>(w: UnitWorld, input: DedicatedHsm, pass: Pass, secrets: SecretReads, run: () => Promise<T>): Promise<{ value?: T; error?: RetryableError }> {
  try {
    return { value: await run() };
  } catch (e) {
    if (!(e instanceof RetryableError)) throw e;
    return { error: e };
  } finally {
    secrets.done();
    applyNotes(w.ctx, input, pass, w.ctx.log);
  }
}

/** One converge pass as DedicatedHsmReconciler's apply runs it: credentials, observe, decide, act, then the report. */
export async function runPass(w: UnitWorld, input: DedicatedHsm, o: { mode?: Exclude<ReconcileMode, 'paused'>; recheck?: boolean } = {}): Promise<PassRun> {
  const mode = o.mode ?? 'manage';
  const recheck = o.recheck ?? false;
  const n = ++w.passes;
  const pass = new Pass(new Date(w.clock.now()));
  const sent: PendingEvent[] = [];
  const checkpoints: CheckpointSeen[] = [];
  let current = input;
  let obs: Observation | undefined;
  let action: HsmAction | undefined;
  const signal = new AbortController().signal;
  const secrets = new SecretReads(w.ctx.secrets, CONTROLLER, objectKey(input), w.ctx.digest);
  const checkpoint = checkpointer(w, () => current, (h) => (current = h), sent, checkpoints);
  const ran = await asReconcilerRuns(w, input, pass, secrets, () =>
    converge(w.env, input, pass, {
      mode,
      resync: recheck ? 'now' : undefined,
      signal,
      secrets,
      checkpoint,
      seen: (o2, a2) => {
        obs = o2;
        action = a2;
      },
    }),
  );
  const outcome: ReconcileOutcome = ran.value;
  const error = ran.error;
  current = applyPass(current, pass, sent);
  w.events.push(...sent.map((e) => ({ ...e, pass: n })));
  const next = outcome?.requeueAfter ?? error?.retryAfterMs;
  return { hsm: current, pass, obs, action, outcome, error, checkpoints, events: sent, next };
}

export interface FinalizeRun {
  /** The object after the pass's report (unchanged when released: the finalizer goes, no status is written). */
  hsm: DedicatedHsm;
  released: boolean;
  pass: Pass;
  outcome: ReconcileOutcome;
  error: RetryableError | undefined;
  checkpoints: CheckpointSeen[];
  events: PendingEvent[];
}

/** One deletion pass as the reconciler's cleanup runs it. */
export async function runFinalize(w: UnitWorld, input: DedicatedHsm, o: { mode?: Exclude<ReconcileMode, 'paused'> } = {}): Promise<FinalizeRun> {
  const n = ++w.passes;
  const pass = new Pass(new Date(w.clock.now()));
  const sent: PendingEvent[] = [];
  const checkpoints: CheckpointSeen[] = [];
  let current = input;
  const secrets = new SecretReads(w.ctx.secrets, CONTROLLER, objectKey(input), w.ctx.digest);
  const checkpoint = checkpointer(w, () => current, (h) => (current = h), sent, checkpoints);
  const ran = await asReconcilerRuns(w, input, pass, secrets, () => finalize(w.env, input, o.mode ?? 'manage', secrets, pass, checkpoint, new AbortController().signal));
  const result: ReconcileOutcome | typeof RELEASE = ran.value;
  const error = ran.error;
  const released = result === RELEASE;
  if (released) sent.push(...pass.events.splice(0));
  else current = applyPass(current, pass, sent);
  w.events.push(...sent.map((e) => ({ ...e, pass: n })));
  return { hsm: current, released, pass, outcome: result === RELEASE ? undefined : result, error, checkpoints, events: sent };
}

/**
 * Runs passes one after the other, each after the wait the previous one asked for (the manual clock advanced by it),
 * until `until` holds or `max` passes ran.
 */
export async function drive(w: UnitWorld, hsm: DedicatedHsm, until: (r: PassRun) => boolean, o: { max?: number; mode?: Exclude<ReconcileMode, 'paused'> } = {}): Promise<{ hsm: DedicatedHsm; runs: PassRun[] }> {
  const runs: PassRun[] = [];
  let current = hsm;
  for (let i = 0; i < (o.max ?? 40); i++) {
    const r = await runPass(w, current, o.mode ? { mode: o.mode } : {});
    runs.push(r);
    current = r.hsm;
    if (until(r)) return { hsm: current, runs };
    w.clock.advance(r.next ?? w.ctx.settings.defaultResyncMs);
  }
  throw new Error(`drive: the condition did not hold after ${runs.length} passes (actions: ${runs.map((r) => r.action?.kind).join(', ')})`);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading results

export function conditionOf(hsm: DedicatedHsm | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return hsm?.status?.conditions?.find((c) => c.type === type);
}

/** Events of `reason` the world has seen, in the order they were sent. */
export function eventsOf(w: UnitWorld, reason: string): RecordedEvent[] {
  return w.events.filter((e) => e.reason === reason);
}

/** Requests that reached the fake ARM, by method, over HSM resources only. */
export function hsmWrites(w: UnitWorld): string[] {
  return w.azure.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.resource.split('/').pop() ?? ''}`);
}

/** Every Azure call the phases made, refused ones included. */
export function azureCallsTotal(w: UnitWorld): number {
  return Object.values(w.azure.calls).reduce((a, b) => a + b, 0);
}

/** The value of one sample of a metric (undefined when the series is absent). */
export async function metricValue(w: UnitWorld, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = await w.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => String((x.labels as Record<string, unknown>)[k]) === val));
  return v?.value;
}

/**
 * A `world()` for one test file whose worlds are checked after each test: the phases never touched Kubernetes (the
 * manager and the caches) and asked for no Secret the map does not serve.
 */
export function checkedWorlds(): (o?: UnitWorldOptions) => UnitWorld {
  const worlds: UnitWorld[] = [];
  afterEach(() => {
    for (const w of worlds.splice(0)) {
      expect(w.managerUses).toEqual([]);
      expect(w.secrets.refused).toEqual([]);
    }
  });
  return (o = {}) => {
    const w = unitWorld(o);
    worlds.push(w);
    return w;
  };
}
