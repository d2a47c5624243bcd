/**
 * The Dockerfile, read with a real Dockerfile parser (no Docker engine here): two stages, a slim Node 24
 * runtime with production dependencies, dist/ and crds/ only, a numeric non-root user, the package's bin as
 * entrypoint; and .dockerignore, read with Docker's matching rules, lets in exactly what the build copies.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dockerignoreModule from '@balena/dockerignore';
import { DockerfileParser, type Instruction, type JSONInstruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dockerfile = DockerfileParser.parse(readFileSync(join(root, 'Dockerfile'), 'utf8'));
// A CommonJS module whose `default` is itself: the factory, however the import is interpreted.
const dockerignore = dockerignoreModule.default().add(readFileSync(join(root, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const tsBuild = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };

interface Step {
  keyword: string;
  args: string[];
  from?: string;
  json?: string[];
}
interface Stage {
  name: string;
  image: string;
  steps: Step[];
}

/** Default values of the ARGs before the first FROM, substituted into FROM lines as `docker build` does. */
const initialArgs = new Map(
  dockerfile.getInitialARGs().map((a) => {
    const p = a.getProperty();
    return [p?.getName() ?? '', p?.getValue() ?? ''] as const;
  }),
);
const substitute = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => initialArgs.get(a ?? b ?? '') ?? '');

function stagesOf(): Stage[] {
  const stages: Stage[] = [];
  for (const i of dockerfile.getInstructions()) {
    const keyword = i.getKeyword();
    const args = i.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      stages.push({ name: args[2] ?? String(stages.length), image: substitute(args[0] ?? ''), steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue; // ARGs before the first FROM
    const step: Step = { keyword, args };
    const from = (i as Instruction & { getFromFlag?: () => { getValue(): string | null } | null }).getFromFlag?.();
    if (from) step.from = from.getValue() ?? undefined;
    if (keyword === 'ENTRYPOINT' || keyword === 'CMD') step.json = (i as JSONInstruction).getJSONStrings().map((s) => s.getJSONValue());
    stage.steps.push(step);
  }
  return stages;
}

const stages = stagesOf();
const build = stages.find((s) => s.name === 'build');
const runtime = stages.at(-1)!;
const steps = (s: Stage | undefined, k: string) => (s?.steps ?? []).filter((x) => x.keyword === k);
const runs = (s: Stage | undefined) => steps(s, 'RUN').map((r) => r.args.join(' '));
/** COPY sources and destination (flags such as --from are not arguments). */
const copies = (s: Stage | undefined) => steps(s, 'COPY').map((c) => ({ from: c.from, sources: c.args.filter((a) => !a.startsWith('--')).slice(0, -1), dest: c.args.at(-1) ?? '' }));

describe('Dockerfile', () => {
  it('builds in a build stage and runs from a slim Node 24 runtime stage', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const s of stages) expect(s.image).toMatch(/^node:24(\.\d+)*-(\w+-)?slim(@sha256:[0-9a-f]{64})?$/);
  });

  it('compiles with npm ci and npm run build', () => {
    const r = runs(build);
    expect(r.some((x) => /^npm ci\b/.test(x) && !x.includes('--omit=dev'))).toBe(true);
    expect(r).toContain('npm run build');
    expect(r.findIndex((x) => x.startsWith('npm ci'))).toBeLessThan(r.indexOf('npm run build'));
  });

  it('installs only production dependencies in the runtime stage', () => {
    const installs = runs(runtime).filter((x) => x.includes('npm ci') || x.includes('npm install') || x.includes('npm i '));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/npm ci --omit=dev\b/);
  });

  it('copies into the runtime image only the package manifests, dist/ from the build stage and crds/', () => {
    const c = copies(runtime);
    expect(c).toEqual([
      { from: undefined, sources: ['package.json', 'package-lock.json'], dest: './' },
      { from: 'build', sources: [expect.stringMatching(/\/dist\/?$/)], dest: 'dist/' },
      { from: undefined, sources: ['crds/'], dest: 'crds/' },
    ]);
    expect(steps(runtime, 'ADD')).toEqual([]);
  });

  it('copies the build stage output from where npm run build writes it', () => {
    const workdir = steps(build, 'WORKDIR').at(-1)?.args[0];
    const distFrom = copies(runtime).find((c) => c.from === 'build')?.sources[0];
    expect(distFrom?.replace(/\/$/, '')).toBe(`${workdir}/${tsBuild.compilerOptions.outDir}`);
  });

  it('runs as the numeric non-root user 65532 after the last RUN', () => {
    const s = runtime.steps;
    const userAt = s.findLastIndex((x) => x.keyword === 'USER');
    expect(s[userAt]?.args[0]).toBe('65532:65532');
    expect(s.slice(userAt).some((x) => x.keyword === 'RUN')).toBe(false);
  });

  it('starts the package bin with `run` as the default command', () => {
    const entry = steps(runtime, 'ENTRYPOINT').at(-1)?.json;
    expect(entry).toEqual(['node', pkg.bin['hsm-operator']]);
    expect(steps(runtime, 'CMD').at(-1)?.json).toEqual(['run']);
    // dist/main.js is what tsc makes of src/main.ts.
    expect(pkg.bin['hsm-operator']).toBe(`${tsBuild.compilerOptions.outDir}/main.js`);
    expect(tsBuild.compilerOptions.rootDir).toBe('src');
  });

  it('writes nothing outside /tmp at run time and keeps no secrets in the image config', () => {
    const env = steps(runtime, 'ENV').flatMap((e) => e.args);
    expect(env).toContain('HOME=/tmp');
    expect(steps(runtime, 'VOLUME')).toEqual([]);
    for (const s of stages) {
      for (const x of [...steps(s, 'ENV'), ...steps(s, 'ARG')].flatMap((e) => e.args)) {
        expect(x).not.toMatch(/(PASSWORD|SECRET|TOKEN|PRIVATE|API_?KEY|CLIENT_SECRET)/i);
      }
    }
  });
});

describe('.dockerignore', () => {
  it('lets in every file and folder the build copies from the context', () => {
    const sources = stages.flatMap((s) => copies(s).filter((c) => !c.from).flatMap((c) => c.sources));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const path = src.replace(/\/$/, '');
      expect(existsSync(join(root, path)), `${src} exists`).toBe(true);
      expect(dockerignore.ignores(path), `${src} reaches the build`).toBe(false);
      if (statSync(join(root, path)).isDirectory()) expect(dockerignore.ignores(`${path}/x.ts`), `files under ${src}`).toBe(false);
    }
    expect(dockerignore.ignores('src/main.ts')).toBe(false);
    expect(dockerignore.ignores('crds/dedicatedhsm.io_dedicatedhsms.yaml')).toBe(false);
  });

  it('keeps tests, the sandbox, git history, local builds, dependencies and secrets out', () => {
    for (const p of [
      'test/unit/packaging/dockerfile.test.ts',
      'src/runtime/client.test.ts',
      '.git/config',
      'node_modules/yaml/package.json',
      'dist/main.js',
      'charts/hsm-operator/values.yaml',
      'bench/run.ts',
      'server.key',
      'src/sandbox/tls.pem',
      'src/sandbox/main.ts',
      'src/sandbox/arm/server.ts',
      '.env',
      '.env.local',
      'coverage/index.html',
    ]) {
      expect(dockerignore.ignores(p), p).toBe(true);
    }
  });
});
