/**
 * Shared handling of lunash and LunaCM output: line-ending normalisation, the `Command Result` line, and
 * `Error:` blocks turned into a LunaCommandError carrying the Luna code.
 */
import { LunaCommandError } from '../errors.js';

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

const FAILED = /Error:\s+'([^'\n]+)'\s+failed\.?(?:[ \t]*\([ \t]*([0-9A-Fa-fx]+)[ \t]*(?::[ \t]*([A-Za-z0-9_]+))?[ \t]*\))?/;

/**
 * Throws a LunaCommandError when lunash output reports a failure (an `Error:` line or a non-zero
 * `Command Result`); returns the normalised text otherwise. The result line may be absent in exec mode.
 */
export function checkLunash(command: string, raw: string | Buffer): string {
  const text = normalizeOutput(raw);
  const result = lunashResult(text);
  const errorLines = text
    .split('\n')
    .map((l) => /^\s*Error:\s*(.*)$/.exec(l)?.[1]?.trim())
    .filter((l): l is string => l !== undefined);
  if (errorLines.length === 0 && (result === undefined || result.code === 0)) return text;
  const failed = FAILED.exec(text);
  const details = errorLines.filter((l) => !/^'[^']+'\s+failed/.test(l) && l.length > 0);
  if (!failed && details.length === 0 && result) details.push(result.text || `result ${result.code}`);
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

/** Throws a LunaCommandError when LunaCM reports a failure; returns the normalised text otherwise. */
export function checkLunaCm(command: string, raw: string | Buffer): string {
  const text = normalizeOutput(raw);
  const result = lunaCmResult(text);
  const errorLines = text
    .split('\n')
    .map((l) => /^\s*Error\b[^:]*:\s*(.*)$/i.exec(l)?.[1]?.trim())
    .filter((l): l is string => l !== undefined && l.length > 0);
  if (result?.ok || (result === undefined && errorLines.length === 0)) return text;
  const codeName = result?.codeName ?? /\b(CKR_[A-Z0-9_]+)\b/.exec(errorLines.join(' '))?.[1];
  throw new LunaCommandError(command, result?.code, codeName, errorLines);
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
