import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CoreTypes, KubeClient, Manager, RuntimeMetrics, installSignalHandlers, silentLogger } from '../../../src/runtime/index.js';
import { FakeApi } from './fake-api.js';

async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

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
    await until('servers listening', 5_000, () => m.healthUrl !== undefined && m.metricsUrl !== undefined);
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
    await until('the reconcile is in flight', 5_000, () => inFlight);
    const exits: number[] = [];
    const uninstall = installSignalHandlers(m, { deadlineMs: 5_000, exit: (c) => exits.push(c), signals: ['SIGUSR2'] });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await until('exit', 5_000, () => exits.length > 0);
      expect(exits).toEqual([0]);
      expect(finished).toBe(true); // drained before exiting
      expect(m.reconciling).toBe(false);
    } finally {
      uninstall();
    }
  });
});
