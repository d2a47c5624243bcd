/**
 * The remote half of scp, as an appliance runs it: `scp -t <target>` (sink: receive a file into the user's
 * home directory) and `scp -f <file>` (source: send one). Only plain file names: no paths, like lunash.
 */
import type { ExecIo } from './ssh-server.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX = 16 * 1024 * 1024;

export type HomeDir = Map<string, Buffer>;

function fail(io: ExecIo, message: string): number {
  io.write(Buffer.concat([Buffer.from([1]), Buffer.from(`scp: ${message}\n`)]));
  return 1;
}

/** Parses `scp [-v] [-p] -t|-f <name>`; undefined when the line is not an scp invocation. */
export function parseScpCommand(line: string): { mode: 't' | 'f'; target: string } | undefined {
  const tokens = line.trim().split(/\s+/);
  if (tokens[0] !== 'scp') return undefined;
  let mode: 't' | 'f' | undefined;
  let target: string | undefined;
  for (const t of tokens.slice(1)) {
    if (t === '-t' || t === '-f') mode = t === '-t' ? 't' : 'f';
    else if (/^-[a-zA-Z]+$/.test(t)) continue;
    else target = t;
  }
  return mode ? { mode, target: target ?? '.' } : undefined;
}

export async function scpSink(io: ExecIo, target: string, home: HomeDir): Promise<number> {
  io.write(Buffer.from([0]));
  for (;;) {
    const header = await io.readLine();
    if (header === null || header === '') return 0;
    const m = /^C([0-7]{4}) (\d+) (.+)$/.exec(header);
    if (!m?.[2] || !m[3]) {
      if (header.startsWith('T')) {
        io.write(Buffer.from([0]));
        continue;
      }
      return fail(io, 'protocol error: unexpected header');
    }
    const size = Number(m[2]);
    const name = target === '.' || target === '~' || target === '' ? m[3] : target.replace(/^~\//, '');
    if (!NAME.test(name)) return fail(io, `${name}: only plain file names in the home directory are allowed`);
    if (size > MAX) return fail(io, `${name}: file too large`);
    io.write(Buffer.from([0]));
    const data = await io.readBytes(size);
    const end = await io.readBytes(1);
    if (data === null || end === null) return 1;
    home.set(name, data);
    io.write(Buffer.from([0]));
  }
}

export async function scpSource(io: ExecIo, name: string, home: HomeDir): Promise<number> {
  const go = await io.readBytes(1);
  if (go === null) return 1;
  const data = NAME.test(name) ? home.get(name) : undefined;
  if (data === undefined) return fail(io, `${name}: No such file or directory`);
  io.write(`C0644 ${data.length} ${name}\n`);
  if ((await io.readBytes(1))?.[0] !== 0) return 1;
  io.write(data);
  io.write(Buffer.from([0]));
  await io.readBytes(1);
  return 0;
}
