/**
 * Operator processes for the reliability suite: spawn test/support/operator-child.ts with a config file, keep
 * its stdout (pino JSON lines) and stderr, kill it (SIGKILL anywhere, SIGSTOP/SIGCONT, SIGTERM for a clean
 * shutdown) and wait for it. Every process started here is killed at the latest when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperatorChildConfig } from './reliability-child-config.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const childScript = join(here, 'operator-child.ts');

/**
 * The child script, bundled once per test process with esbuild (our sources in one file, packages external): it
 * starts in about a second instead of the three tsx needs to compile on the fly. Falls back to tsx.
 */
let bundled: Promise<string[]> | undefined;
function childCommand(): Promise<string[]> {
  bundled ??= (async () => {
    const dir = join(repoRoot, 'node_modules/.cache/hsm-reliability');
    const outfile = join(dir, `operator-child-${process.pid}.mjs`);
    try {
      const esbuild = await import('esbuild');
      mkdirSync(dir, { recursive: true });
      await esbuild.build({ entryPoints: [childScript], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'silent', sourcemap: 'inline' });
      process.once('exit', () => rmSync(outfile, { force: true }));
      return ['--enable-source-maps', outfile];
    } catch {
      return ['--import', 'tsx', childScript];
    }
  })();
  return bundled;
}

/** Every child still running: killed on exit of the test process so no operator outlives a run. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export interface LogLine {
  level?: string;
  msg?: string;
  time?: string;
  [k: string]: unknown;
}

export class OperatorProcess {
  /** Raw stdout (JSON log lines) and stderr, kept across the process's life. */
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly name: string,
    readonly config: OperatorChildConfig,
    command: string[],
    configPath: string,
  ) {
    this.child = spawn(process.execPath, [...command, configPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    running.add(this.child);
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((res) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        this.exitInfo = { code, signal };
        res(this.exitInfo);
      });
    });
  }

  /** Starts a child with `config`; resolves once it logged that the operator started (caches synced). */
  static async start(name: string, config: OperatorChildConfig, readyTimeoutMs = 60_000): Promise<OperatorProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'hsm-op-child-'));
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(config));
    const p = new OperatorProcess(name, config, await childCommand(), path);
    await p.waitForLog((l) => l.msg === 'operator child started', readyTimeoutMs, 'operator child started');
    return p;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Parsed log lines (non-JSON lines are skipped). */
  logs(): LogLine[] {
    const out: LogLine[] = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        /* a line cut by SIGKILL */
      }
    }
    return out;
  }

  /** Waits until a log line matches; fails early if the process dies. */
  async waitForLog(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs().find(match);
      if (hit) return hit;
      if (!this.alive) throw new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before "${what}"\n${this.stderr.slice(-3000)}\n${this.stdout.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no "${what}" within ${timeoutMs} ms\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL: a crash at whatever point the process is; resolves once it is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGSTOP / SIGCONT: the process freezes (a stalled node, a long GC pause) and later resumes. */
  pause(): void {
    if (this.alive) this.child.kill('SIGSTOP');
  }

  resume(): void {
    if (this.alive) this.child.kill('SIGCONT');
  }

  /** SIGTERM: drain and release the Lease; SIGKILL if it has not exited in `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exitInfo as { code: number | null; signal: NodeJS.Signals | null };
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}
