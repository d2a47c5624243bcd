/**
 * The image tier's own logic, without buildah or podman: the message when its packages are missing, the slimming of
 * the local Debian base, and the translation of the kustomize config's Deployment into `podman run` flags (the
 * security settings must arrive; nothing the tier cannot honour may be dropped silently).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { keepInSlimImage, repoRoot } from '../../image/support/base.js';
import { expand, podmanQuantity, podmanRunArgs, SERVICE_ACCOUNT_DIR, type Deployment } from '../../image/support/pod.js';
import { IMAGE_TIER_PACKAGES, prerequisiteProblem } from '../../image/support/prerequisites.js';

describe('image tier prerequisites', () => {
  it('names exactly the missing Debian packages and how to install them', () => {
    const have = new Set(['podman', 'runc']);
    const problem = prerequisiteProblem((c) => (have.has(c) ? `/usr/bin/${c}` : undefined), 0);
    expect(problem).toMatch(/missing Debian packages: buildah, debootstrap\./);
    expect(problem).toContain('apt-get install -y buildah podman runc debootstrap');
    expect(prerequisiteProblem((c) => `/usr/bin/${c}`, 0)).toBeUndefined();
    expect(prerequisiteProblem((c) => `/usr/bin/${c}`, 1000)).toMatch(/as root/);
    expect(Object.keys(IMAGE_TIER_PACKAGES).sort()).toEqual(['buildah', 'debootstrap', 'podman', 'runc']);
  });
});

describe('the slim Debian base', () => {
  it('drops documentation but the copyright files, man pages, locales and apt caches, and keeps the system', () => {
    for (const p of ['usr/share/doc/bash/README', 'usr/share/man/man1/ls.1.gz', 'usr/share/locale/de/LC_MESSAGES/dpkg.mo', 'usr/share/info/grep.info.gz', 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease', 'var/cache/apt/archives/libc6_2.36_amd64.deb', 'var/cache/apt/pkgcache.bin']) {
      expect(keepInSlimImage(p), p).toBe(false);
    }
    for (const p of ['usr/share/doc', 'usr/share/doc/libc6', 'usr/share/doc/libc6/copyright', 'usr/share/man', 'usr/share/locale', 'usr/lib/x86_64-linux-gnu/libstdc++.so.6', 'etc/os-release', 'var/lib/dpkg/status', 'var/lib/apt/lists/partial', 'usr/bin/sh']) {
      expect(keepInSlimImage(p), p).toBe(true);
    }
  });
});

describe("the Deployment's pod, as podman run flags", () => {
  const docs = readFileSync(join(repoRoot, 'config/manager/manager.yaml'), 'utf8');
  const deployment = parse(docs) as Deployment;
  const args = podmanRunArgs({
    deployment,
    image: 'localhost/hsm-operator:test',
    name: 'hsm-operator-a',
    namespace: 'hsm-operator-system',
    serviceAccountDir: '/tmp/sa',
    apiServer: { host: '127.0.0.1', port: 6443 },
    override: { '--health-probe-bind-address': '127.0.0.1:4001' },
    extraArgs: ['--azure-disable-instance-discovery'],
    mounts: { '/tmp/ca': '/etc/hsm-operator/azure-ca' },
    env: { EXTRA: '1' },
    envFile: '/tmp/secret/azure.env',
  });
  const image = args.indexOf('localhost/hsm-operator:test');
  const flags = args.slice(0, image);
  const command = args.slice(image + 1);
  const pairs = (flag: string) => flags.flatMap((f, i) => (f === flag ? [flags[i + 1]] : []));

  it("carries the pod's security settings: user, read-only root without podman's own tmpfs, no capabilities, no privilege escalation", () => {
    expect(pairs('--user')).toEqual(['65532:65532']);
    expect(flags).toEqual(expect.arrayContaining(['--read-only', '--read-only-tmpfs=false', '--cap-drop=all']));
    expect(pairs('--security-opt')).toEqual(['no-new-privileges']);
    expect(pairs('--memory')).toEqual(['384m']);
    expect(pairs('--tmpfs')).toEqual(['/tmp:rw,mode=1777,size=64m']);
  });

  it('mounts the ServiceAccount where a pod has it and points the in-cluster client at the API server', () => {
    expect(pairs('--volume')).toEqual([`/tmp/sa:${SERVICE_ACCOUNT_DIR}:ro`, '/tmp/ca:/etc/hsm-operator/azure-ca:ro']);
    expect(pairs('--env')).toEqual(
      expect.arrayContaining(['POD_NAMESPACE=hsm-operator-system', 'POD_NAME=hsm-operator-a', 'HOME=/tmp', 'EXTRA=1', 'KUBERNETES_SERVICE_HOST=127.0.0.1', 'KUBERNETES_SERVICE_PORT=6443']),
    );
    // Secrets only through the env file, never as a value on the command line.
    expect(pairs('--env-file')).toEqual(['/tmp/secret/azure.env']);
    expect(args.join(' ')).not.toMatch(/AZURE_CLIENT_SECRET/);
  });

  it("runs the Deployment's args with $(POD_NAMESPACE) expanded, the overridden flag replaced and the extra ones appended", () => {
    expect(command[0]).toBe('run');
    expect(command).toContain('--leader-election-namespace=hsm-operator-system');
    expect(command).toContain('--health-probe-bind-address=127.0.0.1:4001');
    expect(command.filter((a) => a.startsWith('--health-probe-bind-address'))).toHaveLength(1);
    expect(command).toContain('--metrics-secure');
    expect(command.at(-1)).toBe('--azure-disable-instance-discovery');
  });

  it('refuses what it cannot run rather than dropping it', () => {
    const withSecretVolume = structuredClone(deployment);
    withSecretVolume.spec.template.spec.volumes = [{ name: 'tmp' }];
    expect(() => podmanRunArgs({ deployment: withSecretVolume, image: 'i', name: 'n', namespace: 'ns', serviceAccountDir: '/sa', apiServer: { host: 'h', port: 1 } })).toThrow(/emptyDir/);
    const withSecretEnv = structuredClone(deployment);
    withSecretEnv.spec.template.spec.containers[0]!.env = [{ name: 'X', valueFrom: {} }];
    expect(() => podmanRunArgs({ deployment: withSecretEnv, image: 'i', name: 'n', namespace: 'ns', serviceAccountDir: '/sa', apiServer: { host: 'h', port: 1 } })).toThrow(/env X/);
  });

  it('expands $(VAR) as Kubernetes does and converts quantities', () => {
    expect(expand('--ns=$(POD_NAMESPACE)', { POD_NAMESPACE: 'a' })).toBe('--ns=a');
    expect(expand('$(UNKNOWN) $$(POD_NAMESPACE)', { POD_NAMESPACE: 'a' })).toBe('$(UNKNOWN) $(POD_NAMESPACE)');
    expect(podmanQuantity('64Mi')).toBe('64m');
    expect(podmanQuantity('1Gi')).toBe('1g');
    expect(() => podmanQuantity('0.5Gi')).toThrow();
  });
});
