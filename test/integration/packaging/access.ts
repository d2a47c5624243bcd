/**
 * Helpers for the RBAC tests on the real API server: acting as other users, status codes. RBAC changes reach the
 * authorizer's cache asynchronously: the tests wait for them with waitFor (test/support/wait.ts), within RBAC_SETTLE_MS.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../../src/runtime/client.js';
import { ApiError } from '../../../src/runtime/errors.js';
import { adminConfig, configFor } from '../../support/kube.js';

/** A client acting as `user` through impersonation by the admin. */
export function impersonating(user: string): KubeClient {
  const admin = adminConfig();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: [{ ...admin.getCurrentUser()!, name: 'probe', impersonateUser: user }],
    contexts: [{ name: 'probe', cluster: admin.getCurrentCluster()!.name, user: 'probe' }],
    currentContext: 'probe',
  });
  return KubeClient.fromKubeConfig(kc);
}

/** A KubeConfig for the test control plane that authenticates with `token`. */
export function tokenConfig(token: string, user = 'token-user'): KubeConfig {
  return configFor(user, token);
}

/** A token of a ServiceAccount from the TokenRequest API (the control plane signs ServiceAccount tokens). */
export async function serviceAccountToken(admin: KubeClient, namespace: string, name: string): Promise<string> {
  const r = await admin.request<{ status?: { token?: string } }>({
    verb: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  if (!r.status?.token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  return r.status.token;
}

/** The HTTP status of an API call: 200 for any success, else the ApiError's code. */
export const status = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
};

/** How long an RBAC change may take to reach the authorizer's cache. */
export const RBAC_SETTLE_MS = 15_000;
