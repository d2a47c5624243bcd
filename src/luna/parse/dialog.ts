/**
 * Prompts lunash and LunaCM print while a command waits for input, recognised in the output so far. Pure: the
 * channel side (what is answered, and who may answer what) is `runDialog` in device-shell.ts.
 *
 * Documented forms (thalesdocs.com):
 * - `hsm login`, password-authenticated HSM ("Resetting Passwords", Luna 6.x pages, e.g.
 *   gphsm/luna/6.0/docs/pci/Content/admin_pci_g5/users/resetting_passwords.htm): a `Caution:` block over several
 *   lines; before the last attempt it ends with a sentence starting `Type 'proceed'` and naming `'quit'`, wrapped over
 *   two lines, then a bare `>` prompt on its own line; the password prompt is `Please enter the HSM Administrators'
 *   password:` followed by a bare `>` line. Older firmware also prints a caution (mentioning ZEROIZED) two attempts
 *   before the end, straight before the password prompt, with no confirmation.
 * - Luna 7 lunash confirmations end with `Type 'proceed' to continue, or 'quit' to quit now.` (reference notes), also
 *   spread over several lines and answered at a `>` prompt.
 * - LunaCM 7.2/7.3 `hagroup listgroups` asks for the group password to show synchronization data (`Enter the
 *   password:`), optional (gphsm/luna/7.3/docs/pci/Content/administration/ha/manage/replace.htm); public automation
 *   (openstack/ansible-role-lunasa-hsm, files/list-ha-groups) answers it with an empty line.
 * Other prompts are not documented for the commands the operator sends: they are reported as `other` and never answered.
 */

export type DialogPrompt =
  /** `Type '<word>' ... or 'quit' ...`: the word that goes ahead (`proceed`, `copy`, ...). */
  | { kind: 'confirmation'; affirm: string; text: string }
  | { kind: 'password'; text: string }
  | { kind: 'other'; text: string };

/** The output ends with a prompt marker: a bare `>` (or `->`) line or a trailing `->`. */
const MARKER = /(?:^|\n)[ \t]*-?>[ \t]*$|->[ \t]*$/;
const CONFIRM = /\bType\s+'([A-Za-z]+)'[\s\S]*?'quit'[^\n]*(?:\s*\n[ \t]*-?>)?\s*$/i;
const PASSWORD = /password[^\n]*:\s*(?:\n[ \t]*>)?\s*$/i;

/** The last few lines of a segment, for messages (device text; never contains what we typed: no echo in exec mode). */
export function tail(segment: string, lines = 4): string {
  return segment
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' ')
    .slice(0, 300);
}

/**
 * The prompt `segment` (normalised output since the last answer) ends with, if it ends with one. A confirmation
 * is recognised as soon as its `'quit'` sentence is complete, with or without the `>` line after it.
 */
export function trailingPrompt(segment: string): DialogPrompt | undefined {
  const confirm = CONFIRM.exec(segment);
  if (confirm?.[1]) return { kind: 'confirmation', affirm: confirm[1].toLowerCase(), text: tail(segment) };
  if (PASSWORD.test(segment)) return { kind: 'password', text: tail(segment, 1) };
  if (MARKER.test(segment)) return { kind: 'other', text: tail(segment) };
  return undefined;
}

/** What one `hsm login` attempt answered, read only from the output after the password was sent. */
export type HsmLoginOutcome =
  | { kind: 'failed'; code?: string; codeName?: string; threshold: boolean }
  | { kind: 'succeeded' }
  | { kind: 'unknown'; text: string };

const LOGIN_FAILED = /'hsm login'\s+failed\.?(?:[ \t]*\([ \t]*([0-9A-Fa-fx]+)[ \t]*(?::[ \t]*([A-Za-z0-9_]+))?[ \t]*\))?/i;

/**
 * Classifies the answer to a wrong `hsm login` password. Only an explicit `'hsm login' failed` counts as a failed
 * attempt; a caution that merely mentions zeroization is not an outcome, and whether the HSM is zeroized is decided
 * by a fresh `hsm show`, never from this text.
 */
export function hsmLoginOutcome(response: string): HsmLoginOutcome {
  if (/'hsm login'\s+successful/i.test(response)) return { kind: 'succeeded' };
  const m = LOGIN_FAILED.exec(response);
  if (m) {
    return {
      kind: 'failed',
      ...(m[1] ? { code: m[1] } : {}),
      ...(m[2] ? { codeName: m[2] } : {}),
      threshold: /LOGIN_FAILURE_THRESHOLD/i.test(m[2] ?? ''),
    };
  }
  return { kind: 'unknown', text: tail(response) };
}
