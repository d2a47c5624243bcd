/**
 * The one destructive path: zeroizing an HSM by exhausting its HSM SO (Admin) login attempts with
 * deliberately wrong passwords. It exists for `deletionPolicy: Delete` with the explicit second key
 * (invariant 2) and is never called from anywhere else. `hsm login` is built only here.
 */
import { randomBytes } from 'node:crypto';
import { Appliance, type DeviceFacadeOptions } from './appliance.js';
import { LunaError, LunaParseError, ZeroizeNotConfirmedError } from './errors.js';
import { normalizeOutput } from './parse/output.js';
import type { SshChannel, SshEndpoint, SshPool } from './ssh-pool.js';

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

/** Answers the `proceed` caution and the password prompt of one `hsm login`; resolves with its output. */
function hsmLoginDialog(ch: SshChannel, wrongPassword: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    let proceeded = false;
    let answered = false;
    const onData = (d: Buffer): void => {
      out += d.toString('utf8');
      const tail = normalizeOutput(out).slice(-400);
      if (!proceeded && /Type 'proceed'[^\n]*$/.test(tail)) {
        proceeded = true;
        ch.write('proceed\n');
      } else if (!answered && /password:\s*(>\s*)?$/i.test(tail)) {
        answered = true;
        ch.end(`${wrongPassword}\n`);
      }
    };
    ch.on('data', onData);
    ch.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    ch.on('close', () => resolve(out));
  });
}

/**
 * Zeroizes the HSM behind `endpoint` by failing `hsm login` until the threshold, then verifies with
 * `hsm show`. Refuses without the confirmation or when the appliance's serial differs from the one confirmed.
 */
export async function zeroizeByFailedLogins(pool: SshPool, endpoint: SshEndpoint, confirmation: ZeroizeConfirmation, opts: DeviceFacadeOptions = {}): Promise<ZeroizeReport> {
  assertConfirmed(confirmation);
  const appliance = new Appliance(pool, endpoint, opts);
  const before = await appliance.show();
  if (before.serial !== confirmation.hsmSerial) {
    throw new ZeroizeNotConfirmedError(`confirmation names HSM ${confirmation.hsmSerial} but ${endpoint.host} reports serial ${before.serial}`);
  }
  if (before.zeroized === true) return { serial: before.serial, failedLogins: 0, zeroized: true };
  const left = before.soLoginAttemptsLeft;
  if (left === undefined) throw new LunaParseError('hsm show', 'HSM Admin login attempts left not reported; not zeroizing blind');
  let failed = 0;
  for (let i = 0; i < Math.min(left, MAX_ATTEMPTS); i++) {
    // Random and never stored: this password cannot be anyone's real one by accident.
    const wrong = `zeroize-${randomBytes(24).toString('hex')}`;
    opts.onCommand?.({ tool: 'lunash', host: endpoint.host, name: HSM_LOGIN, display: HSM_LOGIN, changesState: true });
    const { value: raw } = await pool.withChannel(endpoint, HSM_LOGIN, (ch) => hsmLoginDialog(ch, wrong), { display: HSM_LOGIN, ...(opts.commandTimeoutMs !== undefined ? { timeoutMs: opts.commandTimeoutMs } : {}) });
    const out = normalizeOutput(raw);
    if (/'hsm login' successful/i.test(out)) throw new LunaError('hsm login unexpectedly succeeded; zeroize aborted');
    if (/PIN_INCORRECT|LOGIN_FAILURE_THRESHOLD|ZEROIZED/i.test(out)) failed++;
    else throw new LunaError(`hsm login did not report a failed attempt; zeroize aborted after ${failed} failed logins`);
    if (/LOGIN_FAILURE_THRESHOLD|ZEROIZED/i.test(out)) break;
  }
  const after = await appliance.show();
  if (after.zeroized !== true) throw new LunaError(`HSM ${after.serial} is not zeroized after ${failed} failed HSM Admin logins`);
  return { serial: after.serial, failedLogins: failed, zeroized: true };
}
