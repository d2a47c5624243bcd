/** Helpers for integration tests: clients for the shared control plane and per-test namespaces. */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';

/** A KubeConfig for the shared control plane that authenticates as `user` with `token`. */
export function configFor(user: string, token: string): KubeConfig {
  const cp = inject('controlPlane');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: cp.server, caData: Buffer.from(cp.caPem).toString('base64') }],
    users: [{ name: user, token }],
    contexts: [{ name: 'ctx', cluster: 'local', user }],
    currentContext: 'ctx',
  });
  return kc;
}

/** A client for `admin` (system:masters). */
export function adminConfig(): KubeConfig {
  return configFor('admin', inject('controlPlane').adminToken);
}

/** A client for `alice`, who has no RBAC bindings. */
export function userConfig(): KubeConfig {
  return configFor('alice', inject('controlPlane').userToken);
}

/** A client for one of the extra token users the global setup created (e.g. `hsm-operator`). */
export function extraUserConfig(name: string): KubeConfig {
  const token = inject('controlPlane').extraTokens[name];
  if (!token) throw new Error(`no extra user ${name} in the control plane`);
  return configFor(name, token);
}

/** Creates a fresh namespace for one test file (namespaces never finish terminating without a controller-manager). */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase();
  await adminConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}
