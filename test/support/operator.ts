/**
 * Runs the real operator in-process against the shared control plane and a simulated world, watching one test
 * namespace. Integration tests of the controllers start one of these per file.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { buildOperator, type Operator, type OperatorOptions } from '../../src/operator.js';
import { createLogger } from '../../src/runtime/index.js';
import type { World } from '../../src/sandbox/world.js';

export interface TestOperatorOptions {
  namespace: string;
  world: World;
  /** Token user to run as (default admin); e.g. 'hsm-operator' bound to the chart's RBAC. */
  user?: string;
  settings?: OperatorOptions['settings'];
  controllers?: OperatorOptions['controllers'];
  resyncIntervalMs?: number;
  leaderElection?: OperatorOptions['manager']['leaderElection'];
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

export function testKubeConfig(user?: string): KubeConfig {
  const cp = inject('controlPlane');
  const kc = new KubeConfig();
  if (!user) {
    kc.loadFromString(readFileSync(cp.kubeconfigPath, 'utf8'));
    return kc;
  }
  const token = cp.extraTokens[user];
  if (!token) throw new Error(`no token user ${user}`);
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: cp.server, caData: Buffer.from(cp.caPem).toString('base64') }],
    users: [{ name: user, token }],
    contexts: [{ name: 'ctx', cluster: 'local', user }],
    currentContext: 'ctx',
  });
  return kc;
}

/** Builds and starts the operator; stop it in afterAll. */
export async function startTestOperator(o: TestOperatorOptions): Promise<Operator> {
  const op = buildOperator({
    manager: {
      kubeConfig: testKubeConfig(o.user),
      namespaces: [o.namespace],
      leaderElection: o.leaderElection ?? false,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      resyncIntervalMs: o.resyncIntervalMs ?? 0,
      log: createLogger({ level: o.logLevel ?? (process.env.TEST_LOG_LEVEL as TestOperatorOptions['logLevel']) ?? 'silent', name: 'hsm-operator' }),
    },
    azure: { connection: o.world.azure.connection, defaultCredential: o.world.azure.credential },
    resolve: o.world.resolve,
    settings: { gatewayWaitInitialMs: 200, gatewayWaitMaxMs: 2_000, needsHumanRecheckMs: 60_000, ntlsTimeoutMs: 2_000, ...o.settings },
    ...(o.controllers ? { controllers: o.controllers } : {}),
  });
  await op.start();
  return op;
}
