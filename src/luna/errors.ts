/**
 * Typed errors of the device plane. Messages name hosts, commands (redacted), Luna codes and Secret
 * identities, never a password, key or any other credential value (invariant 4).
 */

/** Base of every device-plane error, so callers can tell them from programming errors. */
export class LunaError extends Error {
  override name = 'LunaError';
}

/** An argument was refused before anything was sent (it would not be a valid name, or could inject). */
export class InvalidArgumentError extends LunaError {
  override name = 'InvalidArgumentError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`invalid ${field}: ${reason}`);
  }
}

/** Classification of a Luna failure, so controllers decide without string matching of their own. */
export type LunaErrorKind = 'not-found' | 'already-exists' | 'already-assigned' | 'not-assigned' | 'credential-rejected' | 'locked' | 'other';

/** A lunash or LunaCM command ran and reported a failure. */
export class LunaCommandError extends LunaError {
  override name = 'LunaCommandError';
  readonly kind: LunaErrorKind;
  constructor(
    /** Canonical command name, e.g. `client show`. */
    readonly command: string,
    /** Luna return code as printed, e.g. `C000040A` or `0x000000a0`. */
    readonly code: string | undefined,
    /** Symbolic code, e.g. `RC_OBJECT_NOT_IN_LIST` or `CKR_PIN_INCORRECT`. */
    readonly codeName: string | undefined,
    /** The `Error:` detail lines the device printed (device text, never our inputs' secrets). */
    readonly details: readonly string[],
    /** The `Command Result` numeric value when present. */
    readonly result?: number,
  ) {
    const code_ = code || codeName ? ` (${[code, codeName].filter(Boolean).join(' : ')})` : '';
    const detail = details.length ? `: ${details.join(' ')}` : '';
    super(`'${command}' failed${code_}${detail}`);
    this.kind = classify(codeName, details);
  }
}

function classify(codeName: string | undefined, details: readonly string[]): LunaErrorKind {
  const text = `${codeName ?? ''} ${details.join(' ')}`.toLowerCase();
  if (/already has access/.test(text)) return 'already-assigned';
  if (/was not assigned/.test(text)) return 'not-assigned';
  if (/pin_incorrect|pin_invalid|password.*incorrect|incorrect password/.test(text)) return 'credential-rejected';
  if (/pin_locked|locked/.test(text)) return 'locked';
  if (/already exists|already_exists|already registered/.test(text)) return 'already-exists';
  if (/not_in_list|does not exist|not found|no such/.test(text)) return 'not-found';
  return 'other';
}

/** The output of a command could not be understood (truncated, unexpected layout). */
export class LunaParseError extends LunaError {
  override name = 'LunaParseError';
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`could not parse '${command}' output: ${reason}`);
  }
}

/** The host presented a key other than the pinned one; all traffic to that host stops (invariant 5). */
export class HostKeyMismatchError extends LunaError {
  override name = 'HostKeyMismatchError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly expected: string,
    readonly seen: string,
  ) {
    super(`SSH host key of ${host}:${port} changed: expected ${expected}, saw ${seen}; no traffic is sent to this host until its pinned host key is updated`);
  }
}

/** The SSH server, or LunaCM, rejected a credential. The guard has recorded it. */
export class AuthenticationRejectedError extends LunaError {
  override name = 'AuthenticationRejectedError';
  constructor(
    readonly host: string,
    readonly role: string,
    readonly secretName: string | undefined,
    detail: string,
  ) {
    super(`${role} credential${secretName ? ` from Secret ${secretName}` : ''} was rejected by ${host}: ${detail}`);
  }
}

/** The guard refuses to try a credential version that was already rejected (invariant 1). */
export class CredentialRefusedError extends LunaError {
  override name = 'CredentialRefusedError';
  constructor(
    readonly host: string,
    readonly role: string,
    readonly secretUid: string,
    readonly secretResourceVersion: string,
    readonly secretName: string | undefined,
    readonly rejectedAt: string,
  ) {
    super(
      `not retrying the ${role} credential for ${host}: the value in Secret ${secretName ?? `uid ${secretUid}`} was rejected at ${rejectedAt} and has not changed since (resourceVersion ${secretResourceVersion} then); put the correct value in that Secret to try again`,
    );
  }
}

/**
 * The appliance's failed-login budget is spent: too many distinct values were rejected there recently, so no new value
 * is tried (from any Secret) until a human resets the budget. A CredentialRefusedError, so every path that stops on a
 * refused credential stops on this too.
 */
export class CredentialBudgetExhaustedError extends CredentialRefusedError {
  override name = 'CredentialBudgetExhaustedError';
  constructor(
    host: string,
    role: string,
    secretName: string | undefined,
    readonly max: number,
    readonly windowMs: number,
    /** The Secrets whose values were rejected (names only). */
    readonly spentBy: readonly string[],
    lastRejectedAt: string | undefined,
  ) {
    super(host, role, '', '', secretName, lastRejectedAt ?? '');
    const hours = Math.round(windowMs / 360_000) / 10;
    const who = [...new Set(spentBy)].join(', ');
    this.message = `not trying any new ${role} credential for ${host}: its failed-login budget is spent (${spentBy.length} of ${max} distinct values rejected in the last ${hours} h${who ? `, from ${who}` : ''}; last at ${lastRejectedAt ?? 'unknown'}). A human must check who is guessing, then reset the budget`;
  }
}

/** The host could not be reached or the SSH handshake failed for a reason other than auth or host key. */
export class SshConnectionError extends LunaError {
  override name = 'SshConnectionError';
  constructor(
    readonly host: string,
    readonly port: number,
    detail: string,
  ) {
    super(`SSH connection to ${host}:${port} failed: ${detail}`);
  }
}

/** The connection dropped while a command ran: whether it took effect is unknown. */
export class SshConnectionLostError extends LunaError {
  override name = 'SshConnectionLostError';
  constructor(
    readonly host: string,
    readonly command: string,
  ) {
    super(`SSH connection to ${host} dropped while running '${command}'`);
  }
}

/** A command did not finish in time; its channel was closed. */
export class SshCommandTimeoutError extends LunaError {
  override name = 'SshCommandTimeoutError';
  constructor(
    readonly host: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`'${command}' on ${host} did not finish within ${timeoutMs} ms; its channel was closed`);
  }
}

/** The pool was closed while the call waited or ran. */
export class SshPoolClosedError extends LunaError {
  override name = 'SshPoolClosedError';
  constructor() {
    super('SSH pool is closed');
  }
}

/** The process no longer holds the leader Lease (the pool's fence said no): nothing was sent. */
export class NotLeaderError extends LunaError {
  override name = 'NotLeaderError';
  constructor(
    readonly host: string,
    readonly command: string,
  ) {
    super(`not sending ${command} to ${host}: this operator process no longer holds the leader Lease`);
  }
}

/**
 * The caller's AbortSignal fired (the reconcile was aborted: operator shutdown past its drain deadline, or the leader
 * Lease lost). `inFlight: false`: nothing was sent for this command. `inFlight: true`: the command had been sent and
 * its channel was closed without waiting for its end, so whether it took effect is unknown; it is never retried.
 */
export class DeviceAbortedError extends LunaError {
  override name = 'DeviceAbortedError';
  constructor(
    readonly host: string,
    readonly command: string,
    readonly inFlight: boolean,
  ) {
    super(inFlight ? `'${command}' on ${host} was abandoned in flight: the operation was aborted; its channel was closed` : `'${command}' was not sent to ${host}: the operation was aborted`);
  }
}

/** An scp transfer failed (remote error or protocol violation). */
export class ScpError extends LunaError {
  override name = 'ScpError';
}

/** The zeroize path was called without the explicit confirmation it requires (invariant 2). */
export class ZeroizeNotConfirmedError extends LunaError {
  override name = 'ZeroizeNotConfirmedError';
}

/**
 * A failure recognised from a documented device message that carries no `Error` prefix or Luna code (for example
 * LunaCM's answer when the member is already part of an HA group); `kind` comes from the documented message
 * (parse/output.ts `KNOWN_FAILURES`), not from the generic classification.
 */
export class LunaRecognisedFailure extends LunaCommandError {
  declare readonly kind: LunaErrorKind;
  constructor(command: string, code: string | undefined, codeName: string | undefined, details: readonly string[], kind: LunaErrorKind, result?: number) {
    super(command, code, codeName, details, result);
    (this as { kind: LunaErrorKind }).kind = kind;
  }
}

/**
 * The command stopped at a confirmation prompt (`Type 'proceed' ... or 'quit'`) and the operator answered `quit`:
 * only the explicitly confirmed zeroize path ever answers `proceed`.
 */
export class ConfirmationRefusedError extends LunaCommandError {
  override name = 'ConfirmationRefusedError';
  constructor(
    command: string,
    /** The end of the prompt as the device printed it. */
    readonly prompt: string,
  ) {
    super(command, undefined, undefined, [`asked for a confirmation, which the operator refuses outside the confirmed zeroize path ("${prompt}"); answered quit`]);
  }
}

/** The command stopped at a prompt the operator does not answer (undocumented for it); its input was closed. */
export class UnexpectedPromptError extends LunaCommandError {
  override name = 'UnexpectedPromptError';
  constructor(
    command: string,
    readonly prompt: string,
  ) {
    super(command, undefined, undefined, [`stopped at a prompt the operator does not answer ("${prompt}"); its input was closed`]);
  }
}
