/** Whether this machine has a cluster to talk to: the default when no command is given depends on it. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export function clusterConfigured(env: Record<string, string | undefined>): boolean {
  if (env.KUBERNETES_SERVICE_HOST) return true;
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).some((p) => p && existsSync(p));
  return existsSync(join(env.HOME ?? homedir(), '.kube', 'config'));
}
