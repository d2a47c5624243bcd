/**
 * `hsm-operator plan`: what the operator would do with manifests before anyone applies them. Each manifest of the
 * operator's kinds is resolved against the live cluster (the object as it is, the Secrets it names) and, for a
 * DedicatedHsm, against Azure (and, with --appliance, its appliance) through the same observe and decide the
 * controller runs; nothing is ever written (read-only.ts). Other kinds are listed as ignored.
 */
import { API_VERSION, GROUP, HsmGrantDefinition, type DedicatedHsm, type HsmGrant, type HsmHaGroup, type NtlsClientBinding } from '../api/index.js';
import { HSM_KINDS, resourceTypeOf, type HsmKind } from '../cli/resources.js';
import { newHsmEnv } from '../controllers/dedicatedhsm/observe.js';
import { ApiError, errorMessage } from '../runtime/index.js';
import type { PlanContext } from './context.js';
import { planDedicatedHsm } from './dedicatedhsm.js';
import type { SourcedManifest } from './manifests.js';
import { startPlan } from './object-plan.js';
import { planReferences } from './references.js';
import { PLAN_API_VERSION, type ObjectPlan, type PlanResult } from './types.js';

export interface PlanOptions {
  manifests: readonly SourcedManifest[];
  /** Namespace of manifests that name none (kubectl's rule: -n, else the context's, else default). */
  namespace: string;
  pc: PlanContext;
  signal: AbortSignal;
}

/** Thrown when the cluster cannot answer at all (unreachable, CRDs missing): the whole plan fails. */
export class PlanClusterError extends Error {
  override readonly name = 'PlanClusterError';
}

const isHsmKind = (k: string): k is HsmKind => (HSM_KINDS as readonly string[]).includes(k);

export async function plan(o: PlanOptions): Promise<PlanResult> {
  const client = o.pc.base.manager.client;
  // An HsmGrant is a statement of policy with nothing to plan (no status, no device): listed with the other kinds.
  const ours = o.manifests.filter((m) => m.manifest.apiVersion.split('/')[0] === GROUP && m.manifest.kind !== HsmGrantDefinition.kind);
  const ignored = o.manifests.filter((m) => !ours.includes(m)).map((m) => ({ source: m.source, kind: m.manifest.kind, name: m.manifest.metadata.name ?? '' }));
  const nsOf = (m: SourcedManifest): string => m.manifest.metadata.namespace ?? o.namespace;

  // One read per kind first: an unreachable cluster or missing CRDs fail the plan as a whole, not object by object.
  for (const kind of new Set(ours.map((m) => m.manifest.kind).filter(isHsmKind))) {
    try {
      await client.list(resourceTypeOf(kind), { namespace: nsOf(ours.find((m) => m.manifest.kind === kind) as SourcedManifest), limit: 1 });
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) throw new PlanClusterError(`the cluster does not serve ${resourceTypeOf(kind).plural}.${GROUP}: are the CRDs installed?`);
      if (e instanceof ApiError && e.code === 403) throw new PlanClusterError(`not allowed to read ${resourceTypeOf(kind).plural}.${GROUP}: plan needs get and list on the operator's kinds and get on Secrets (${e.message})`);
      throw new PlanClusterError(`cannot read the cluster: ${errorMessage(e)}`);
    }
  }

  const inChange = new Map<string, DedicatedHsm>();
  for (const m of ours) if (m.manifest.kind === 'DedicatedHsm' && m.manifest.metadata.name) inChange.set(`${nsOf(m)}/${m.manifest.metadata.name}`, m.manifest as unknown as DedicatedHsm);
  const grantsInChange = o.manifests
    .filter((m) => m.manifest.apiVersion.split('/')[0] === GROUP && m.manifest.kind === HsmGrantDefinition.kind)
    .map((m) => ({ ...m.manifest, metadata: { ...m.manifest.metadata, namespace: nsOf(m) } }) as unknown as HsmGrant);
  const { ctx: _unused, ...shared } = newHsmEnv(o.pc.base);

  const objects: ObjectPlan[] = [];
  for (const m of ours) {
    const namespace = nsOf(m);
    const name = m.manifest.metadata.name ?? '';
    const kind = m.manifest.kind;
    // Refused until it is known to be served: blocked, and only a human can fix the manifest.
    const base: ObjectPlan = { ...startPlan({ kind, namespace, name, source: m.source, live: undefined, spec: undefined, action: 'refused' }), blocked: true, needsHuman: true };
    if (!isHsmKind(kind) || m.manifest.apiVersion !== API_VERSION) {
      objects.push({ ...base, refused: [{ path: 'apiVersion', message: `${m.manifest.apiVersion} ${kind} is not served (the operator's kinds are ${HSM_KINDS.join(', ')} in ${API_VERSION})` }], next: { action: 'refused', summary: 'the API server refuses this manifest.' } });
      continue;
    }
    if (!name) {
      objects.push({ ...base, refused: [{ path: 'metadata.name', message: 'metadata.name is required' }], next: { action: 'refused', summary: 'the API server refuses this manifest.' } });
      continue;
    }
    try {
      if (kind === 'DedicatedHsm') {
        const live = await client.getIfExists<DedicatedHsm>(resourceTypeOf(kind), namespace, name);
        objects.push(await planDedicatedHsm({ pc: o.pc, shared, source: m.source, manifest: m.manifest, namespace, live, signal: o.signal }));
      } else {
        const live = await client.getIfExists<NtlsClientBinding | HsmHaGroup>(resourceTypeOf(kind), namespace, name);
        objects.push(await planReferences({ client, kind, source: m.source, manifest: m.manifest, namespace, live, inChange, grantsInChange }));
      }
    } catch (e) {
      if (o.signal.aborted) throw e;
      objects.push({ ...base, needsHuman: false, blocked: false, next: { action: 'nothing', summary: 'not planned: plan failed for this object' }, error: errorMessage(e) });
    }
  }

  const refusedWrites = o.pc.refusedWrites();
  const statusNotWritten = o.pc.statusWriter.attempted.map((w) => w.what);
  const exitCode = refusedWrites.length || objects.some((p) => p.error) ? 1 : objects.some((p) => p.needsHuman) ? 2 : 0;
  return { apiVersion: PLAN_API_VERSION, objects, ignored, refusedWrites, statusNotWritten, exitCode };
}
