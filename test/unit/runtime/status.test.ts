import { describe, expect, it } from 'vitest';
import {
  KubeClient,
  StatusWriter,
  addFinalizer,
  conditionsEqual,
  getCondition,
  mergePatchBetween,
  removeFinalizer,
  setCondition,
  statusEqual,
  type Condition,
  type KubeObject,
  type ResourceType,
} from '../../../src/runtime/index.js';
import { FakeApi } from './fake-api.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const WIDGETS: ResourceType = { group: 'test.dedicatedhsm.io', version: 'v1', plural: 'widgets', namespaced: true, kind: 'Widget' };
const COLL = '/apis/test.dedicatedhsm.io/v1/namespaces/ns/widgets';

interface Widget extends KubeObject {
  status?: { phase?: string; conditions?: Condition[]; observedGeneration?: number };
}

describe('conditions', () => {
  it('keeps lastTransitionTime while the status stays, moves it when the status changes', () => {
    let list = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Provisioning', message: 'PUT sent' }, 1, T0);
    expect(getCondition(list, 'Ready')?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    list = setCondition(list, { type: 'Ready', status: 'False', reason: 'WaitingForGateway', message: 'gateway Updating' }, 2, T0 + 60_000);
    const same = getCondition(list, 'Ready');
    expect(same?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    expect(same?.reason).toBe('WaitingForGateway');
    expect(same?.observedGeneration).toBe(2);
    list = setCondition(list, { type: 'Ready', status: 'True', reason: 'Provisioned' }, 2, T0 + 120_000);
    expect(getCondition(list, 'Ready')?.lastTransitionTime).toBe('2025-01-01T00:02:00Z');
  });

  it('appends new types, updates in place, and compares ignoring lastTransitionTime', () => {
    const a = setCondition(setCondition([], { type: 'A', status: 'True', reason: 'R' }, 1, T0), { type: 'B', status: 'False', reason: 'R' }, 1, T0);
    const b = setCondition(setCondition([], { type: 'B', status: 'False', reason: 'R' }, 1, T0 + 5000), { type: 'A', status: 'True', reason: 'R' }, 1, T0 + 5000);
    expect(a.map((c) => c.type)).toEqual(['A', 'B']);
    expect(conditionsEqual(a, b)).toBe(true);
    expect(conditionsEqual(a, setCondition(a, { type: 'A', status: 'True', reason: 'Other' }, 1, T0))).toBe(false);
  });

  it('scrubs credentials out of messages', () => {
    const list = setCondition([], { type: 'Ready', status: 'False', reason: 'AuthFailed', message: 'login with Bearer abcdefghijklmnop1234 failed' }, 1, T0);
    expect(getCondition(list, 'Ready')?.message).not.toContain('abcdefghijklmnop1234');
  });
});

describe('status equality', () => {
  it('ignores lastTransitionTime churn and key order, not real changes', () => {
    const c = (t: string) => [{ type: 'Ready', status: 'True', reason: 'Ok', message: '', lastTransitionTime: t }];
    expect(statusEqual({ phase: 'x', conditions: c('2025-01-01T00:00:00Z') }, { conditions: c('2026-01-01T00:00:00Z'), phase: 'x' })).toBe(true);
    expect(statusEqual({ phase: 'x' }, { phase: 'y' })).toBe(false);
    expect(statusEqual({ phase: 'x', extra: undefined }, { phase: 'x' })).toBe(true);
  });

  it('builds merge patches that null removed keys', () => {
    expect(mergePatchBetween({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 2 }, e: [1] })).toEqual({ b: { d: null }, e: [1] });
  });
});

function widgetWorld() {
  const api = new FakeApi();
  const client = new KubeClient(api);
  const w = api.put(COLL, { metadata: { name: 'w', namespace: 'ns', generation: 3 }, spec: { size: 1 } }) as Widget;
  return { api, client, w };
}

describe('StatusWriter', () => {
  it('writes /status only when the status changed, and sets observedGeneration', async () => {
    const { api, client, w } = widgetWorld();
    const writer = new StatusWriter(client);
    const mutate = (s: NonNullable<Widget['status']>) => {
      s.phase = 'Ready';
      s.conditions = setCondition(s.conditions, { type: 'Ready', status: 'True', reason: 'Ok' }, 3, Date.now());
    };
    const first = await writer.update<Widget>(WIDGETS, w, mutate);
    expect(first.written).toBe(true);
    expect(first.object.status?.observedGeneration).toBe(3);
    // Again from the same (now stale) cached object: the writer knows its own write, so no request at all.
    const before = api.requests.length;
    const again = await writer.update<Widget>(WIDGETS, w, mutate);
    expect(again.written).toBe(false);
    // And from the fresh object, with a later clock: lastTransitionTime is kept, nothing to write.
    const third = await writer.update<Widget>(WIDGETS, first.object, mutate);
    expect(third.written).toBe(false);
    expect(api.requests.length).toBe(before);
    expect(api.count('PUT', '/status')).toBe(1);
  });

  it('re-reads and re-applies the mutator on a conflict', async () => {
    const { api, client, w } = widgetWorld();
    api.put(COLL, { ...(w as { metadata: { name: string } }), status: { phase: 'SetByOther' } }); // w is now stale
    const writer = new StatusWriter(client);
    const seenPhases: (string | undefined)[] = [];
    const res = await writer.update<Widget>(WIDGETS, w, (s) => {
      seenPhases.push(s.phase);
      s.conditions = setCondition(s.conditions, { type: 'Ready', status: 'False', reason: 'Waiting' }, 3, T0);
    });
    expect(res.written).toBe(true);
    expect(seenPhases).toEqual([undefined, 'SetByOther']);
    expect(res.object.status?.phase).toBe('SetByOther'); // the other writer's field survived
    expect(api.count('PUT', '/status')).toBe(2);
  });

  it('can write with a merge patch carrying the resourceVersion', async () => {
    const { api, client, w } = widgetWorld();
    const writer = new StatusWriter(client);
    const res = await writer.update<Widget>(WIDGETS, w, (s) => ({ ...s, phase: 'Pending' }), { strategy: 'merge' });
    expect(res.written).toBe(true);
    expect(api.requests.at(-1)?.body).toMatchObject({ metadata: { resourceVersion: w.metadata?.resourceVersion }, status: { phase: 'Pending', observedGeneration: 3 } });
  });
});

describe('finalizers', () => {
  it('adds and removes finalizers idempotently, with preconditions', async () => {
    const { api, client, w } = widgetWorld();
    const added = await addFinalizer(client, WIDGETS, w, 'dedicatedhsm.io/finalizer');
    expect(added?.metadata?.finalizers).toEqual(['dedicatedhsm.io/finalizer']);
    const patches = api.count('PATCH');
    expect(await addFinalizer(client, WIDGETS, added as Widget, 'dedicatedhsm.io/finalizer')).toBe(added);
    expect(api.count('PATCH')).toBe(patches); // already there: no request
    // Someone else adds a finalizer meanwhile; our stale view fails the test op, we re-read and keep theirs.
    api.put(COLL, { ...(added as { metadata: { name: string } }), metadata: { ...(added as { metadata: { name: string } }).metadata, finalizers: ['other/first', 'dedicatedhsm.io/finalizer'] } });
    const removed = await removeFinalizer(client, WIDGETS, added as Widget, 'dedicatedhsm.io/finalizer');
    expect(removed?.metadata?.finalizers).toEqual(['other/first']);
  });
});
