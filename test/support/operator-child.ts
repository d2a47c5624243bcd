/**
 * The operator as a separate process, for the reliability suite (crash anywhere, leader failover, restarts):
 * `node --import tsx test/support/operator-child.ts <config.json>`. It builds the real operator with buildOperator
 * against a kubeconfig, the ARM simulator (endpoint, CA, a static token) and a static device address map, logs JSON
 * to stdout (createLogger), drains and releases the Lease on SIGTERM, and can be killed with SIGKILL anywhere.
 *
 * The address map is known before start: every DedicatedHsm has an explicit spec.azure.privateIpAddress, so
 * `<ip>:<port>` (and the LunaCM host name) map to simulator ports on 127.0.0.1; anything else dials a closed port.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { connectionFor } from '../../src/azure/index.js';
import { buildOperator } from '../../src/operator.js';
import { createLogger } from '../../src/runtime/index.js';
import { staticResolver, type OperatorChildConfig } from './reliability-child-config.js';

async function main(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as OperatorChildConfig;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfigPath);
  const log = createLogger({ level: config.logLevel ?? 'info', name: 'hsm-operator' });
  const { endpoint, caPem, token } = config.arm;
  const op = buildOperator({
    manager: {
      kubeConfig,
      namespaces: [config.namespace],
      leaderElection: config.leaderElection ? { namespace: config.namespace, ...config.leaderElection } : false,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      resyncIntervalMs: config.resyncIntervalMs ?? 0,
      shutdownTimeoutMs: config.shutdownTimeoutMs ?? 5_000,
      ...(config.leaderElection ? { instance: config.leaderElection.identity } : {}),
      log,
    },
    azure: {
      connection: connectionFor({ endpoint, credentialScopes: [`${endpoint}/.default`] }, { caPem }),
      defaultCredential: {
        kind: 'static',
        key: 'reliability',
        credential: { getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) },
      },
    },
    resolve: staticResolver(config.devices),
    ...(config.settings ? { settings: config.settings } : {}),
    ...(config.compressedTime ? { compressedTime: config.compressedTime } : {}),
    ...(config.controllers ? { controllers: config.controllers } : {}),
  });
  // SIGTERM: drain, release the Lease, exit 0 (what a pod does on deletion). SIGKILL needs no handler.
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    log.info('SIGTERM: draining and releasing the Lease');
    op.stop(config.shutdownTimeoutMs ?? 5_000).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  await op.start();
  log.info({ pid: process.pid }, 'operator child started');
}

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: operator-child.ts <config.json>\n');
  process.exit(2);
}
main(configPath).catch((e: unknown) => {
  process.stderr.write(`operator child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
