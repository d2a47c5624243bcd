/**
 * The fleet of the steady-state and reaction benchmarks: 20 DedicatedHsms, 200 NtlsClientBindings (two targets
 * each) and 5 HsmHaGroups, converged once by a real-clock operator that is then stopped; each benchmark runs its
 * own operator over it. Azure's initial quota (2 per stamp, 4 per region) would refuse 20 new HSMs, so they are
 * seeded as existing resources in the ARM simulator and the DedicatedHsm controller adopts them.
 */
import { performance } from 'node:perf_hooks';
import { Annotations, type HsmHaGroup, type NtlsClientBinding } from '../../src/api/index.js';
import { ResourceTypes, type Operator } from '../../src/operator.js';
import { CoreTypes } from '../../src/runtime/index.js';
import { startWorld, type World } from '../../src/sandbox/world.js';
import { createAll, waitUntil, type BenchCluster } from './cluster.js';
import { asObject, binding, haGroup, haSecrets } from './manifests.js';
import { startOperator } from './operator.js';
import { bindingReady, createHsms, hsmReady } from './world.js';

export const FLEET = { hsms: 20, bindings: 200, groups: 5 } as const;
/** Every object's own period in its spec: DedicatedHsm resyncInterval, binding driftCheckInterval, group pollInterval. */
export const FLEET_PERIOD = '1m';
export const FLEET_PERIOD_MS = 60_000;

export interface Fleet {
  namespace: string;
  world: World;
  hsms: string[];
  bindings: string[];
  /** Group name -> its label and members (HSM names, partition par0). */
  groups: { name: string; label: string; members: [string, string] }[];
  /** Which HSMs each binding is registered on. */
  targetsOf: Map<string, [string, string]>;
  setupMs: number;
  stop(): Promise<void>;
}

const isTrue = (conds: { type: string; status: string }[] | undefined, type: string): boolean => conds?.some((c) => c.type === type && c.status === 'True') ?? false;

export const groupReady = (g: HsmHaGroup): boolean => g.status?.observedGeneration === g.metadata.generation && isTrue(g.status?.conditions, 'Ready');

/** Everything of the fleet Ready, read from an operator's caches. */
export function fleetReady(op: Operator): { hsms: number; bindings: number; groups: number } {
  return {
    hsms: op.context.caches.dedicatedHsms.list().filter(hsmReady).length,
    bindings: (op.context.caches.bindings.list() as NtlsClientBinding[]).filter(bindingReady).length,
    groups: op.context.caches.haGroups.list().filter(groupReady).length,
  };
}

export async function waitFleetReady(op: Operator, timeoutMs: number): Promise<void> {
  await waitUntil(
    'the fleet Ready',
    () => {
      const r = fleetReady(op);
      return r.hsms >= FLEET.hsms && r.bindings >= FLEET.bindings && r.groups >= FLEET.groups;
    },
    timeoutMs,
    100,
  );
}

export function fleetFactory(cluster: BenchCluster, log: (line: string) => void): () => Promise<Fleet> {
  let pending: Promise<Fleet> | undefined;
  return () => (pending ??= buildFleet(cluster, log));
}

async function buildFleet(cluster: BenchCluster, log: (line: string) => void): Promise<Fleet> {
  const started = performance.now();
  const namespace = await cluster.namespace('bench-fleet');
  const hsms = Array.from({ length: FLEET.hsms }, (_, i) => `hsm-${String(i + 1).padStart(2, '0')}`);
  const stamp = (i: number): 'stamp1' | 'stamp2' => (i % 2 ? 'stamp2' : 'stamp1');
  const world = await startWorld({
    hsms: hsms.map((name, i) => ({ name, stampId: stamp(i), partitions: [{ label: 'par0' }, { label: 'par1' }] })),
    provisioningMs: 20,
    lunacmTimeScale: 0.01,
  });
  try {
    for (const [i, name] of hsms.entries()) {
      world.arm.world.addHsm({ subscriptionId: world.ids.subscriptionId, resourceGroup: world.ids.resourceGroup, name, location: world.ids.location, subnetId: world.ids.subnetId, stampId: stamp(i) });
    }
    // The HSMs exist in Azure already (seeded above, without this cluster's ownership tags): adopted by name.
    await createHsms(cluster.client, namespace, world, (n) => ({ stampId: stamp(hsms.indexOf(n)), resyncInterval: FLEET_PERIOD, annotations: { [Annotations.adopt]: n } }));
    const bindings = Array.from({ length: FLEET.bindings }, (_, i) => `app-${String(i).padStart(3, '0')}`);
    const targetsOf = new Map<string, [string, string]>();
    for (const [i, b] of bindings.entries()) targetsOf.set(b, [hsms[i % FLEET.hsms] ?? 'hsm-01', hsms[(i + 1) % FLEET.hsms] ?? 'hsm-02']);
    await createAll(
      cluster.client,
      ResourceTypes.bindings,
      bindings.map((b) => asObject(binding(b, { targets: (targetsOf.get(b) ?? []).map((hsm) => ({ hsm, partitions: ['par0'] })), driftCheckInterval: FLEET_PERIOD }), namespace)),
    );
    const groups = Array.from({ length: FLEET.groups }, (_, i) => ({ name: `ha-${i + 1}`, label: `bench${i + 1}HA`, members: [hsms[2 * i] ?? 'hsm-01', hsms[2 * i + 1] ?? 'hsm-02'] as [string, string] }));
    await createAll(cluster.client, CoreTypes.secrets, haSecrets().map((m) => asObject(m, namespace)));
    await createAll(
      cluster.client,
      ResourceTypes.haGroups,
      groups.map((g) => asObject(haGroup(world, g.name, { label: g.label, members: g.members.map((hsm) => ({ hsm, partitionLabel: 'par0' })), pollInterval: FLEET_PERIOD }), namespace)),
    );
    const op = await startOperator({ kubeConfig: cluster.kubeConfig(), namespace, world });
    try {
      await waitFleetReady(op, 240_000);
    } finally {
      await op.stop(5_000);
    }
    const setupMs = performance.now() - started;
    log(`fleet ${namespace}: ${FLEET.hsms} DedicatedHsms (adopted), ${FLEET.bindings} bindings on 2 HSMs each, ${FLEET.groups} HA groups Ready in ${(setupMs / 1000).toFixed(1)} s`);
    return { namespace, world, hsms, bindings, groups, targetsOf, setupMs, stop: () => world.stop() };
  } catch (e) {
    await world.stop();
    throw e;
  }
}
