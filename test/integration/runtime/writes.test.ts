/**
 * The runtime's writes against the real apiserver, on a throwaway CRD with a status subresource: status only
 * when it changed (counted at the transport), finalizers and trigger annotations with JSON-patch
 * preconditions, and Event series aggregation accepted by events.k8s.io/v1 validation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, CustomObjectsApi, type V1JSONSchemaProps } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { installCrds } from '../../support/crds.js';
import { waitFor } from '../../support/wait.js';
import {
  KubeClient,
  KubeConfigTransport,
  Manager,
  RuntimeMetrics,
  addFinalizer,
  getCondition,
  removeFinalizer,
  setCondition,
  silentLogger,
  type ApiRequest,
  type ApiResponse,
  type Condition,
  type EventObject,
  type KubeObject,
  type ResourceType,
  type StreamRequest,
  type Transport,
} from '../../../src/runtime/index.js';

const group = 'runtime-test.dedicatedhsm.io';
const GADGETS: ResourceType = { group, version: 'v1', plural: 'gadgets', namespaced: true, kind: 'Gadget' };

interface Gadget extends KubeObject {
  spec?: { size?: number };
  status?: { phase?: string; observedGeneration?: number; conditions?: Condition[] };
}

/** Wraps the real transport and records every request the runtime makes. */
class CountingTransport implements Transport {
  readonly log: { verb: string; path: string }[] = [];
  constructor(private readonly inner: Transport) {}
  request(req: ApiRequest): Promise<ApiResponse> {
    this.log.push({ verb: req.verb, path: req.path });
    return this.inner.request(req);
  }
  stream(req: StreamRequest): Promise<void> {
    return this.inner.stream(req);
  }
  count(verb: string, suffix: string): number {
    return this.log.filter((r) => r.verb === verb && r.path.endsWith(suffix)).length;
  }
}

// installCrds sends CRDs as written, so the vendor extension keeps its wire name (the typed model lacks it).
const openObject = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as V1JSONSchemaProps;

describe('runtime writes (real apiserver)', () => {
  let ns: string;
  const custom = () => adminConfig().makeApiClient(CustomObjectsApi);
  const create = (name: string, extra: Partial<Gadget> = {}) =>
    custom().createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'gadgets', body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name }, spec: { size: 1 }, ...extra } }) as Promise<Gadget>;

  beforeAll(async () => {
    ns = await createNamespace('rt-writes');
    await installCrds(readFileSync(inject('controlPlane').kubeconfigPath, 'utf8'), [
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `gadgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: { openAPIV3Schema: { type: 'object', properties: { spec: openObject, status: openObject } } },
            },
          ],
        },
      },
    ]);
  });

  afterAll(async () => {
    await adminConfig().makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: `gadgets.${group}` });
  });

  it('a reconcile that writes the same status twice makes one API write, and later reconciles none', async () => {
    const transport = new CountingTransport(new KubeConfigTransport(adminConfig()));
    const manager = new Manager({
      client: new KubeClient(transport),
      namespaces: [ns],
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      metrics: new RuntimeMetrics(),
      log: silentLogger,
    });
    const gadgets = manager.informer<Gadget>(GADGETS);
    let reconciles = 0;
    const results: boolean[] = [];
    manager.addController({
      name: 'gadget',
      for: gadgets,
      reconciler: async (key) => {
        reconciles++;
        const obj = gadgets.get(key);
        if (!obj) return;
        for (let i = 0; i < 2; i++) {
          const { written } = await manager.status.update(GADGETS, obj, (s, o) => {
            s.phase = 'Ready';
            s.conditions = setCondition(s.conditions, { type: 'Ready', status: 'True', reason: 'Reconciled', message: `size ${o.spec?.size}` }, o.metadata?.generation, Date.now());
          });
          results.push(written);
        }
      },
    });
    await manager.start();
    try {
      await create('g1');
      await waitFor('the status is written', () => gadgets.get(`${ns}/g1`)?.status?.phase === 'Ready', 20_000).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; cached: ${JSON.stringify(gadgets.get(`${ns}/g1`))}; requests: ${JSON.stringify(transport.log)}; results: ${JSON.stringify(results)}`);
      });
      // The status write itself is a change the controller sees; let those reconciles run too.
      await waitFor('the status update was reconciled', () => reconciles >= 2, 20_000);
      await sleep(1_000);
      expect(transport.count('PUT', '/g1/status')).toBe(1);
      expect(results.filter(Boolean)).toHaveLength(1);
      const stored = gadgets.get(`${ns}/g1`);
      expect(stored?.status?.observedGeneration).toBe(1);
      const since = getCondition(stored?.status?.conditions, 'Ready')?.lastTransitionTime;

      // A spec change (new generation) is a real status change: one more write, lastTransitionTime kept.
      await custom().patchNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'gadgets', name: 'g1', body: [{ op: 'replace', path: '/spec/size', value: 2 }] });
      await waitFor('the new generation is observed', () => gadgets.get(`${ns}/g1`)?.status?.observedGeneration === 2, 20_000);
      await sleep(1_000);
      expect(transport.count('PUT', '/g1/status')).toBe(2);
      expect(getCondition(gadgets.get(`${ns}/g1`)?.status?.conditions, 'Ready')?.lastTransitionTime).toBe(since);
    } finally {
      await manager.stop(2_000);
    }
  });

  it('adds and removes finalizers with preconditions the real server enforces', async () => {
    const client = new KubeClient(new KubeConfigTransport(adminConfig()));
    const g = await create('g2', { metadata: { name: 'g2' } });
    const withFinalizer = await addFinalizer(client, GADGETS, g, 'dedicatedhsm.io/finalizer');
    expect(withFinalizer?.metadata?.finalizers).toEqual(['dedicatedhsm.io/finalizer']);
    // A stale copy (no finalizers, old resourceVersion): the precondition fails, the helper re-reads, no duplicate.
    const again = await addFinalizer(client, GADGETS, g, 'dedicatedhsm.io/finalizer');
    expect(again?.metadata?.finalizers).toEqual(['dedicatedhsm.io/finalizer']);
    // Another controller adds its own finalizer first; removing ours from a stale view keeps theirs.
    await custom().patchNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'gadgets', name: 'g2', body: [{ op: 'add', path: '/metadata/finalizers/0', value: 'other.io/keep' }] });
    const removed = await removeFinalizer(client, GADGETS, withFinalizer as Gadget, 'dedicatedhsm.io/finalizer');
    expect(removed?.metadata?.finalizers).toEqual(['other.io/keep']);
  });

  it('aggregates repeated Events into one events.k8s.io/v1 series the server accepts', async () => {
    const metrics = new RuntimeMetrics();
    const manager = new Manager({ kubeConfig: adminConfig(), metricsBindAddress: '0', healthProbeBindAddress: '0', metrics, log: silentLogger, instance: 'test-pod' });
    const g = await create('g3');
    for (let i = 0; i < 5; i++) manager.events.warning(g, 'GatewayNotReady', 'gateway is Updating; waiting');
    manager.events.normal(g, 'Provisioned', 'HSM provisioned');
    await manager.events.flush();
    const list = await new KubeClient(new KubeConfigTransport(adminConfig())).list<EventObject>({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true }, { namespace: ns });
    const items = list.items.filter((e) => e.regarding.name === 'g3');
    const warning = items.filter((e) => e.reason === 'GatewayNotReady');
    expect(warning).toHaveLength(1);
    expect(warning[0]?.series?.count).toBe(5);
    expect(warning[0]).toMatchObject({ reportingController: 'dedicatedhsm.io/hsm-operator', reportingInstance: 'test-pod', type: 'Warning', regarding: { kind: 'Gadget', name: 'g3', uid: g.metadata?.uid } });
    expect(items.filter((e) => e.reason === 'Provisioned')).toHaveLength(1);
    expect(await metrics.value('hsm_operator_events_dropped_total')).toBe(0);
    await manager.stop(1_000);
  });
});
