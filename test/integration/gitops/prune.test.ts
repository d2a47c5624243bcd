/**
 * Prune as the sync tools do it, on the real API server: the custom resources leave Git and the tool deletes them
 * with its propagation policy (Argo CD: foreground, Flux: background). With the default deletionPolicy Orphan, the
 * Azure HSMs, the HA group on the LunaCM host and the clients registered on the appliances are left untouched (the
 * simulators count no delete of any kind), and each object's deletion is told by an Orphaned Event. A DedicatedHsm
 * committed with deletionPolicy Delete but without the second key stays, blocked, until a human decides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Annotations, type DedicatedHsm } from '../../../src/api/index.js';
import { typeOfManifest } from '../../../src/sandbox/apply.js';
import type { Manifest } from '../../../src/sandbox/manifests.js';
import { waitFor } from '../../support/wait.js';
import { ARGO_CD, collectForeground, FLUX, manifestOf, startGitOpsWorld, SyncTool, type GitOpsWorld, type SyncToolKind } from './sync-tool.js';

const HSMS = ['hsm-eastus-1', 'hsm-eastus-2'];
const CUSTOM = ['DedicatedHsm', 'NtlsClientBinding', 'HsmHaGroup'];
/** Argo CD prunes in reverse sync-wave order, Flux deletes in reverse apply order: dependents first either way. */
const PRUNE_ORDER = ['NtlsClientBinding', 'HsmHaGroup', 'DedicatedHsm'];

describe.each([ARGO_CD, FLUX])('prune by $tool ($propagationPolicy deletion)', (kind: SyncToolKind) => {
  let w: GitOpsWorld;
  let tool: SyncTool;
  let git: Manifest[];

  beforeAll(async () => {
    w = await startGitOpsWorld(`prune-${kind.tool === 'Argo CD' ? 'argo' : 'flux'}`);
    tool = new SyncTool(kind, w.client, w.namespace);
    // hsm-eastus-2 is committed with deletionPolicy Delete, and nobody set the second key.
    git = w.samples.map((m) => (m.kind === 'DedicatedHsm' && m.metadata.name === 'hsm-eastus-2' ? { ...m, spec: { ...(m.spec as object), deletionPolicy: 'Delete' } } : m));
    tool.commit(git);
    tool.start(1_000);
    await waitFor(
      'every object Ready',
      async () => {
        for (const m of tool.manifests.filter((x) => CUSTOM.includes(x.kind))) {
          const o = await w.client.get<DedicatedHsm>(typeOfManifest(m), w.namespace, m.metadata.name);
          if (o.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return false;
        }
        return true;
      },
      90_000,
      250,
    );
  }, 120_000);
  afterAll(async () => {
    await tool?.stop();
    await w?.stop();
  });

  const deletes = () => ({
    arm: w.world.arm.requests.filter((r) => r.method === 'DELETE').length,
    lunacm: ['hagroup deletegroup', 'hagroup removemember'].map((c) => w.world.lunacm.counters.commands.byName[c] ?? 0),
    clients: HSMS.map((h) => w.world.appliances.get(h)?.counters.commands.byName['client delete'] ?? 0),
  });

  it('with Orphan leaves the Azure HSM, the HA group and the registered clients untouched, and says so', async () => {
    const before = deletes();
    expect(before.arm).toBe(0);
    const group = [...w.world.lunacm.state.groups.values()].find((g) => g.label === 'paymentsHA');
    expect(group?.members).toHaveLength(2);

    // The custom resources leave Git; the tool stops applying them and prunes them, dependents first.
    const pruned = git.filter((m) => CUSTOM.includes(m.kind)).sort((a, b) => PRUNE_ORDER.indexOf(a.kind) - PRUNE_ORDER.indexOf(b.kind));
    tool.commit(git.filter((m) => !CUSTOM.includes(m.kind)));
    await tool.waitRounds(1);
    for (const m of pruned) {
      await tool.prune(m);
      if (kind.propagationPolicy === 'Foreground') await collectForeground(w.client, typeOfManifest(m), w.namespace, m.metadata.name);
    }
    const orphans = pruned.filter((m) => m.metadata.name !== 'hsm-eastus-2');
    await waitFor(
      'every Orphan object gone',
      async () => {
        for (const m of orphans) if (await w.client.getIfExists(typeOfManifest(m), w.namespace, m.metadata.name)) return false;
        return true;
      },
      30_000,
      200,
    );
    await waitFor('an Orphaned Event for each', () => orphans.every((m) => w.count(m.metadata.name, 'Orphaned') >= 1), 30_000, 100);
    for (const m of orphans) expect(w.count(m.metadata.name, 'Orphaned'), m.metadata.name).toBe(1);

    // Nothing was deleted anywhere: not in Azure, not on the LunaCM host, not on the appliances.
    expect(deletes()).toEqual(before);
    for (const h of HSMS) expect(w.world.arm.world.hsm(h)?.provisioningState).toBe('Succeeded');
    expect(group?.members.map((m) => m.status)).toEqual(['alive', 'alive']);
    expect(w.world.lunacm.state.groups.get('paymentsHA')).toBe(group);
    for (const h of HSMS) {
      const clients = w.world.appliances.get(h)?.state.clients;
      expect([...(clients?.keys() ?? [])].sort(), h).toEqual(['team-a-app-a', 'team-a-app-b']);
      expect(w.world.appliances.get(h)?.counters.hsmLogins).toEqual({ success: 0, failure: 0 });
    }
    const told = (name: string) => w.told.find((t) => t.name === name && t.reason === 'Orphaned')?.note ?? '';
    expect(told('hsm-eastus-1')).toContain('stays in Azure untouched');
    expect(told('payments-ha')).toContain('HA group paymentsHA stays on LunaCM client host');
    // The samples' client names carry app team A's prefix (the grant's clientNamePrefix).
    for (const b of ['app-a', 'app-b']) expect(told(b)).toContain(`client team-a-${b} stays registered on hsm-eastus-1, hsm-eastus-2`);
  }, 60_000);

  it('with Delete and no second key the HSM stays, blocked, until a human chooses', async () => {
    const HSM_TYPE = typeOfManifest(manifestOf(git, 'DedicatedHsm', 'hsm-eastus-2'));
    const blocked = await waitFor(
      'hsm-eastus-2 DeletionBlocked',
      async () => {
        const h = await w.client.get<DedicatedHsm>(HSM_TYPE, w.namespace, 'hsm-eastus-2');
        return h.status?.conditions?.find((c) => c.type === 'DeletionBlocked')?.status === 'True' && h;
      },
      20_000,
      200,
    );
    expect(blocked.metadata.finalizers).toContain('dedicatedhsm.io/finalizer');
    expect(blocked.metadata.annotations?.[Annotations.confirmZeroize]).toBeUndefined();
    expect(w.world.arm.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(w.world.appliances.get('hsm-eastus-2')?.state.zeroized).toBe(false);
    // The human keeps the HSM: Orphan releases the object, and Azure is left as it is.
    await w.client.patch(HSM_TYPE, w.namespace, 'hsm-eastus-2', { spec: { deletionPolicy: 'Orphan' } }, 'merge', { fieldManager: 'kubectl-edit' });
    await waitFor('hsm-eastus-2 gone', async () => (await w.client.getIfExists(HSM_TYPE, w.namespace, 'hsm-eastus-2')) === undefined, 20_000, 200);
    expect(w.count('hsm-eastus-2', 'Orphaned')).toBe(1);
    expect(w.world.arm.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(w.world.arm.world.hsm('hsm-eastus-2')?.provisioningState).toBe('Succeeded');
  }, 60_000);
});
