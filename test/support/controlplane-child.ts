/**
 * Starts a control plane in its own process and prints its process ids, then waits to be killed.
 * Used by the teardown test to play an interrupted test run.
 */
import { ControlPlane } from './controlplane.js';

const cp = await ControlPlane.start({ log: () => undefined });
process.stdout.write(JSON.stringify({ pids: cp.pids(), dir: cp.dir }) + '\n');
setInterval(() => undefined, 60_000);
