/**
 * Vitest global setup for the integration project: one real control plane per run, CRDs from crds/ installed.
 * Tests read its coordinates with `inject('controlPlane')` and isolate themselves by namespace. The versions tier
 * (versions-setup.ts) starts another pinned release the same way.
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
    /** The releases the control plane runs, and the kubectl built with them. */
    controlPlaneRelease: { kubernetes: string; etcd: string; kubectl: string };
  }
}

/** Starts the control plane of one pinned Go module (default test/controlplane), installs the CRDs, provides both. */
export async function provideControlPlane(project: TestProject, moduleDir?: string): Promise<() => Promise<void>> {
  const started = Date.now();
  const cp = await ControlPlane.start({ extraUsers: { 'hsm-operator': ['system:authenticated'] }, ...(moduleDir ? { moduleDir } : {}) });
  const onExit = () => cp.killNow();
  process.once('exit', onExit);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cp.killNow();
      process.exit(130);
    });
  }
  const crds = await installCrdsFromDir(cp.kubeconfig('admin', cp.users.adminToken));
  process.stderr.write(`[controlplane] kube-apiserver ${cp.bins.version} ready at ${cp.server} in ${Date.now() - started} ms (${crds} CRDs installed)\n`);
  project.provide('controlPlane', {
    server: cp.server,
    kubeconfigPath: cp.kubeconfigPath,
    adminToken: cp.users.adminToken,
    userToken: cp.users.userToken,
    caPem: cp.caPem(),
    etcdUrl: cp.etcdUrl,
    extraTokens: cp.users.extra,
  });
  project.provide('controlPlaneRelease', { kubernetes: cp.bins.version, etcd: cp.bins.etcdVersion, kubectl: cp.bins.kubectl });
  return async () => {
    await cp.stop();
    process.removeListener('exit', onExit);
  };
}

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return provideControlPlane(project);
}
