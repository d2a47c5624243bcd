/**
 * Runs Argo CD health scripts in a real Lua interpreter. Argo CD hands a script the live object as the global `obj`
 * (JSON turned into Lua tables) and reads `status` and `message` from the table the script returns; this harness
 * does the same: JSON -> Lua literal, `obj = <literal>`, the script wrapped in a function, results written back.
 */
import { spawnSync } from 'node:child_process';

/** Interpreters tried, closest to Argo CD's gopher-lua (Lua 5.1) first. */
const CANDIDATES = ['lua5.1', 'lua5.4', 'lua5.3', 'lua'];

/** Every Lua interpreter on PATH (by name); throws with the install hint when there is none. */
export function luaInterpreters(): string[] {
  const found = CANDIDATES.filter((bin) => spawnSync(bin, ['-v'], { encoding: 'utf8' }).status === 0);
  // `lua` is usually an alternative for one of the versioned names; keep it only when nothing else is there.
  const versioned = found.filter((b) => b !== 'lua');
  if (versioned.length > 0) return versioned;
  if (found.length > 0) return found;
  throw new Error('No Lua interpreter found: the Argo CD health check tests need one. Install it with `apt-get install -y lua5.4` (.ci/run must do so).');
}

function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (byte >= 0x20 && byte < 0x7f) out += c;
    else out += `\\${byte.toString().padStart(3, '0')}`; // decimal escape: valid in every Lua version
  }
  return `${out}"`;
}

/** A JSON value as a Lua expression. `null` becomes nil, as Argo CD's conversion drops it. */
export function toLuaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a JSON number: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `{${value.map((v) => toLuaLiteral(v)).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${toLuaLiteral(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`not JSON: ${typeof value}`);
}

export interface HealthStatus {
  status: string;
  message: string;
}

/** Runs `script` once per object in one interpreter process and returns what each run returned. */
export function runHealthScript(lua: string, script: string, objects: readonly unknown[]): HealthStatus[] {
  const program = [
    'local function emit(hs)',
    '  if type(hs) ~= "table" then error("health script returned " .. type(hs)) end',
    '  io.write(tostring(hs.status), "\\0", tostring(hs.message or ""), "\\0")',
    'end',
    ...objects.map((o) => `obj = ${toLuaLiteral(o)}\nemit((function()\n${script}\nend)())`),
  ].join('\n');
  const r = spawnSync(lua, ['-'], { input: program, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${lua} failed (${r.status}): ${r.stderr}`);
  const parts = r.stdout.split('\0');
  const out: HealthStatus[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) out.push({ status: parts[i]!, message: parts[i + 1]! });
  if (out.length !== objects.length) throw new Error(`expected ${objects.length} results from ${lua}, got ${out.length}: ${r.stdout}`);
  return out;
}
