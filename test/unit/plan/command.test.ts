/** `plan` is a command of `hsm-operator`: listed, with its help, and with its own exit codes for bad input. */
import { describe, expect, it } from 'vitest';
import { main, mainHelp } from '../../../src/cli/index.js';

function io() {
  const o = { out: '', err: '' };
  return { o, io: { out: (t: string) => void (o.out += t), err: (t: string) => void (o.err += t), env: {} } };
}

describe('hsm-operator plan', () => {
  it('is listed and has its help (flags, the read-only promise, exit codes)', async () => {
    expect(mainHelp()).toMatch(/plan +show what the operator would do with manifests before they are applied/);
    const { o, io: x } = io();
    expect(await main(['plan', '--help'], x)).toBe(0);
    expect(o.out).toContain('Usage: hsm-operator plan -f <file|dir>');
    expect(o.out).toContain('Nothing is written anywhere');
    expect(o.out).toContain('Exit codes: 0 nothing needs a human, 2 something needs a human');
  });

  it('without -f, or with a file that is not there, it fails with 1 (never 2) before reading any cluster', async () => {
    const a = io();
    expect(await main(['plan'], a.io)).toBe(1);
    expect(a.o.err).toContain('-f <file|dir> is required');
    const b = io();
    expect(await main(['plan', '-f', '/nonexistent/hsm.yaml'], b.io)).toBe(1);
    expect(b.o.err).toContain('/nonexistent/hsm.yaml does not exist');
  });
});
