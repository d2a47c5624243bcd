/** Worlds for the benchmarks: appliances, their Secrets and DedicatedHsms, and waits on the operator's caches. */
import type { DedicatedHsm, NtlsClientBinding } from '../../src/api/index.js';
import type { Operator } from '../../src/operator.js';
import { ResourceTypes } from '../../src/operator.js';
import { CoreTypes, type KubeClient } from '../../src/runtime/index.js';
import { applianceSecret, dedicatedHsm, type DedicatedHsmOptions } from '../../src/sandbox/manifests.js';
import type { World } from '../../src/sandbox/world.js';
import { createAll, waitUntil } from './cluster.js';
import { asObject } from './manifests.js';

/** Creates the appliance Secret and the DedicatedHsm of every HSM of the world. */
export async function createHsms(client: KubeClient, namespace: string, world: World, opts: (name: string) => DedicatedHsmOptions = () => ({})): Promise<void> {
  const names = [...world.appliances.keys()];
  await createAll(client, CoreTypes.secrets, names.map((n) => asObject(applianceSecret(`${n}-appliance`), namespace)));
  await createAll(client, ResourceTypes.dedicatedHsms, names.map((n) => asObject(dedicatedHsm(world, n, opts(n)), namespace)));
}

const isTrue = (conds: { type: string; status: string }[] | undefined, type: string): boolean => conds?.some((c) => c.type === type && c.status === 'True') ?? false;

export const hsmReady = (h: DedicatedHsm): boolean => Boolean(h.status?.privateIpAddress) && isTrue(h.status?.conditions, 'ApplianceReachable');

export const bindingReady = (b: NtlsClientBinding): boolean =>
  b.status?.observedGeneration === b.metadata.generation && isTrue(b.status?.conditions, 'Ready') && isTrue(b.status?.conditions, 'InSync');

/** Waits (on the operator's own cache) until every DedicatedHsm is deployed with its appliance reachable. */
export async function waitHsmsReady(op: Operator, count: number, timeoutMs: number): Promise<void> {
  await waitUntil(`${count} DedicatedHsms deployed and reachable`, () => op.context.caches.dedicatedHsms.list().filter(hsmReady).length >= count, timeoutMs, 100);
}

/** Commands, connections and channels the appliances saw, summed and per appliance. */
export interface ApplianceTally {
  execs: number;
  connections: number;
  stateChanging: number;
  readOnly: number;
  byName: Record<string, number>;
  perAppliance: Record<string, { execs: number; connections: number; maxOpenChannels: number }>;
}

export function tally(world: World): ApplianceTally {
  const t: ApplianceTally = { execs: 0, connections: 0, stateChanging: 0, readOnly: 0, byName: {}, perAppliance: {} };
  for (const [name, a] of world.appliances) {
    t.execs += a.counters.ssh.execs;
    t.connections += a.counters.ssh.connections;
    t.stateChanging += a.counters.commands.stateChanging;
    t.readOnly += a.counters.commands.readOnly;
    for (const [cmd, n] of Object.entries(a.counters.commands.byName)) t.byName[cmd] = (t.byName[cmd] ?? 0) + n;
    t.perAppliance[name] = { execs: a.counters.ssh.execs, connections: a.counters.ssh.connections, maxOpenChannels: a.counters.ssh.maxOpenChannels };
  }
  return t;
}

export function tallyDiff(after: ApplianceTally, before: ApplianceTally): ApplianceTally {
  const byName: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byName)) if (v - (before.byName[k] ?? 0)) byName[k] = v - (before.byName[k] ?? 0);
  const perAppliance: ApplianceTally['perAppliance'] = {};
  for (const [k, v] of Object.entries(after.perAppliance)) {
    const b = before.perAppliance[k];
    perAppliance[k] = { execs: v.execs - (b?.execs ?? 0), connections: v.connections - (b?.connections ?? 0), maxOpenChannels: v.maxOpenChannels };
  }
  return {
    execs: after.execs - before.execs,
    connections: after.connections - before.connections,
    stateChanging: after.stateChanging - before.stateChanging,
    readOnly: after.readOnly - before.readOnly,
    byName,
    perAppliance,
  };
}
