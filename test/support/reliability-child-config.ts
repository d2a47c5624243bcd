/**
 * What an operator child process (test/support/operator-child.ts) is told: its config file's shape and the static
 * device address map it dials through. Kept apart from the entry script, which runs when imported.
 */
import type { DeviceAddress, EndpointResolver, OperatorSettings } from '../../src/controllers/shared/index.js';
import type { OperatorOptions } from '../../src/operator.js';
import type { LeaderElection, LeaseTiming, LogLevel } from '../../src/runtime/index.js';

export interface OperatorChildConfig {
  kubeconfigPath: string;
  /** Namespace every cache watches (and the Lease lives in). */
  namespace: string;
  arm: { endpoint: string; caPem: string; token: string };
  /** `<host>:<port>` as the operator would dial it -> the simulator address on loopback. */
  devices: Record<string, DeviceAddress>;
  settings?: Partial<OperatorSettings>;
  compressedTime?: OperatorOptions['compressedTime'];
  controllers?: OperatorOptions['controllers'];
  resyncIntervalMs?: number;
  /** The Lease lives in `namespace`; every timing is given (the suite's failover times depend on them). */
  leaderElection?: (Omit<LeaderElection, 'namespace'> & LeaseTiming) | false;
  logLevel?: LogLevel;
  /** Deadline of a SIGTERM shutdown (ms). */
  shutdownTimeoutMs?: number;
}

/** Where unknown addresses go: a loopback port nothing listens on. */
export const NOWHERE: DeviceAddress = { host: '127.0.0.1', port: 9 };

/** Dials `<host>:<port>` through the map; anything unknown goes nowhere. */
export function staticResolver(devices: Record<string, DeviceAddress>): EndpointResolver {
  return (address) => devices[`${address.host}:${address.port}`] ?? NOWHERE;
}
