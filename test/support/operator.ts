/**
 * Runs the real operator in-process against the shared control plane and a simulated world, watching one test
 * namespace. Integration tests of the controllers start one of these per file.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { adminConfig, extraUserConfig } from './kube.js';
import type { CredentialSource } from '../../src/azure/index.js';
import { buildOperator, type Operator, type OperatorOptions } from '../../src/operator.js';
import { createLogger } from '../../src/runtime/index.js';
import type { World } from '../../src/sandbox/world.js';

export interface TestOperatorOptions {
  namespace: string;
  /** More namespaces to watch besides `namespace` (a shared cluster: a platform namespace and tenants'). */
  alsoWatch?: string[];
  world: World;
  /** Token user to run as (default admin); e.g. 'hsm-operator' bound to the chart's RBAC. */
  user?: string;
  settings?: OperatorOptions['settings'];
  /** Sandbox/test time compression (no operator setting): e.g. { ntlsSpecScale: 1 / 120 }. */
  compressedTime?: OperatorOptions['compressedTime'];
  controllers?: OperatorOptions['controllers'];
  resyncIntervalMs?: number;
  leaderElection?: OperatorOptions['manager']['leaderElection'];
  /** Workers per controller, as --concurrency sets them (e.g. { default: 1, byController: { DedicatedHsm: 4 } }). */
  concurrency?: OperatorOptions['manager']['concurrency'];
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** The operator's own Azure identity (default: the world's, which ARM accepts). */
  azureCredential?: CredentialSource;
  /** The platform team's tenancy policy (run --tenancy-policy). */
  tenancy?: OperatorOptions['tenancy'];
}

export function testKubeConfig(user?: string): KubeConfig {
  return user ? extraUserConfig(user) : adminConfig();
}

/** Builds and starts the operator; stop it in afterAll. */
export async function startTestOperator(o: TestOperatorOptions): Promise<Operator> {
  const op = buildOperator({
    manager: {
      kubeConfig: testKubeConfig(o.user),
      namespaces: [o.namespace, ...(o.alsoWatch ?? [])],
      // An empty Lease namespace means the test's own (known only once the scenario made it).
      leaderElection: o.leaderElection ? { ...o.leaderElection, namespace: o.leaderElection.namespace || o.namespace } : false,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      resyncIntervalMs: o.resyncIntervalMs ?? 0,
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      log: createLogger({ level: o.logLevel ?? (process.env.TEST_LOG_LEVEL as TestOperatorOptions['logLevel']) ?? 'silent', name: 'hsm-operator' }),
    },
    azure: { connection: o.world.azure.connection, defaultCredential: o.azureCredential ?? o.world.azure.credential },
    resolve: o.world.resolve,
    settings: { gatewayWaitInitialMs: 200, gatewayWaitMaxMs: 2_000, needsHumanRecheckMs: 60_000, ntlsTimeoutMs: 2_000, ...o.settings },
    ...(o.compressedTime ? { compressedTime: o.compressedTime } : {}),
    ...(o.controllers ? { controllers: o.controllers } : {}),
    ...(o.tenancy ? { tenancy: o.tenancy } : {}),
  });
  await op.start();
  return op;
}
