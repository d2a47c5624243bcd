/**
 * Running buildah, podman and friends from the image tier: asynchronously (the test process keeps serving its
 * loopback simulators while a container runs), with the flags this host needs on every build and run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * What every `buildah build` and `podman run` here needs: runc (crun refuses this host's hybrid cgroups), lower
 * limits than the defaults (raising RLIMIT_NOFILE to the default is not permitted here) and the host's network (no
 * CNI bridge; the API server and the simulators listen on the host's loopback).
 */
export const RUNTIME = ['--runtime', 'runc'] as const;
export const LIMITS = ['--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=4096:4096'] as const;
export const HOST_NETWORK = ['--network', 'host'] as const;

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ExecOptions {
  input?: string;
  /** Kill the process after this long (default 15 min: a cold debootstrap or image build). */
  timeoutMs?: number;
  /** Called with each line of output while the process runs (progress of long builds). */
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
export function exec(bin: string, args: readonly string[], o: ExecOptions = {}): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: o.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lines = (chunk: string) => {
      if (!o.onLine) return;
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) o.onLine(l);
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      lines(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      lines(c);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 15 * 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(o.input ?? '');
  });
}

/** Runs a command and returns its stdout; throws with its output when it fails. */
export async function must(bin: string, args: readonly string[], o: ExecOptions = {}): Promise<string> {
  const r = await exec(bin, args, o);
  if (r.code !== 0) throw new Error(`${bin} ${args.join(' ')} exited with ${r.code}:\n${(r.stderr + r.stdout).slice(-4000)}`);
  return r.stdout;
}

/** Where a command is: PATH, plus the sbin directories a non-login root shell may lack (runc, debootstrap). */
export function which(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (d && existsSync(join(d, command))) return join(d, command);
  }
  return undefined;
}

/** `which`, or an error naming the command. */
export function tool(command: string): string {
  const p = which(command);
  if (!p) throw new Error(`${command} is not installed`);
  return p;
}
