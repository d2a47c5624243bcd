import { describe, expect, it } from 'vitest';
import { EventRecorder, FakeClock, KubeClient, RuntimeMetrics, type EventObject, type KubeObject } from '../../../src/runtime/index.js';
import { FakeApi } from './fake-api.js';

const EVENTS = '/apis/events.k8s.io/v1/namespaces/ns/events';
const hsm: KubeObject = { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'DedicatedHsm', metadata: { name: 'hsm-1', namespace: 'ns', uid: 'u-1', resourceVersion: '7' } };

function setup() {
  const api = new FakeApi();
  const clock = new FakeClock();
  const metrics = new RuntimeMetrics();
  const recorder = new EventRecorder({ client: new KubeClient(api), instance: 'pod-a', clock, metrics, seriesWindowMs: 600_000, seriesFlushMs: 30_000 });
  const events = () => [...(api.collections.get(EVENTS)?.values() ?? [])] as unknown as EventObject[];
  return { api, clock, recorder, events, metrics };
}

describe('EventRecorder', () => {
  it('writes an events.k8s.io/v1 Event about the object', async () => {
    const t = setup();
    t.recorder.warning(hsm, 'GatewayNotReady', 'gateway is Updating; waiting');
    await t.recorder.flush();
    const [e] = t.events();
    expect(e).toMatchObject({
      reportingController: 'dedicatedhsm.io/hsm-operator',
      reportingInstance: 'pod-a',
      type: 'Warning',
      reason: 'GatewayNotReady',
      note: 'gateway is Updating; waiting',
      action: 'Reconcile',
      regarding: { kind: 'DedicatedHsm', name: 'hsm-1', namespace: 'ns', uid: 'u-1' },
    });
    expect(e?.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('aggregates repeats within the window into series.count of one Event, written at most every flush period', async () => {
    const t = setup();
    for (let i = 0; i < 50; i++) {
      t.recorder.warning(hsm, 'GatewayNotReady', 'gateway is Updating; waiting');
      t.clock.advance(1_000);
      await new Promise((r) => setImmediate(r));
    }
    await t.recorder.flush();
    const all = t.events();
    expect(all).toHaveLength(1);
    expect(all[0]?.series?.count).toBe(50);
    expect(all[0]?.series?.lastObservedTime).toMatch(/Z$/);
    expect(t.api.count('POST')).toBe(1);
    // 49 repeats over 49 s with a 30 s flush period: one timed patch plus the final flush.
    expect(t.api.count('PATCH')).toBe(2);
  });

  it('starts a new Event for a different message, and after the window', async () => {
    const t = setup();
    t.recorder.warning(hsm, 'GatewayNotReady', 'waiting 10s');
    t.recorder.warning(hsm, 'GatewayNotReady', 'waiting 20s');
    t.clock.advance(601_000);
    t.recorder.warning(hsm, 'GatewayNotReady', 'waiting 10s');
    await t.recorder.flush();
    expect(t.events()).toHaveLength(3);
    expect(t.events().every((e) => e.series === undefined)).toBe(true);
  });

  it('rate-limits new Events per object so a retry loop cannot flood the API', async () => {
    const t = setup();
    for (let i = 0; i < 200; i++) t.recorder.warning(hsm, 'Failed', `attempt ${i} failed`);
    t.recorder.normal({ ...hsm, metadata: { ...hsm.metadata, name: 'hsm-2', uid: 'u-2' } }, 'Created', 'created');
    await t.recorder.flush();
    const forHsm1 = t.events().filter((e) => e.regarding.name === 'hsm-1');
    expect(forHsm1).toHaveLength(25);
    expect(t.events().filter((e) => e.regarding.name === 'hsm-2')).toHaveLength(1); // other objects unaffected
    expect(await t.metrics.value('hsm_operator_events_dropped_total', { reason: 'rate_limited' })).toBe(175);
    t.clock.advance(5 * 60_000); // one token back
    t.recorder.warning(hsm, 'Failed', 'later');
    await t.recorder.flush();
    expect(t.events().filter((e) => e.regarding.name === 'hsm-1')).toHaveLength(26);
  });

  it('never puts a credential into an Event', async () => {
    const t = setup();
    t.recorder.warning(hsm, 'LoginFailed', 'ssh said: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY----- and Bearer eyJhbGciOi.eyJzdWIiOiJ4In0.c2lnbmF0dXJl');
    await t.recorder.flush();
    const note = t.events()[0]?.note ?? '';
    expect(note).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    expect(note).not.toContain('eyJzdWIiOiJ4In0');
  });

  it('does not throw when the API refuses, and counts the loss', async () => {
    const t = setup();
    t.api.down = new Error('ECONNREFUSED');
    expect(() => t.recorder.warning(hsm, 'X', 'y')).not.toThrow();
    await t.recorder.flush();
    expect(await t.metrics.value('hsm_operator_events_dropped_total', { reason: 'api_error' })).toBe(1);
  });
});
