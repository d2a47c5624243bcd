/**
 * GitOps at a fixed point, on the real API server: a sync tool server-side-applies config/samples every second, as
 * Argo CD (self-heal) and Flux (its interval) do, with their field managers and conflicts forced, while the operator
 * converges and afterwards. Git holds trigger annotations (resync-now, repush-now, recover-now) and a
 * `deletionPolicy: Delete` without the confirm annotation; app-b's certificate Secret is not in Git but written, and
 * rotated, by another controller (as External Secrets would). Asserted: each distinct trigger value acts exactly once
 * (the operator's Events and the appliances' command counters), kstatus Current and the Argo CD health check Healthy
 * all through the steady state, the operator's field manager owns none of the sync tool's fields, and a dry-run of
 * the tool's apply after convergence changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Annotations, FINALIZER, type ConditionKind } from '../../../src/api/index.js';
import { healthScript } from '../../../src/observability/argocd-health.js';
import type { KubeObject } from '../../../src/runtime/index.js';
import { typeOfManifest } from '../../../src/sandbox/apply.js';
import type { Manifest } from '../../../src/sandbox/manifests.js';
import { ensureTools, run } from '../../support/tools.js';
import { waitFor } from '../../support/wait.js';
import { runHealthScript } from '../../unit/observability/lua.js';
import { apply, ARGO_CD, FLUX, manifestOf, startGitOpsWorld, SyncTool, tlsSecret, type GitOpsWorld, type SyncToolKind } from './sync-tool.js';

/** One metadata.managedFields entry. */
interface ManagedFields {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: unknown;
}

type Live = KubeObject & { metadata: NonNullable<KubeObject['metadata']>; status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason: string }[] } };

const CUSTOM = ['DedicatedHsm', 'NtlsClientBinding', 'HsmHaGroup'];
const ESO = 'external-secrets';
/** The operator's field manager: its client's user agent. */
const OPERATOR = 'hsm-operator';
const HSMS = ['hsm-eastus-1', 'hsm-eastus-2'];

/** Each trigger, the object it is committed on, and what the operator tells when it acts on it. */
const TRIGGERS = [
  { annotation: Annotations.resyncNow, kind: 'DedicatedHsm', name: 'hsm-eastus-1', told: 'ResyncRequested' },
  { annotation: Annotations.repushNow, kind: 'NtlsClientBinding', name: 'app-a', told: 'RepushRequested' },
  { annotation: Annotations.recoverNow, kind: 'HsmHaGroup', name: 'payments-ha', told: 'RecoverNowIgnored' },
] as const;

describe.each([ARGO_CD, FLUX])('a fixed point with $tool ($manager) re-applying every second', (kind: SyncToolKind) => {
  let w: GitOpsWorld;
  let tool: SyncTool;
  let kstatus: string;
  let lua: string;
  let git: Manifest[];
  /** Health verdicts that were not Current / Healthy during the steady state, and how many rounds were judged. */
  const judged: string[] = [];
  let rounds = 0;
  let judging: Promise<void> | undefined;
  let steady = false;

  /** Git at one commit: the samples minus app-b's Secret (another controller owns it), with the triggers at `value`. */
  const commit = (value: string): Manifest[] =>
    w.samples
      .filter((m) => !(m.kind === 'Secret' && m.metadata.name === 'app-b-tls'))
      .map((m) => {
        const c = structuredClone(m);
        const t = TRIGGERS.find((x) => x.kind === c.kind && x.name === c.metadata.name);
        if (t) c.metadata.annotations = { ...c.metadata.annotations, [t.annotation]: value };
        // Committed by someone who means it, but without the second key: nothing may come of it while the object lives.
        if (c.kind === 'DedicatedHsm' && c.metadata.name === 'hsm-eastus-2') (c.spec as Record<string, unknown>).deletionPolicy = 'Delete';
        return c;
      });

  beforeAll(async () => {
    ({ kstatus, luahealth: lua } = await ensureTools());
    w = await startGitOpsWorld(`gitops-${kind.tool === 'Argo CD' ? 'argo' : 'flux'}`);
    tool = new SyncTool(kind, w.client, w.namespace);
    await apply(w.client, w.namespace, ESO, manifestOf(w.samples, 'Secret', 'app-b-tls'));
    git = commit('2026-01-01T00:00:00Z');
    tool.commit(git);
    tool.start(1_000);
  }, 120_000);
  afterAll(async () => {
    steady = false;
    await judging;
    await tool?.stop();
    await w?.stop();
  });

  const live = async (): Promise<Live[]> => {
    const out: Live[] = [];
    for (const m of tool.manifests.filter((x) => CUSTOM.includes(x.kind))) out.push(await w.client.get<Live>(typeOfManifest(m), w.namespace, m.metadata.name));
    return out;
  };
  const ready = (o: Live) => o.status?.conditions?.find((c) => c.type === 'Ready');
  const allReady = async () => (await live()).every((o) => ready(o)?.status === 'True' && o.status?.observedGeneration === o.metadata.generation);
  const clientDeletes = () => HSMS.map((h) => w.world.appliances.get(h)?.counters.commands.byName['client delete'] ?? 0);

  /** kstatus and the Argo CD health check on every custom object: all must be Current / Healthy. */
  const judge = async (when: string): Promise<void> => {
    const objs = await live();
    const k = JSON.parse(run(kstatus, [], JSON.stringify(objs))) as { name: string; status: string; message: string }[];
    for (const r of k) if (r.status !== 'Current') judged.push(`${when}: kstatus ${r.name} ${r.status}: ${r.message}`);
    for (const o of objs) {
      const h = runHealthScript(lua, healthScript(o.kind as ConditionKind), [o])[0];
      if (h?.status !== 'Healthy') judged.push(`${when}: Argo CD ${o.metadata.name} ${h?.status}: ${h?.message}`);
    }
  };
  /** From convergence on, kstatus and the Argo CD check judge every object about once a second until the end. */
  const judgeSteadyState = (): void => {
    steady = true;
    judging = (async () => {
      while (steady) {
        await judge(`round ${++rounds}`);
        await sleep(1_000);
      }
    })();
  };

  it('converges while the sync tool re-applies; each committed trigger value acts once', async () => {
    await waitFor('every object Ready for its generation', allReady, 90_000, 250);
    judgeSteadyState();
    await tool.waitRounds(4);
    for (const t of TRIGGERS) expect(w.count(t.name, t.told), `${t.annotation} on ${t.name}`).toBe(1);
    expect(judged).toEqual([]);
    expect(tool.errors).toEqual([]);
  }, 120_000);

  it('a new commit of each trigger acts exactly once more, while the tool keeps re-applying it', async () => {
    const deletes = clientDeletes();
    const recovers = w.world.lunacm.counters.commands.byName['hagroup recover'] ?? 0;
    git = commit('2026-01-02T00:00:00Z');
    tool.commit(git);
    await waitFor('each new trigger value handled', () => TRIGGERS.every((t) => w.count(t.name, t.told) >= 2), 30_000, 100);
    await tool.waitRounds(6);
    for (const t of TRIGGERS) expect(w.count(t.name, t.told), `${t.annotation} on ${t.name}`).toBe(2);
    // The re-push reached each appliance once (one delete and register of app-a); nothing was down, so nothing to recover.
    expect(clientDeletes()).toEqual(deletes.map((d) => d + 1));
    expect(w.world.lunacm.counters.commands.byName['hagroup recover'] ?? 0).toBe(recovers);
    expect(judged).toEqual([]);
  }, 60_000);

  it('a certificate rotated by another controller is pushed once; the tool never sees a diff', async () => {
    const deletes = clientDeletes();
    const before = (await w.client.get<Live & { status?: { certificate?: { fingerprint?: string } } }>(typeOfManifest(manifestOf(git, 'NtlsClientBinding', 'app-b')), w.namespace, 'app-b')).status?.certificate?.fingerprint;
    await apply(w.client, w.namespace, ESO, await tlsSecret('app-b-tls', '10.10.1.20'));
    await waitFor(
      'app-b pushed its new certificate and Ready',
      async () => {
        const b = await w.client.get<Live & { status?: { certificate?: { fingerprint?: string } } }>(typeOfManifest(manifestOf(git, 'NtlsClientBinding', 'app-b')), w.namespace, 'app-b');
        return b.status?.certificate?.fingerprint !== before && ready(b)?.status === 'True' && clientDeletes().every((d, i) => d === (deletes[i] ?? 0) + 1);
      },
      30_000,
      200,
    );
    await tool.waitRounds(4);
    expect(clientDeletes()).toEqual(deletes.map((d) => d + 1));
    expect(judged).toEqual([]);
  }, 60_000);

  it('after convergence a dry-run of the apply changes nothing, and the operator owns none of the tool\'s fields', async () => {
    // The steady state is judged for a number of rounds, not a stretch of wall time (a loaded machine runs fewer per second).
    await waitFor('twelve rounds of judging', () => rounds >= 12, 60_000, 100);
    await tool.stop();
    steady = false;
    await judging;
    // Judged all through: while triggers were handled and the certificate rotated, every object stayed Current.
    expect(rounds).toBeGreaterThanOrEqual(12);
    expect(judged).toEqual([]);
    // The committed deletionPolicy: Delete without the second key did nothing while the object lives.
    expect(w.world.arm.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    for (const h of HSMS) expect(w.world.appliances.get(h)?.counters.hsmLogins).toEqual({ success: 0, failure: 0 });
    for (const m of tool.manifests) {
      const liveObj = await w.client.get(typeOfManifest(m), w.namespace, m.metadata.name);
      const dry = await tool.dryRun(m);
      expect(dry, `${m.kind}/${m.metadata.name}`).toEqual(liveObj);
      const fields = (liveObj.metadata?.managedFields ?? []) as ManagedFields[];
      const mine = fields.filter((f) => f.manager === kind.manager);
      expect(mine.map((f) => f.operation), `${m.kind}/${m.metadata.name}`).toEqual(['Apply']);
      const theirs = leaves(mine[0]?.fieldsV1);
      // Nobody else owns a field the tool applies; the operator owns, outside /status, its finalizer and nothing else.
      for (const f of fields.filter((x) => x.manager !== kind.manager && x.subresource !== 'status')) {
        const owned = leaves(f.fieldsV1);
        expect(owned.filter((p) => theirs.includes(p)), `${f.manager} on ${m.kind}/${m.metadata.name}`).toEqual([]);
        if (f.manager === OPERATOR) expect(owned, `${m.kind}/${m.metadata.name}`).toEqual([`.metadata.finalizers."${FINALIZER}"`]);
      }
      const operatorWrites = fields.filter((f) => f.manager === OPERATOR).map((f) => f.subresource ?? 'object');
      // Secrets and the HsmGrant (no status, no finalizer: the operator only reads it) carry nothing of the operator's.
      if (m.kind === 'Secret' || m.kind === 'HsmGrant') expect(operatorWrites).toEqual([]);
      // The kinds with a finalizer carry exactly that entry of the operator's, beside its /status.
      else expect(operatorWrites.sort(), `${m.kind}/${m.metadata.name}`).toEqual(m.kind === 'HsmHaGroup' ? ['status'] : ['object', 'status']);
      // Every trigger annotation is still the tool's, with the value Git holds.
      const t = TRIGGERS.find((x) => x.kind === m.kind && x.name === m.metadata.name);
      if (t) {
        expect(theirs).toContain(`.metadata.annotations.${t.annotation}`);
        expect(liveObj.metadata?.annotations?.[t.annotation]).toBe('2026-01-02T00:00:00Z');
      }
    }
    expect(tool.errors).toEqual([]);
  }, 60_000);
});

/** The leaf paths of a managedFields fieldsV1 set (`.metadata.annotations.x`, `.spec.azure.location`, ...). */
function leaves(set: unknown, prefix = ''): string[] {
  if (!set || typeof set !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(set as Record<string, unknown>)) {
    if (k === '.') continue;
    const path = `${prefix}.${k.replace(/^[fkv]:/, '')}`;
    const below = leaves(v, path);
    out.push(...(below.length ? below : [path]));
  }
  return out;
}
