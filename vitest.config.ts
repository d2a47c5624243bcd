import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectConfiguration } from 'vitest/config';

// The versions tier (`npm run test:versions`, not part of `npm test`): one project per Kubernetes release pinned under
// test/controlplane/versions/ (versions-v1.34, versions-v1.37, ...), each with its own real control plane started once
// by test/support/versions-setup.ts; the projects run one after the other, oldest first.
const versionsDir = fileURLToPath(new URL('test/controlplane/versions', import.meta.url));
const versionProjects: TestProjectConfiguration[] = (existsSync(versionsDir) ? readdirSync(versionsDir) : [])
  .filter((n) => /^v\d+\.\d+$/.test(n))
  .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
  .map((release, i) => ({
    test: {
      name: `versions-${release}`,
      include: ['test/versions/**/*.test.ts'],
      globalSetup: ['test/support/versions-setup.ts'],
      testTimeout: 120_000,
      hookTimeout: 900_000,
      fileParallelism: false,
      sequence: { groupOrder: i + 1 },
    },
  }));

// Four projects: unit tests run without I/O beyond loopback simulators; integration tests share one real
// control plane (etcd + kube-apiserver) started by the global setup and isolate themselves by namespace; two tiers
// outside `npm test` need system packages and root: conformance (`npm run test:conformance`) runs our clients
// against real peers (OpenSSH sshd and scp), image (`npm run test:image`) builds the Dockerfile with buildah and runs
// the image with podman against the real control plane.
export default defineConfig({
  test: {
    reporters: ['default'],
    // Integration files spend their time waiting on the operator's timers, not on the CPU: four at a time fit two
    // cores (each isolates itself by namespace on the shared control plane).
    maxWorkers: 4,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
          // Unit files share one module graph (no per-file re-import of the SDKs): they keep no global state.
          isolate: false,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/reliability/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 900_000,
          maxConcurrency: 4,
        },
      },
      {
        test: {
          // `npm run test:image`: the Dockerfile built with buildah on a local Debian + Node base, the image run with
          // podman against the integration tier's real control plane (its global setup, reused).
          name: 'image',
          include: ['test/image/**/*.test.ts'],
          globalSetup: ['test/image/support/global-setup.ts', 'test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own sshd; one at a time keeps their logs and the shared account apart.
          fileParallelism: false,
        },
      },
      ...versionProjects,
    ],
  },
});
