/** What every command gets: where to write, the environment, and the two kinds of failure with their exit codes. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Whether stdout is a terminal (live views redraw in place). */
  isTTY?: boolean;
  /** Terminal width, when known. */
  columns?: number;
}

export const processIo = (): Io => ({
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  env: process.env,
  isTTY: Boolean(process.stdout.isTTY),
  ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
});

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Bad command line: exit 2 with the message and a pointer to --help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command ran and failed (cluster unreachable, object not found, ...): exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** util.parseArgs, strict, with parse errors turned into UsageError. */
export function parseFlags(argv: string[], options: Options, o: { positionals?: boolean } = {}): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: o.positionals ?? false, allowNegative: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const str = (v: Values, name: string): string | undefined => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
