/**
 * Builds Go programs the tests need (the control plane, helm, kstatus) once per go.mod/go.sum, cached outside the
 * repo, with a cross-process lock so parallel runs don't build twice, printing progress while it builds.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** ~/.cache/hsm-operator (or $XDG_CACHE_HOME/hsm-operator). */
export function toolCacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hsm-operator');
}

/** A short hash of a module's go.mod, go.sum and Go sources: a new pin or a changed tool means a new cache entry. */
export function moduleHash(moduleDir: string): string {
  const h = createHash('sha256');
  const files = ['go.mod', 'go.sum', ...goSources(moduleDir, '')];
  for (const f of files) h.update(f).update(readFileSync(join(moduleDir, f)));
  return h.digest('hex').slice(0, 12);
}

function goSources(root: string, rel: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...goSources(root, p));
    else if (e.name.endsWith('.go')) out.push(p);
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A cross-process lock: mkdir is atomic; a lock whose owner died is taken over. */
async function withLock<T>(dir: string, what: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      const age = (() => {
        try {
          return Date.now() - statSync(lock).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if ((Number.isFinite(owner) && !pidAlive(owner)) || (!Number.isFinite(owner) && age > 10_000)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        process.stderr.write(`[controlplane] waiting for another process (pid ${owner}) that is ${what}\n`);
        announced = true;
      }
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface GoBuild {
  /** The Go module to build in (its go.mod pins every version). */
  moduleDir: string;
  /** Where the finished binaries live; the build goes to a sibling staging folder and is renamed into place. */
  cacheDir: string;
  /** For progress lines. */
  what: string;
  /** Packages to build: `built` is the file name go build writes, `name` the one we keep. */
  binaries: { pkg: string; built: string; name: string }[];
  /** `-ldflags` for go build (part of what the cache folder's name must cover). */
  ldflags?: string;
  log?: (line: string) => void;
}

/** Returns name -> path of each binary, building them first when the cache lacks any. */
export async function ensureGoBinaries(b: GoBuild): Promise<Record<string, string>> {
  const log = b.log ?? ((l: string) => process.stderr.write(`[gobuild] ${l}\n`));
  const out = Object.fromEntries(b.binaries.map((x) => [x.name, join(b.cacheDir, x.name)]));
  const ready = () => Object.values(out).every((p) => existsSync(p));
  if (ready()) return out;
  return withLock(b.cacheDir, `building ${b.what}`, async () => {
    if (ready()) return out;
    const staging = `${b.cacheDir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    log(`building ${b.what} from ${b.moduleDir} (first run only; minutes on 2 cores)`);
    const started = Date.now();
    await new Promise<void>((res, rej) => {
      const child = spawn('go', ['build', '-v', ...(b.ldflags ? ['-ldflags', b.ldflags] : []), '-o', staging + '/', ...b.binaries.map((x) => x.pkg)], {
        cwd: b.moduleDir,
        env: process.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let packages = 0;
      let tail = '';
      const timer = setInterval(() => log(`still building ${b.what}: ${packages} packages compiled, ${Math.round((Date.now() - started) / 1000)} s`), 15_000);
      child.stderr.on('data', (d: Buffer) => {
        const s = d.toString();
        packages += s.split('\n').filter((l) => l.trim() && !l.startsWith('go: ')).length;
        tail = (tail + s).slice(-4000);
      });
      child.on('error', rej);
      child.on('exit', (code) => {
        clearInterval(timer);
        if (code === 0) res();
        else rej(new Error(`go build of ${b.what} failed (exit ${code}):\n${tail}`));
      });
    });
    for (const x of b.binaries) if (x.built !== x.name) renameSync(join(staging, x.built), join(staging, x.name));
    rmSync(b.cacheDir, { recursive: true, force: true });
    renameSync(staging, b.cacheDir);
    log(`built ${b.what} in ${Math.round((Date.now() - started) / 1000)} s -> ${b.cacheDir}`);
    return out;
  });
}
