/**
 * Server-side apply of plain manifests through the runtime's KubeClient: objects go over the wire as written
 * (no typed model in between, which would strip CRD `default`s and `x-kubernetes-*` keywords). Also the CRD
 * install with its wait until the API server serves the new kinds, and the namespaces the sandbox runs in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { resourceTypeOf, resolveKind } from '../cli/resources.js';
import { ResourceTypes } from '../operator.js';
import { ApiError, CoreTypes, type KubeClient, type KubeObject, type ResourceType } from '../runtime/index.js';
import type { Manifest } from './manifests.js';

export const FIELD_MANAGER = 'hsm-sandbox';

const CRDS: ResourceType = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false, kind: 'CustomResourceDefinition' };
const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };

export function typeOfManifest(m: Manifest): ResourceType {
  if (m.apiVersion === 'v1' && m.kind === 'Secret') return CoreTypes.secrets;
  // HsmGrant has no status, so it is not one of the kinds the CLI shows; the sandbox still applies it.
  if (m.kind === ResourceTypes.grants.kind && m.apiVersion === `${ResourceTypes.grants.group}/${ResourceTypes.grants.version}`) return ResourceTypes.grants;
  const kind = resolveKind(m.kind);
  if (kind && m.apiVersion === resourceTypeOf(kind).group + '/' + resourceTypeOf(kind).version) return resourceTypeOf(kind);
  throw new Error(`the sandbox cannot apply ${m.apiVersion} ${m.kind}`);
}

/** 429 (the API server swaps a new CRD's handler) and 404 right after a CRD install are worth a few retries. */
async function retrying<T>(what: string, fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = e instanceof ApiError ? e.code : 0;
      if (i >= attempts || ![404, 429, 503].includes(code)) throw e instanceof Error ? new Error(`${what}: ${e.message}`, { cause: e }) : e;
      await sleep(Math.min(250 * i, 2_000));
    }
  }
}

/**
 * Applies one manifest (server-side apply, this sandbox as field manager, conflicts forced) into the namespace it
 * names, else into `namespace`.
 */
export async function applyManifest(client: KubeClient, fallbackNamespace: string, m: Manifest): Promise<KubeObject> {
  const type = typeOfManifest(m);
  const namespace = m.metadata.namespace ?? fallbackNamespace;
  const obj = { ...m, metadata: { ...m.metadata, namespace } };
  return retrying(`applying ${m.kind}/${m.metadata.name}`, () => client.patch(type, namespace, m.metadata.name, obj, 'apply', { fieldManager: FIELD_MANAGER, force: true }));
}

interface Crd extends KubeObject {
  spec: { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

export function loadCrds(dir: string): Crd[] {
  const out: Crd[] = [];
  for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const o = doc.toJS() as Crd | null;
      if (o?.kind === 'CustomResourceDefinition') out.push(o);
    }
  }
  return out;
}

/**
 * Installs the CRDs as written and waits until each is Established and its kind is served. With `onlyMissing`,
 * CRDs that already exist are left alone (a shared cluster, e.g. the test control plane).
 */
export async function installCrds(client: KubeClient, crds: readonly Crd[], o: { onlyMissing?: boolean; timeoutMs?: number } = {}): Promise<number> {
  let applied = 0;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    if (o.onlyMissing && (await client.getIfExists(CRDS, undefined, name))) continue;
    await client.patch(CRDS, undefined, name, crd, 'apply', { fieldManager: FIELD_MANAGER, force: true });
    applied++;
  }
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    const version = crd.spec.versions.find((v) => v.served)?.name ?? crd.spec.versions[0]?.name ?? 'v1';
    const served: ResourceType = { group: crd.spec.group, version, plural: crd.spec.names.plural, namespaced: true };
    for (;;) {
      const got = await client.getIfExists<Crd>(CRDS, undefined, name);
      if (got?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
        try {
          await client.list(served, { limit: 1 });
          break;
        } catch {
          /* not served yet */
        }
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} was not established and served in time`);
      await sleep(100);
    }
  }
  return applied;
}

/** Creates the namespace unless it exists. */
export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  if (await client.getIfExists(NAMESPACES, undefined, name)) return;
  try {
    await client.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 409)) throw e;
  }
}
