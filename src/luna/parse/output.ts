/**
 * Shared handling of lunash and LunaCM output: line-ending normalisation, the `Command Result` line, and
 * `Error:` blocks turned into a LunaCommandError carrying the Luna code.
 */
import { LunaCommandError, LunaParseError, LunaRecognisedFailure, type LunaErrorKind } from '../errors.js';

/** CRLF and lone CR to LF, ANSI escapes and trailing blanks removed. */
export function normalizeOutput(raw: string | Buffer): string {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .map((l) => l.replace(/[ \t]+$/, ''))
      .join('\n')
  );
}

export interface CommandResultLine {
  code: number;
  text: string;
}

/** The last `Command Result : <n> (<text>)` line of lunash output, if present. */
export function lunashResult(text: string): CommandResultLine | undefined {
  let found: CommandResultLine | undefined;
  for (const m of text.matchAll(/Command Result\s*:\s*(\d+)(?:[ \t]*\(([^)\n]*)\)?)?/g)) {
    found = { code: Number(m[1]), text: (m[2] ?? '').trim() };
  }
  return found;
}

/**
 * Failure messages the device prints without an `Error` prefix or a code, recognised by their documented wording.
 * Sources: openstack/ansible-role-lunasa-hsm (tasks/main.yaml, tasks/register_client.yaml) matches these phrases in
 * LunaCM and lunash output to tell "already in that state" from other failures. No documented failure text was found
 * for `hagroup removemember`, `hagroup recover`, `hagroup retry|interval|synchronize|deletegroup` (the Thales LunaCM
 * `hagroup` pages show syntax only): their failures keep the device's own lines and the generic classification.
 */
export const KNOWN_FAILURES: readonly { readonly pattern: RegExp; readonly kind: LunaErrorKind; readonly source: string }[] = [
  { pattern: /already part of an?\s+(?:HA\s+)?group/i, kind: 'already-exists', source: 'LunaCM hagroup addmember: the member is already part of an HA group' },
  { pattern: /for the new group has already been used/i, kind: 'already-exists', source: 'LunaCM hagroup creategroup: the label is in use' },
  { pattern: /has already been registered/i, kind: 'already-exists', source: 'lunash client register: a client with the same IP address or host' },
  { pattern: /already has access/i, kind: 'already-assigned', source: 'lunash client assignPartition' },
];

/** The first documented failure message in `text`, with its line. */
export function knownFailure(text: string): { kind: LunaErrorKind; line: string } | undefined {
  for (const line of text.split('\n')) {
    const f = KNOWN_FAILURES.find((k) => k.pattern.test(line));
    if (f) return { kind: f.kind, line: line.trim().replace(/^Error\b[^:]*:\s*/i, '') };
  }
  return undefined;
}

/** Banner, copyright and shell-prompt lines: never part of a command's answer. */
const NOISE = /Command Line Shell|Copyright \(c\)|All rights reserved|^\[[^\]]*\]\s*lunash:>|^lunash:>|^lunacm:>|^Last login:/i;

/** The lines a command printed as its message (no result line, banner, prompt or `Error:` line), at most `max`. */
export function messageLines(text: string, max = 5): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^Command Result\s*:/i.test(l) && !NOISE.test(l) && !/^Error\b[^:]*:/i.test(l))
    .slice(0, max)
    .map((l) => l.slice(0, 200));
}

/** The start of an output, for parse errors that say what they saw. */
export function excerpt(text: string, chars = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > chars ? `${flat.slice(0, chars)}...` : flat;
}

const FAILED = /Error:\s+'([^'\n]+)'\s+failed\.?(?:[ \t]*\([ \t]*([0-9A-Fa-fx]+)[ \t]*(?::[ \t]*([A-Za-z0-9_]+))?[ \t]*\))?/;

/**
 * Throws a LunaCommandError when lunash output reports a failure (an `Error:` line, a non-zero `Command Result`, or
 * a documented failure message without either: `KNOWN_FAILURES`); returns the normalised text otherwise. The result
 * line may be absent in exec mode. A failure without `Error:` detail lines carries the lines the device printed.
 */
export function checkLunash(command: string, raw: string | Buffer): string {
  const text = normalizeOutput(raw);
  const result = lunashResult(text);
  const errorLines = text
    .split('\n')
    .map((l) => /^\s*Error:\s*(.*)$/.exec(l)?.[1]?.trim())
    .filter((l): l is string => l !== undefined);
  const known = result?.code === 0 ? undefined : knownFailure(text);
  if (errorLines.length === 0 && (result === undefined || result.code === 0) && !known) return text;
  const failed = FAILED.exec(text);
  const details = errorLines.filter((l) => !/^'[^']+'\s+failed/.test(l) && l.length > 0);
  if (details.length === 0) details.push(...(known ? [known.line] : messageLines(text)));
  if (!failed && details.length === 0 && result) details.push(result.text || `result ${result.code}`);
  if (known) throw new LunaRecognisedFailure(failed?.[1] ?? command, failed?.[2], failed?.[3], details, known.kind, result?.code);
  throw new LunaCommandError(failed?.[1] ?? command, failed?.[2], failed?.[3], details, result?.code);
}

export interface LunaCmResultLine {
  ok: boolean;
  code?: string;
  codeName?: string;
}

/** LunaCM prints `Command Result : No Error` or `Command Result : 0x000000a0 (CKR_PIN_INCORRECT)`. */
export function lunaCmResult(text: string): LunaCmResultLine | undefined {
  let found: LunaCmResultLine | undefined;
  for (const m of text.matchAll(/Command Result\s*:\s*(?:(No Error)|(0x[0-9A-Fa-f]+|\d+)(?:[ \t]*\(([^)\n]*)\)?)?)/gi)) {
    if (m[1]) found = { ok: true };
    else {
      const code = m[2] ?? '';
      const numeric = code.toLowerCase().startsWith('0x') ? Number.parseInt(code, 16) : Number(code);
      found = numeric === 0 ? { ok: true } : { ok: false, code, codeName: m[3]?.trim() || undefined };
    }
  }
  return found;
}

/**
 * Throws a LunaCommandError when LunaCM reports a failure: a non-zero `Command Result`, an `Error` line, or a
 * documented failure message printed without an `Error` prefix (`KNOWN_FAILURES`, e.g. the member is already part of
 * an HA group), which becomes a LunaRecognisedFailure of the documented kind. A failure without `Error` lines
 * carries the lines LunaCM printed, so the operator reports the device's words. Returns the normalised text otherwise.
 */
export function checkLunaCm(command: string, raw: string | Buffer): string {
  const text = normalizeOutput(raw);
  const result = lunaCmResult(text);
  const errorLines = text
    .split('\n')
    .map((l) => /^\s*Error\b[^:]*:\s*(.*)$/i.exec(l)?.[1]?.trim())
    .filter((l): l is string => l !== undefined && l.length > 0);
  if (result?.ok) return text;
  const known = knownFailure(text);
  if (result === undefined && errorLines.length === 0 && !known) return text;
  const details = errorLines.length ? errorLines : known ? [known.line] : messageLines(text);
  const codeName = result?.codeName ?? /\b(CKR_[A-Z0-9_]+)\b/.exec(details.join(' '))?.[1];
  if (known) throw new LunaRecognisedFailure(command, result?.code, codeName, details, known.kind);
  throw new LunaCommandError(command, result?.code, codeName, details);
}

/**
 * A state-changing LunaCM command: as `checkLunaCm`, and success needs `Command Result : No Error`. Output without
 * any result line (cut off, or a form not documented) is refused: whether the change took effect is unknown.
 */
export function checkLunaCmChange(command: string, raw: string | Buffer): string {
  const text = checkLunaCm(command, raw);
  if (lunaCmResult(text) === undefined) {
    throw new LunaParseError(command, `no 'Command Result' line, so whether it took effect is unknown; it printed: "${excerpt(text)}"`);
  }
  return text;
}

/** `Warning:` lines (e.g. the cloning-domain warning), whitespace preserved inside the line. */
export function warningLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^Warning:/i.test(l));
}

/** `key: value` pairs of a line, key lower-cased with blanks collapsed. */
export function keyValue(line: string): [string, string] | undefined {
  const m = /^\s*([A-Za-z][^:]{0,60}?)\s*:\s*(.*)$/.exec(line);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  return [m[1].toLowerCase().replace(/\s+/g, ' '), m[2].trim()];
}
