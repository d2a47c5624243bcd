/** `client list`, `client show`, `client fingerprint`. */
import { normalizeFingerprint } from '../../pki/index.js';
import { LunaParseError } from '../errors.js';
import { checkLunash, keyValue, lunashResult } from './output.js';

const CLIENT_LINE = /^registered\s+client\s+\d+\s*:\s*(.*?)\s*$/i;
const NOISE = /^Command Result\s*:|Command Line Shell|Copyright \(c\)|^\[[^\]]*\]\s*lunash:>|^lunash:>/i;

/**
 * `registered client <n>: <name>` lines (test/fixtures/luna/client-list). The name is the rest of the line: clients
 * registered by hand may have spaces in their names. Any other line is refused rather than skipped.
 */
export function parseClientList(raw: string | Buffer): string[] {
  const text = checkLunash('client list', raw);
  const names: string[] = [];
  let none = false;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || NOISE.test(line)) continue;
    const m = CLIENT_LINE.exec(line);
    if (m) {
      if (!m[1]) throw new LunaParseError('client list', `a client line without a name: "${line}"`);
      names.push(m[1]);
    } else if (/^no clients are registered\.?$/i.test(line)) none = true;
    else throw new LunaParseError('client list', `unexpected line: "${line.slice(0, 120)}"`);
  }
  if (names.length === 0 && !none && lunashResult(text) === undefined) {
    throw new LunaParseError('client list', 'neither client lines nor a command result');
  }
  return names;
}

export interface ClientInfo {
  name: string;
  hostname?: string;
  ip?: string;
  partitions: string[];
}

export function parseClientShow(raw: string | Buffer): ClientInfo {
  const text = checkLunash('client show', raw);
  let name: string | undefined;
  const info: Omit<ClientInfo, 'name'> = { partitions: [] };
  for (const line of text.split('\n')) {
    const kv = keyValue(line);
    if (!kv) continue;
    const [key, value] = kv;
    if (key === 'clientid' || key === 'client id' || key === 'client name') name = value || undefined;
    else if (key === 'hostname' || key === 'host name') info.hostname = value || undefined;
    else if (key === 'ip address' || key === 'ip') info.ip = value.replace(/"/g, '') || undefined;
    else if (key === 'partitions') info.partitions = parsePartitionNames(value);
  }
  if (!name) throw new LunaParseError('client show', 'no ClientID line');
  if (info.hostname === undefined) delete info.hostname;
  if (info.ip === undefined) delete info.ip;
  return { name, ...info };
}

/** `"par0", "par1"` (documented), or unquoted and comma-separated; labels may contain spaces. */
function parsePartitionNames(value: string): string[] {
  if (/^<?none>?$/i.test(value) || value === '') return [];
  const quoted = [...value.matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '').filter(Boolean);
  if (quoted.length) return quoted;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && !/^<?none>?$/i.test(s));
}

/** The fingerprint as `AA:BB:...` (16, 20 or 32 bytes; compare with pki `fingerprintMatches`). */
export function parseClientFingerprint(raw: string | Buffer): string {
  const text = checkLunash('client fingerprint', raw);
  const m = /fingerprint\s*:\s*([0-9A-Fa-f]{2}(?:[:\- ]?[0-9A-Fa-f]{2})*)/i.exec(text);
  if (!m?.[1]) throw new LunaParseError('client fingerprint', 'no fingerprint line');
  const fp = normalizeFingerprint(m[1]);
  const bytes = fp.split(':').length;
  if (bytes !== 16 && bytes !== 20 && bytes !== 32) throw new LunaParseError('client fingerprint', `fingerprint has ${bytes} bytes, expected 16, 20 or 32`);
  return fp;
}
