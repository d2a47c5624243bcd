/** Real command-line tools the tests run, built from Go modules under test/tools and cached like the control plane. */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoBinaries, moduleHash, toolCacheRoot } from '../../src/sandbox/controlplane/gobuild.js';

const moduleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../tools');
// promtool has a module of its own: Prometheus pins k8s.io at a release helm v3.19's kubectl does not build with, and
// its dependency tree (every service discovery's cloud SDK) has no business moving helm's pins.
const promtoolModuleDir = join(moduleDir, 'promtool');

export interface Tools {
  helm: string;
  kustomize: string;
  kstatus: string;
  luahealth: string;
}

/** Paths of `helm`, `kustomize`, `kstatus` and `luahealth`, building them on first use (promtool: ensurePromtool). */
export async function ensureTools(): Promise<Tools> {
  const bins = await ensureGoBinaries({
    moduleDir,
    cacheDir: join(toolCacheRoot(), 'tools', `tools-${moduleHash(moduleDir)}`),
    what: 'helm, kustomize, kstatus and luahealth (gopher-lua)',
    binaries: [
      { pkg: 'helm.sh/helm/v3/cmd/helm', built: 'helm', name: 'helm' },
      { pkg: 'sigs.k8s.io/kustomize/kustomize/v5', built: 'kustomize', name: 'kustomize' },
      { pkg: './kstatus', built: 'kstatus', name: 'kstatus' },
      { pkg: './luahealth', built: 'luahealth', name: 'luahealth' },
    ],
  });
  return { helm: bins.helm!, kustomize: bins.kustomize!, kstatus: bins.kstatus!, luahealth: bins.luahealth! };
}

/** Path of `promtool` (Prometheus's rule checker and rule unit-test runner), building it on first use. */
export async function ensurePromtool(): Promise<string> {
  const bins = await ensureGoBinaries({
    moduleDir: promtoolModuleDir,
    cacheDir: join(toolCacheRoot(), 'tools', `promtool-${moduleHash(promtoolModuleDir)}`),
    what: 'promtool (github.com/prometheus/prometheus/cmd/promtool)',
    binaries: [{ pkg: 'github.com/prometheus/prometheus/cmd/promtool', built: 'promtool', name: 'promtool' }],
  });
  return bins.promtool!;
}

/** Runs a tool and returns its output; throws with stderr when it fails. */
export function run(bin: string, args: string[], input?: string, env?: Record<string, string>): string {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
