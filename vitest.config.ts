import { defineConfig } from 'vitest/config';

// Three projects: unit tests run without I/O beyond loopback simulators; integration tests share one real
// control plane (etcd + kube-apiserver) started by the global setup and isolate themselves by namespace; the
// conformance tier (`npm run test:conformance`, not part of `npm test`) runs our clients against real peers that need
// system packages and root (OpenSSH sshd and scp).
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
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
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own sshd; one at a time keeps their logs and the shared account apart.
          fileParallelism: false,
        },
      },
    ],
  },
});
