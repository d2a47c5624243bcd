/**
 * A device command bound to its parser. Builders (lunash.ts, lunacm.ts) return these; facades run them.
 * `line` is what is sent and may carry a password, so only `display` is ever logged or put in an error.
 */
export interface LunaCommand<T> {
  readonly tool: 'lunash' | 'lunacm';
  /** Canonical name, e.g. `client assignPartition` or `hagroup recover`. */
  readonly name: string;
  /** The exact command line sent over SSH exec. Never log it. */
  readonly line: string;
  /** The command line with secrets replaced by `********`. */
  readonly display: string;
  /** Whether running it changes device state (steady state must issue none of these: invariant 6). */
  readonly changesState: boolean;
  /** Pure parser of the command's output: a typed result, or a thrown LunaCommandError / LunaParseError. */
  readonly parse: (output: string) => T;
}

/** What a state-changing command did: `changed: false` when the device already was in the wanted state. */
export interface CommandOutcome {
  changed: boolean;
}

export const REDACTED = '********';
