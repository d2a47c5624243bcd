/**
 * The pinned control planes: the default (test/controlplane) and the versions tier's (test/controlplane/versions/v1.NN)
 * each pin one Kubernetes release consistently, and each gets its own cache entry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binaryDir, defaultModuleDir, pinnedVersionModules, pinnedVersions, versionModuleDir } from '../../../src/sandbox/controlplane/controlplane.js';

describe('pinned control planes', () => {
  const modules = pinnedVersionModules();

  it('the versions tier pins the oldest and newest release the Go module proxy serves beside the default', () => {
    expect(modules).toEqual(expect.arrayContaining(['v1.34', 'v1.37']));
    expect(pinnedVersions().kubernetes).toBe('v1.35.4');
    expect(pinnedVersions(versionModuleDir('v1.34'))).toEqual({ kubernetes: 'v1.34.4', etcd: 'v3.6.4' });
    expect(pinnedVersions(versionModuleDir('v1.37'))).toEqual({ kubernetes: 'v1.37.2', etcd: 'v3.7.0' });
    // Each folder pins the release it is named for.
    for (const m of modules) expect(pinnedVersions(versionModuleDir(m)).kubernetes.startsWith(`${m}.`), m).toBe(true);
  });

  it.each(['default', ...modules])('%s: every staging module is replaced by the matching v0 release, and the tools are declared', (name) => {
    const dir = name === 'default' ? defaultModuleDir : versionModuleDir(name);
    const mod = readFileSync(join(dir, 'go.mod'), 'utf8');
    const minorPatch = pinnedVersions(dir).kubernetes.replace(/^v1\./, '');
    const replaces = [...mod.matchAll(/^\s*(k8s\.io\/\S+) => (k8s\.io\/\S+) (v\S+)$/gm)];
    expect(replaces.length).toBeGreaterThanOrEqual(30);
    for (const [, from, to, v] of replaces) {
      expect(to).toBe(from);
      expect(v).toBe(`v0.${minorPatch}`);
    }
    for (const tool of ['go.etcd.io/etcd/server/v3', 'k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kubectl']) expect(mod).toMatch(new RegExp(`^\\s*${tool.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('each release has its own cache entry, named after its versions', () => {
    const dirs = [binaryDir(), ...modules.map((m) => binaryDir(versionModuleDir(m)))];
    expect(new Set(dirs).size).toBe(modules.length + 1);
    expect(binaryDir(versionModuleDir('v1.34'))).toContain('kubernetes-v1.34.4-etcd-v3.6.4-');
    expect(binaryDir(versionModuleDir('v1.37'))).toContain('kubernetes-v1.37.2-etcd-v3.7.0-');
  });

  it('refuses a release that is not pinned', () => {
    expect(() => versionModuleDir('v1.30')).toThrow(/no pinned control plane v1\.30/);
    expect(() => versionModuleDir('../controlplane')).toThrow(/no pinned control plane/);
  });
});
