/** Installs CustomResourceDefinitions and waits until they are Established and actually served. */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, CustomObjectsApi, KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function loadCrdFiles(dir = join(repoRoot, 'crds')): V1CustomResourceDefinition[] {
  if (!existsSync(dir)) return [];
  const out: V1CustomResourceDefinition[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const obj = doc.toJS() as V1CustomResourceDefinition | null;
      if (obj?.kind === 'CustomResourceDefinition') out.push(obj);
    }
  }
  return out;
}

export async function installCrds(kubeconfigYaml: string, crds: V1CustomResourceDefinition[]): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml);
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    try {
      const existing = await api.readCustomResourceDefinition({ name });
      await api.replaceCustomResourceDefinition({ name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await api.createCustomResourceDefinition({ body: crd });
    }
  }
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await api.readCustomResourceDefinition({ name });
      const established = got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      if (established) {
        const version = crd.spec.versions.find((v) => v.served)?.name ?? crd.spec.versions[0]!.name;
        try {
          await custom.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, limit: 1 });
          break;
        } catch {
          /* not served yet */
        }
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established and served within 30 s`);
      await sleep(100);
    }
  }
}

export async function installCrdsFromDir(kubeconfigYaml: string, dir?: string): Promise<number> {
  const crds = loadCrdFiles(dir);
  await installCrds(kubeconfigYaml, crds);
  return crds.length;
}
