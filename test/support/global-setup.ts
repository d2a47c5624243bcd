/**
 * Vitest global setup for the integration project: one real control plane per run, CRDs from crds/ installed.
 * Tests read its coordinates with `inject('controlPlane')` and isolate themselves by namespace.
 */
import type { TestProject } from 'vitest/node';
import { ControlPlane } from './controlplane.js';
import { installCrdsFromDir } from './crds.js';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: {
      server: string;
      kubeconfigPath: string;
      adminToken: string;
      userToken: string;
      caPem: string;
      etcdUrl: string;
      extraTokens: Record<string, string>;
    };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cp = await ControlPlane.start({ extraUsers: { 'hsm-operator': ['system:authenticated'] } });
  const onExit = () => cp.killNow();
  process.once('exit', onExit);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cp.killNow();
      process.exit(130);
    });
  }
  const crds = await installCrdsFromDir(cp.kubeconfig('admin', cp.users.adminToken));
  process.stderr.write(`[controlplane] ready at ${cp.server} in ${Date.now() - started} ms (${crds} CRDs installed)\n`);
  project.provide('controlPlane', {
    server: cp.server,
    kubeconfigPath: cp.kubeconfigPath,
    adminToken: cp.users.adminToken,
    userToken: cp.users.userToken,
    caPem: cp.caPem(),
    etcdUrl: cp.etcdUrl,
    extraTokens: cp.users.extra,
  });
  return async () => {
    await cp.stop();
    process.removeListener('exit', onExit);
  };
}
