/**
 * What the container image holds, built the way the Dockerfile builds it (no Docker engine here): the build
 * stage's `npm run build` succeeds and writes every path the runtime stage copies, the compiled code needs only
 * production dependencies (the runtime stage installs with --omit=dev), and the entrypoint starts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './render.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
const entrypoint = pkg.bin['hsm-operator']!; // dist/main.js, the Dockerfile's ENTRYPOINT (a unit test checks they agree)
const hasMain = existsSync(join(repoRoot, 'src/main.ts'));

/** Bare module specifiers a compiled ES module imports (tsc erased the type-only ones). */
function importsOf(js: string): string[] {
  const out: string[] = [];
  for (const m of js.matchAll(/(?:^|[;\s])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('image contents', () => {
  let app: string; // the runtime stage's /app
  let build: { status: number | null; output: string };

  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'hsm-image-'));
    // The build stage's `npm run build` (tsc -p tsconfig.build.json), written straight to the runtime layout.
    const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    build = { status: r.status, output: `${r.stdout}${r.stderr}` };
    cpSync(join(repoRoot, 'crds'), join(app, 'crds'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(app, 'package.json'));
    symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'));
  }, 120_000);

  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('npm run build succeeds (a failing build fails the image build)', () => {
    expect(build.output, build.output).toBe('');
    expect(build.status).toBe(0);
  });

  it('writes dist/ and ships the generated CRDs in crds/', () => {
    expect(walk(join(app, 'dist')).some((f) => f.endsWith('.js'))).toBe(true);
    expect(readdirSync(join(app, 'crds')).filter((f) => f.endsWith('.yaml')).length).toBeGreaterThan(0);
    // Tests are not part of the build.
    expect(walk(join(app, 'dist')).filter((f) => /\.test\.js$/.test(f))).toEqual([]);
  });

  it('needs no devDependency at run time', () => {
    const missing = new Set<string>();
    for (const f of walk(join(app, 'dist')).filter((x) => x.endsWith('.js'))) {
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (spec.startsWith('.') || isBuiltin(spec)) continue;
        if (!(packageOf(spec) in pkg.dependencies)) missing.add(`${packageOf(spec)} (imported by ${f.slice(app.length + 1)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it('finds imports the way the check above reads them', () => {
    expect(importsOf(`import { a } from 'yaml';\nimport 'reflect-metadata';\nexport * from './x.js';\nconst m = await import('node:fs');`)).toEqual(['yaml', 'reflect-metadata', './x.js', 'node:fs']);
  });

  it.skipIf(!hasMain)('starts: node dist/main.js --help exits 0 (skipped only until src/main.ts exists)', () => {
    expect(existsSync(join(app, entrypoint))).toBe(true);
    const r = spawnSync(process.execPath, [entrypoint, '--help'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: join(app, 'tmp'), NODE_ENV: 'production' }, timeout: 30_000 });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/run/);
  });
});
