import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CoreTypes, KubeClient, Manager, RuntimeMetrics, installSignalHandlers, silentLogger } from '../../../src/runtime/index.js';
import { waitFor } from '../../support/wait.js';
import { FakeApi } from './fake-api.js';

function newManager(api: FakeApi, extra: Partial<ConstructorParameters<typeof Manager>[0]> = {}) {
  return new Manager({
    client: new KubeClient(api),
    metricsBindAddress: '127.0.0.1:0',
    healthProbeBindAddress: '127.0.0.1:0',
    metrics: new RuntimeMetrics(),
    log: silentLogger,
    ...extra,
  });
}

describe('Manager', () => {
  it('serves /readyz failing until every cache synced, and /healthz, /metrics on ephemeral ports', async () => {
    const api = new FakeApi();
    api.down = new Error('ECONNREFUSED');
    const m = newManager(api);
    m.informer(CoreTypes.configMaps);
    const started = m.start();
    await waitFor('servers listening', () => m.healthUrl !== undefined && m.metricsUrl !== undefined, 5_000, 20);
    const notReady = await fetch(`${m.healthUrl}/readyz`);
    expect(notReady.status).toBe(500);
    expect(await notReady.text()).toContain('[-]cache:configmaps failed: not synced');
    expect((await fetch(`${m.healthUrl}/healthz`)).status).toBe(200);
    api.down = undefined;
    await started;
    const ready = await fetch(`${m.healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${m.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('hsm_operator_cache_staleness_seconds{resource="configmaps"}');
    expect(metrics).toMatch(/hsm_operator_watch_restarts_total\{resource="configmaps",reason="error"\} [1-9]/);
    await m.stop(1_000);
    await expect(fetch(`${m.healthUrl}/healthz`)).rejects.toThrow();
  });

  it('on a stop signal (SIGUSR2 here, so the test runner keeps its own SIGTERM) drains the in-flight reconcile, then exits 0', async () => {
    const api = new FakeApi();
    api.put('/api/v1/namespaces/ns/configmaps', { metadata: { name: 'slow', namespace: 'ns' } });
    const m = newManager(api, { metricsBindAddress: '0', healthProbeBindAddress: '0' });
    const cms = m.informer(CoreTypes.configMaps);
    let finished = false;
    let inFlight = false;
    m.addController({
      name: 'slow',
      for: cms,
      reconciler: async () => {
        inFlight = true;
        await sleep(300);
        finished = true;
      },
    });
    await m.start();
    await waitFor('the reconcile is in flight', () => inFlight, 5_000, 20);
    const exits: number[] = [];
    const uninstall = installSignalHandlers(m, { deadlineMs: 5_000, exit: (c) => exits.push(c), signals: ['SIGUSR2'] });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await waitFor('exit', () => exits.length > 0, 5_000, 20);
      expect(exits).toEqual([0]);
      expect(finished).toBe(true); // drained before exiting
      expect(m.reconciling).toBe(false);
    } finally {
      uninstall();
    }
  });
});
