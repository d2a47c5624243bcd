#!/usr/bin/env node
/** Entry point of `hsm-operator` (dist/main.js in the image): the command line lives in src/cli/. */
import { main } from './cli/index.js';

// SIGTERM, Ctrl-C or a closed terminal (SIGHUP) ask the running command to stop: `run` drains and releases the
// Lease, the sandbox tears everything down. A second signal exits at once; one Ctrl-C often arrives twice (from the
// terminal and relayed by npm/tsx), so repeats within a second count as one.
const interrupt = new AbortController();
let firstSignalAt = 0;
const onSignal = (sig: NodeJS.Signals) => {
  if (interrupt.signal.aborted) {
    if (Date.now() - firstSignalAt < 1_000) return;
    process.stderr.write(`second ${sig}: exiting now\n`);
    process.exit(130);
  }
  firstSignalAt = Date.now();
  interrupt.abort(new Error(sig));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);

// A closed pipe or terminal (`| head`, SIGHUP) must not crash a command that is still cleaning up.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

const code = await main(process.argv.slice(2), undefined, interrupt.signal);
process.exitCode = code;
// Lingering handles (keep-alive sockets, timers of libraries) must not keep a finished command alive.
setTimeout(() => process.exit(code), 2_000).unref();
