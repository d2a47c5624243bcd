/**
 * Which cluster `status` and `explain-failure` read: --kubeconfig, else $KUBECONFIG, else a running sandbox's
 * kubeconfig, else ~/.kube/config (or the in-cluster ServiceAccount).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../runtime/index.js';
import { CliError, str, type Options, type Values } from './io.js';
import { sandboxKubeconfigPath } from './paths.js';

export const KUBE_FLAGS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const satisfies Options;

export const KUBE_HELP = [
  '  --kubeconfig <path>     kubeconfig to use (default: $KUBECONFIG, else a running sandbox, else ~/.kube/config)',
  '  --context <name>        kubeconfig context',
  '  -n, --namespace <ns>    namespace',
];

export interface KubeTarget {
  client: KubeClient;
  /** Where the configuration came from, for messages. */
  source: string;
  server: string;
  /** The context's namespace, if it names one. */
  contextNamespace: string | undefined;
  close(): void;
}

export function kubeTarget(values: Values, env: Record<string, string | undefined>): KubeTarget {
  const kc = new KubeConfig();
  const flag = str(values, 'kubeconfig');
  const sandbox = sandboxKubeconfigPath();
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  let source: string;
  if (flag) {
    if (!existsSync(flag)) throw new CliError(`kubeconfig ${flag} does not exist`);
    kc.loadFromFile(flag);
    source = flag;
  } else if (env.KUBECONFIG) {
    kc.loadFromDefault();
    source = `$KUBECONFIG (${env.KUBECONFIG})`;
  } else if (existsSync(sandbox)) {
    kc.loadFromFile(sandbox);
    source = `${sandbox} (the running sandbox)`;
  } else if (existsSync(home)) {
    kc.loadFromFile(home);
    source = home;
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    source = 'in-cluster ServiceAccount';
  } else {
    throw new CliError('no cluster: pass --kubeconfig, set KUBECONFIG, or start the sandbox first (npm start)');
  }
  const context = str(values, 'context');
  if (context) {
    if (!kc.getContextObject(context)) throw new CliError(`kubeconfig ${source} has no context ${context}`);
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError(`kubeconfig ${source} has no current cluster`);
  const client = KubeClient.fromKubeConfig(kc, { timeoutMs: 15_000 });
  return {
    client,
    source,
    server: cluster.server,
    contextNamespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    close: () => (client.transport as { close?: () => void }).close?.(),
  };
}

/** A connection failure as a sentence that says what to check. */
export function unreachable(t: KubeTarget, e: unknown): CliError {
  const msg = e instanceof Error ? e.message : String(e);
  const hint = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|no answer within/.test(msg)
    ? t.source.includes('sandbox')
      ? ' (is the sandbox still running? start it with npm start)'
      : ' (is the cluster reachable from here?)'
    : '';
  return new CliError(`cannot read from ${t.server} (kubeconfig ${t.source}): ${msg}${hint}`);
}
