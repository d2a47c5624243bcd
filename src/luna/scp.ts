/**
 * scp over an SSH exec channel (ssh2 has none): we are the source for `scp -t <file>` (upload) and the sink
 * for `scp -f <file>` (download). Protocol: the sink acks with `\0`; the source sends `C0644 <size> <name>\n`,
 * the bytes and a `\0`; `\1`/`\2` followed by a line are warnings/errors.
 */
import type { Readable, Writable } from 'node:stream';
import { ScpError } from './errors.js';

/** Buffered reads of exact byte counts and lines from a stream; rejects on premature end. */
export class ByteReader {
  #buf = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(stream: Readable) {
    stream.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#notify();
    });
    const end = (): void => {
      this.#ended = true;
      this.#notify();
    };
    stream.on('end', end);
    stream.on('close', end);
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #waitFor(pred: () => boolean, what: string): Promise<void> {
    while (!pred()) {
      if (this.#ended) throw new ScpError(`scp: stream ended while waiting for ${what}`);
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  async bytes(n: number): Promise<Buffer> {
    await this.#waitFor(() => this.#buf.length >= n, `${n} bytes`);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return Buffer.from(out);
  }

  /** A line without its `\n`, at most `max` bytes. */
  async line(max = 4096): Promise<string> {
    await this.#waitFor(() => this.#buf.includes(0x0a) || this.#buf.length > max, 'a line');
    const i = this.#buf.indexOf(0x0a);
    if (i < 0) throw new ScpError('scp: protocol line too long');
    const out = this.#buf.subarray(0, i).toString('utf8');
    this.#buf = this.#buf.subarray(i + 1);
    return out;
  }
}

/** Reads one ack: `\0` is OK; `\1`/`\2` carry the remote's message. */
async function readAck(r: ByteReader): Promise<void> {
  const [code] = await r.bytes(1);
  if (code === 0) return;
  const msg = await r.line().catch(() => '');
  throw new ScpError(msg.replace(/^scp:\s*/, 'scp: ') || `scp: remote error ${code ?? '?'}`);
}

export const MAX_SCP_FILE = 16 * 1024 * 1024;

/** Drives the source side on a channel running `scp -t <name>`. */
export async function scpSend(ch: Readable & Writable, name: string, data: Buffer, mode = '0644'): Promise<void> {
  const r = new ByteReader(ch);
  await readAck(r);
  ch.write(`C${mode} ${data.length} ${name}\n`);
  await readAck(r);
  ch.write(data);
  ch.write(Buffer.from([0]));
  await readAck(r);
  ch.end();
}

/** Drives the sink side on a channel running `scp -f <name>`; returns the file's bytes. */
export async function scpReceive(ch: Readable & Writable, maxBytes = MAX_SCP_FILE): Promise<{ name: string; data: Buffer }> {
  const r = new ByteReader(ch);
  ch.write(Buffer.from([0]));
  for (;;) {
    const [code] = await r.bytes(1);
    if (code === 1 || code === 2) {
      const msg = await r.line().catch(() => '');
      throw new ScpError(msg || 'scp: remote error');
    }
    const rest = await r.line();
    const header = String.fromCharCode(code ?? 0) + rest;
    if (header.startsWith('T')) {
      // Times (-p): acknowledged and ignored.
      ch.write(Buffer.from([0]));
      continue;
    }
    const m = /^C([0-7]{4}) (\d+) (.+)$/.exec(header);
    if (!m?.[2] || !m[3]) throw new ScpError('scp: unexpected protocol header');
    const size = Number(m[2]);
    if (size > maxBytes) throw new ScpError(`scp: file of ${size} bytes exceeds the ${maxBytes}-byte limit`);
    ch.write(Buffer.from([0]));
    const data = await r.bytes(size);
    await readAck(r);
    ch.write(Buffer.from([0]));
    ch.end();
    return { name: m[3], data };
  }
}
