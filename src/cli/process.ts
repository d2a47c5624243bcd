/**
 * How an entry point runs one command as a process: signals become an AbortSignal the command honours, a closed
 * pipe does not crash it, and a finished command exits even if a library left a handle open. Used by
 * `hsm-operator` (src/main.ts) and by the sandbox's own entry point (src/sandbox/main.ts, not part of the build).
 */

/**
 * SIGTERM, Ctrl-C or a closed terminal (SIGHUP) abort the returned signal: the command stops in an orderly way
 * (`run` drains and releases the Lease, the sandbox tears everything down). A second signal exits at once; one
 * Ctrl-C often arrives twice (from the terminal and relayed by npm/tsx), so repeats within a second count as one.
 */
export function interruptOnSignals(): AbortSignal {
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
  return interrupt.signal;
}

/** Sets the exit code; lingering handles (keep-alive sockets, timers of libraries) must not keep the process alive. */
export function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2_000).unref();
}
