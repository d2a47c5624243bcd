/**
 * The watch cache against a real kube-apiserver that is restarted, compacted and stalled. A private control
 * plane (not the shared one) because these tests stop the apiserver and compact etcd. ConfigMaps are the
 * watched type; a TCP proxy between cache and apiserver makes connections stall or freeze on demand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ControlPlane } from '../../support/controlplane.js';
import { waitFor } from '../../support/wait.js';
import { CoreTypes, Informer, KubeClient, RuntimeMetrics, type KubeObject } from '../../../src/runtime/index.js';
import { StallingProxy } from './tcp-proxy.js';

type ConfigMap = KubeObject & { data?: Record<string, string> };

function kubeConfig(cp: ControlPlane, server = cp.server): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, caData: Buffer.from(cp.caPem()).toString('base64') }],
    users: [{ name: 'admin', token: cp.users.adminToken }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'admin' }],
    currentContext: 'ctx',
  });
  return kc;
}

/** Records what handlers saw, per object name. */
function recorder(informer: Informer<ConfigMap>) {
  const log: string[] = [];
  informer.addHandlers({
    onAdd: (o) => log.push(`add ${o.metadata?.name}=${o.data?.v}`),
    onUpdate: (_old, o) => log.push(`update ${o.metadata?.name}=${o.data?.v}`),
    onDelete: (o) => log.push(`delete ${o.metadata?.name}`),
  });
  return log;
}

const snapshot = (informer: Informer<ConfigMap>): Record<string, string> =>
  Object.fromEntries(
    informer
      .list()
      .map((o): [string, string] => [o.metadata?.name ?? '', o.data?.v ?? ''])
      .sort((x, y) => x[0].localeCompare(y[0])),
  );

describe('watch cache resilience (private control plane)', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let proxy: StallingProxy;
  const ns = 'watch-resilience';

  beforeAll(async () => {
    cp = await ControlPlane.start();
    core = kubeConfig(cp).makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    proxy = await StallingProxy.start(cp.apiPort);
  });

  afterAll(async () => {
    await proxy?.close();
    await cp?.stop();
  });

  const put = async (name: string, v: string) => {
    try {
      await core.replaceNamespacedConfigMap({ namespace: ns, name, body: { metadata: { name }, data: { v } } });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { v } } });
    }
  };
  const del = (name: string) => core.deleteNamespacedConfigMap({ namespace: ns, name });

  it('misses nothing across an apiserver restart and an etcd compaction (410 Gone)', async () => {
    const metrics = new RuntimeMetrics();
    const informer = new Informer<ConfigMap>({
      client: KubeClient.fromKubeConfig(kubeConfig(cp, proxy.url), { metrics }),
      type: CoreTypes.configMaps,
      namespaces: [ns],
      idleTimeoutMs: 5_000,
      relistIntervalMs: 0, // only 410 may cause a relist here
      backoff: { initialMs: 200, maxMs: 2_000 },
      metrics,
    });
    const seen = recorder(informer);
    for (const n of ['a', 'b', 'c', 'd']) await put(n, '0');
    informer.start();
    try {
      await informer.waitForSync(30_000);
      expect(snapshot(informer)).toEqual({ a: '0', b: '0', c: '0', d: '0' });

      // 1. The apiserver goes away and comes back; changes are made right after it is back.
      await cp.stopApiServer();
      await waitFor('the cache notices the outage', async () => (await metrics.value('hsm_operator_watch_restarts_total', { reason: 'error' })) > 0, 30_000);
      await cp.startApiServer();
      for (let i = 1; i <= 5; i++) await put('a', String(i));
      await del('b');
      await put('e', '1');
      const afterRestart = { a: '5', c: '0', d: '0', e: '1' };
      await waitFor('the cache holds the final values after the restart', () => JSON.stringify(snapshot(informer)) === JSON.stringify(afterRestart), 60_000);
      expect(seen).toContain('update a=5');
      expect(seen).toContain('delete b');
      expect(seen).toContain('add e=1');

      // 2. The cache is cut off (connections freeze); meanwhile objects change, etcd is compacted past the
      //    cache's resourceVersion and the apiserver restarts, so its watch cache cannot replay the gap either.
      proxy.freeze();
      const relistsBefore = await metrics.value('hsm_operator_watch_relists_total', { reason: 'gone' });
      for (let i = 1; i <= 3; i++) await put('c', String(i));
      await del('d');
      await del('a');
      await put('f', '1');
      await put('e', '2');
      await del('e');
      await cp.compact();
      await cp.restartApiServer();
      proxy.thaw();
      const final = { c: '3', f: '1' };
      await waitFor('the cache holds the final values after the compaction', () => JSON.stringify(snapshot(informer)) === JSON.stringify(final), 60_000);
      expect(await metrics.value('hsm_operator_watch_relists_total', { reason: 'gone' })).toBeGreaterThan(relistsBefore);
      // The relist diff told the handlers about every object that changed while the cache was cut off.
      const tail = seen.slice(seen.lastIndexOf('add e=1') + 1);
      expect(tail).toEqual(expect.arrayContaining(['update c=3', 'delete d', 'delete a', 'add f=1', 'delete e']));
      expect(informer.unhealthyReason()).toBeUndefined();
    } finally {
      await informer.stop();
    }
  });

  it('restarts a watch that stalled without closing (idle timeout) and catches up', async () => {
    const metrics = new RuntimeMetrics();
    const informer = new Informer<ConfigMap>({
      client: KubeClient.fromKubeConfig(kubeConfig(cp, proxy.url), { metrics }),
      type: CoreTypes.configMaps,
      namespaces: [ns],
      idleTimeoutMs: 3_000,
      relistIntervalMs: 0,
      backoff: { initialMs: 200, maxMs: 2_000 },
      metrics,
    });
    informer.start();
    try {
      await informer.waitForSync(30_000);
      const idleBefore = await metrics.value('hsm_operator_watch_restarts_total', { reason: 'idle' });
      const listsBefore = await metrics.value('hsm_operator_watch_relists_total');
      proxy.stallExisting(); // the open watch goes silent; the TCP connection stays up
      await put('stalled', 'seen');
      await waitFor('the stalled watch is restarted and delivers the change', () => informer.get(`${ns}/stalled`)?.data?.v === 'seen', 30_000);
      expect(await metrics.value('hsm_operator_watch_restarts_total', { reason: 'idle' })).toBeGreaterThan(idleBefore);
      // It caught up by watching again from its resourceVersion, not by relisting.
      expect(await metrics.value('hsm_operator_watch_relists_total')).toBe(listsBefore);
    } finally {
      await informer.stop();
    }
  });
});
