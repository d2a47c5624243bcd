/**
 * Installs CustomResourceDefinitions and waits until they are Established and actually served.
 * CRDs go over the wire as written (server-side apply of the plain YAML): the typed client re-serialises them through
 * its models, which drops `default`, `enum` and every `x-kubernetes-*` keyword.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { call, type Endpoint } from './http.js';

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

/** The endpoint (server, token, CA) of a token-user kubeconfig as the harness writes them. */
export function endpointFromKubeconfig(kubeconfigYaml: string): Endpoint {
  const doc = parse(kubeconfigYaml) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const cluster = doc.clusters[0]!.cluster;
  return { server: cluster.server, token: doc.users[0]!.user.token, ca: Buffer.from(cluster['certificate-authority-data'], 'base64').toString() };
}

export async function installCrds(target: string | Endpoint, crds: V1CustomResourceDefinition[]): Promise<void> {
  const ep = typeof target === 'string' ? endpointFromKubeconfig(target) : target;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    const r = await call(ep, 'PATCH', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=hsm-tests&force=true`, crd, 'application/apply-patch+yaml');
    if (r.status !== 200 && r.status !== 201) throw new Error(`applying CRD ${name}: ${r.status} ${r.text}`);
  }
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    const version = crd.spec.versions.find((v) => v.served)?.name ?? crd.spec.versions[0]!.name;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const got = await call(ep, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conditions = (got.body.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) {
        const list = await call(ep, 'GET', `/apis/${crd.spec.group}/${version}/${crd.spec.names.plural}?limit=1`);
        if (list.status === 200) break;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established and served within 60 s`);
      await sleep(100);
    }
  }
}

export async function installCrdsFromDir(target: string | Endpoint, dir?: string): Promise<number> {
  const crds = loadCrdFiles(dir);
  await installCrds(target, crds);
  return crds.length;
}
