/**
 * The one destructive path: zeroizing an HSM by exhausting its HSM SO (Admin) login attempts with
 * deliberately wrong passwords. It exists for `deletionPolicy: Delete` with the explicit second key
 * (invariant 2) and is never called from anywhere else. `hsm login` is built only here.
 */
import { randomBytes } from 'node:crypto';
import { throwIfAborted } from './abort.js';
import { Appliance } from './appliance.js';
import { runDialog, type DeviceFacadeOptions } from './device-shell.js';
import { LunaError, LunaParseError, ZeroizeNotConfirmedError } from './errors.js';
import { hsmLoginOutcome, tail } from './parse/dialog.js';
import type { HsmShow } from './parse/hsm.js';
import { normalizeOutput } from './parse/output.js';
import type { SshEndpoint, SshPool } from './ssh-pool.js';

/** The explicit confirmation: the caller names the HSM serial it means to destroy. */
export interface ZeroizeConfirmation {
  readonly confirm: 'zeroize-hsm-and-destroy-all-key-material';
  /** Serial number of the HSM, as `hsm show` prints it: the appliance must report exactly this. */
  readonly hsmSerial: string;
}

export interface ZeroizeReport {
  serial: string;
  /** Failed `hsm login` attempts spent (0 when it already was zeroized). */
  failedLogins: number;
  zeroized: true;
}

const CONFIRM = 'zeroize-hsm-and-destroy-all-key-material';
const HSM_LOGIN = 'hsm login';
const MAX_ATTEMPTS = 10;

function assertConfirmed(c: unknown): asserts c is ZeroizeConfirmation {
  const r = typeof c === 'object' && c !== null ? (c as Record<string, unknown>) : {};
  if (r.confirm !== CONFIRM || typeof r.hsmSerial !== 'string' || !/^\d{1,20}$/.test(r.hsmSerial)) {
    throw new ZeroizeNotConfirmedError(`zeroize requires { confirm: '${CONFIRM}', hsmSerial: '<digits>' }`);
  }
}

/**
 * Zeroizes the HSM behind `endpoint` by failing `hsm login` until the threshold. Refuses without the confirmation
 * or when the appliance's serial differs from the one confirmed. Each attempt is one `hsm login` dialog: the
 * last-attempt confirmation (`Type 'proceed' ... or 'quit'`, over several lines, then a bare `>` prompt) is answered
 * `proceed` here and nowhere else, then a random wrong password is typed. Only an explicit `'hsm login' failed`
 * counts as a spent attempt; whether the HSM is zeroized is decided by a fresh `hsm show` after every attempt, never
 * by the dialog's text (a caution that mentions zeroization is printed before the end on older firmware).
 *
 * `opts.signal` is checked before every command: once it has fired, no further `hsm show` or `hsm login` is sent, and
 * an `hsm login` in flight has its channel closed (DeviceAbortedError). A zeroize is never retried or continued after
 * an abort: the next call starts again from a fresh `hsm show`.
 */
export async function zeroizeByFailedLogins(pool: SshPool, endpoint: SshEndpoint, confirmation: ZeroizeConfirmation, opts: DeviceFacadeOptions = {}): Promise<ZeroizeReport> {
  const appliance = new Appliance(pool, endpoint, opts);
  return zeroizeLoop(confirmation, endpoint.host, opts, {
    show: () => appliance.show(),
    failLogin: async (failed) => {
      // Random and never stored: this password cannot be anyone's real one by accident.
      const wrong = `zeroize-${randomBytes(24).toString('hex')}`;
      const { value: dialog } = await pool.withChannel(endpoint, HSM_LOGIN, (ch) => runDialog(ch, { affirm: ['proceed'], password: wrong }), {
        display: HSM_LOGIN,
        ...(opts.commandTimeoutMs !== undefined ? { timeoutMs: opts.commandTimeoutMs } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (!dialog.answered.includes('<password>')) {
        const why = dialog.refused !== undefined ? `a confirmation it may not answer ("${dialog.refused}")` : `no password prompt ("${tail(normalizeOutput(dialog.output))}")`;
        throw new LunaError(`hsm login stopped at ${why}; zeroize aborted after ${failed} failed logins`);
      }
      const outcome = hsmLoginOutcome(dialog.afterPassword);
      if (outcome.kind === 'succeeded') throw new LunaError('hsm login unexpectedly succeeded; zeroize aborted');
      if (outcome.kind === 'unknown') throw new LunaError(`hsm login did not report a failed attempt ("${outcome.text}"); zeroize aborted after ${failed} failed logins`);
    },
  });
}

/** How one zeroize reaches its appliance: a fresh `hsm show`, and one failed `hsm login` (resolves when it failed). */
export interface ZeroizeSteps {
  show(): Promise<HsmShow>;
  failLogin(failedSoFar: number): Promise<void>;
}

/**
 * The zeroize decisions, whatever carries the commands (the SSH pool, or an in-memory appliance in tests): refuse
 * without the confirmation or on another serial, stop when `hsm show` says zeroized, refuse to go on blind or when a
 * failed login did not lower the attempts left, and never more than MAX_ATTEMPTS logins. The signal is checked
 * before every `hsm login`.
 */
export async function zeroizeLoop(confirmation: ZeroizeConfirmation, host: string, opts: Pick<DeviceFacadeOptions, 'signal' | 'onCommand'>, steps: ZeroizeSteps): Promise<ZeroizeReport> {
  assertConfirmed(confirmation);
  let failed = 0;
  let previousLeft: number | undefined;
  for (;;) {
    const show: HsmShow = await steps.show();
    if (show.serial !== confirmation.hsmSerial) {
      throw new ZeroizeNotConfirmedError(`confirmation names HSM ${confirmation.hsmSerial} but ${host} reports serial ${show.serial}`);
    }
    if (show.zeroized === true) return { serial: show.serial, failedLogins: failed, zeroized: true };
    const left = show.soLoginAttemptsLeft;
    if (show.zeroized === undefined || left === undefined) throw new LunaParseError('hsm show', 'HSM Admin login attempts left not reported; not zeroizing blind');
    if (previousLeft !== undefined && left >= previousLeft) {
      throw new LunaError(`HSM ${show.serial} still reports ${left} HSM Admin login attempts left after a failed login (was ${previousLeft}); zeroize aborted after ${failed} failed logins`);
    }
    if (failed >= MAX_ATTEMPTS || left <= 0) {
      throw new LunaError(`HSM ${show.serial} is not zeroized after ${failed} failed HSM Admin logins (hsm show: ${left} attempts left); zeroize aborted`);
    }
    previousLeft = left;
    throwIfAborted(opts.signal, host, HSM_LOGIN);
    opts.onCommand?.({ tool: 'lunash', host, name: HSM_LOGIN, display: HSM_LOGIN, changesState: true });
    await steps.failLogin(failed);
    failed++;
  }
}
