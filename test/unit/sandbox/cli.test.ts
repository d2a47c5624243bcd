/** The sandbox's own command line (`npm start -- [flags]`): help, usage errors and their exit codes. */
import { describe, expect, it } from 'vitest';
import type { Io } from '../../../src/cli/io.js';
import { sandboxMain } from '../../../src/sandbox/cli.js';

async function sandbox(argv: string[]) {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), env: {} };
  const code = await sandboxMain(argv, io);
  return { code, out, err };
}

describe('npm start -- [flags]', () => {
  it('--help names npm start and lists the scenarios with their guide sections', async () => {
    const r = await sandbox(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: npm start -- \[flags\]/);
    for (const f of ['--scenario', '--exit-when-ready', '--timeout', '--plain', '--state-dir', '--kubeconfig', '--platform-namespace', '--app-namespace', '--log-level']) expect(r.out).toContain(f);
    for (const s of ['default', 'gateway-race', 'quota', 'ntls-drift', 'ha-member-down', 'cloning-domain-mismatch', 'wrong-password']) expect(r.out).toContain(`  ${s}  `);
    expect(r.out).toContain("guide: HA Group Doesn't Sync");
    expect((await sandbox(['-h'])).out).toBe(r.out);
  });

  it('usage errors exit 2 with the message on stderr, before anything starts', async () => {
    for (const [argv, message] of [
      [['--scenario', 'nope'], /unknown scenario "nope"; one of: default, /],
      [['--timeout', 'soon'], /--timeout: bad duration "soon"/],
      [['--log-level', 'loud'], /--log-level: loud is not a log level/],
      [['--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const r = await sandbox([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out, argv.join(' ')).toBe('');
      expect(r.err, argv.join(' ')).toMatch(message);
      expect(r.err, argv.join(' ')).toContain("Run 'npm start -- --help' for usage.");
    }
  });
});
