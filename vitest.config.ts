import { defineConfig } from 'vitest/config';

// Two projects: unit tests run without I/O beyond loopback simulators; integration tests share one real
// control plane (etcd + kube-apiserver) started by the global setup and isolate themselves by namespace.
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
    ],
  },
});
