/** Whether this machine has a cluster to talk to: the default when no command is given depends on it. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export function clusterConfigured(env: Record<string, string | undefined>): boolean {
  if (env.KUBERNETES_SERVICE_HOST) return true;
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).some((p) => p && existsSync(p));
  return existsSync(join(env.HOME ?? homedir(), '.kube', 'config'));
}

/** Where to go without a cluster: the sandbox is not part of the operator (nor of its image), it runs from a checkout. */
export const SANDBOX_HINT = 'run `npm start` in a checkout of the repository (the sandbox)';
