/**
 * The benchmarks' Kubernetes: a private real control plane (etcd + kube-apiserver, the same one the tests and the
 * sandbox run), the CRDs installed as written, an admin KubeClient, fresh namespaces, and bulk creation.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeClient, type KubeObject, type ResourceType } from '../../src/runtime/index.js';
import { ensureNamespace, installCrds, loadCrds } from '../../src/sandbox/apply.js';
import { ControlPlane } from '../../src/sandbox/controlplane/controlplane.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchCluster {
  controlPlane: ControlPlane;
  /** Admin kubeconfig document (token user in system:masters). */
  kubeconfigYaml: string;
  kubeConfig(): KubeConfig;
  /** Admin client for the bench's own requests (not counted in any operator's metrics). */
  client: KubeClient;
  namespace(prefix: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startCluster(log: (line: string) => void): Promise<BenchCluster> {
  const started = Date.now();
  const cp = await ControlPlane.start({ log });
  const onExit = () => cp.killNow();
  process.once('exit', onExit);
  const kubeconfigYaml = cp.kubeconfig('admin', cp.users.adminToken);
  const kubeConfig = () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigYaml);
    return kc;
  };
  const client = KubeClient.fromKubeConfig(kubeConfig());
  const crds = await installCrds(client, loadCrds(join(repoRoot, 'crds')));
  log(`control plane at ${cp.server} with ${crds} CRDs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    controlPlane: cp,
    kubeconfigYaml,
    kubeConfig,
    client,
    async namespace(prefix) {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      await ensureNamespace(client, name);
      return name;
    },
    async stop() {
      (client.transport as { close?: () => void }).close?.();
      await cp.stop();
      process.removeListener('exit', onExit);
    },
  };
}

/** 429 and 5xx while the API server is busy are retried; anything else throws. */
export async function retrying<T>(fn: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = e instanceof ApiError ? e.code : 0;
      if (i >= attempts || !(code === 429 || code >= 500 || code === 0)) throw e;
      await sleep(Math.min(100 * 2 ** i, 2_000));
    }
  }
}

/** Creates every object with `concurrency` requests in flight; returns the creation time of each, by name. */
export async function createAll(client: KubeClient, type: ResourceType, objects: readonly KubeObject[], concurrency = 24): Promise<Map<string, number>> {
  const created = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const obj = objects[i];
      if (!obj) return;
      await retrying(() => client.create(type, obj));
      created.set(obj.metadata?.name ?? String(i), Date.now());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, worker));
  return created;
}

/** Polls until `check` answers truthy, or throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
