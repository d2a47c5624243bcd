import { describe, expect, it } from 'vitest';
import {
  Controller,
  FakeClock,
  RetryableError,
  RuntimeMetrics,
  TerminalError,
  defaultControllerRateLimiter,
  watchOf,
  type EventHandlers,
  type EventSource,
  type KubeObject,
  type ReconcileOutcome,
} from '../../../src/runtime/index.js';

const settle = async (rounds = 5) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

/** A hand-driven event source standing in for an informer. */
class Source<T extends KubeObject> implements EventSource<T> {
  private readonly hs = new Set<EventHandlers<T>>();
  addHandlers(h: EventHandlers<T>) {
    this.hs.add(h);
    return () => this.hs.delete(h);
  }
  add(obj: T) {
    for (const h of this.hs) h.onAdd?.(obj);
  }
  update(old: T, obj: T) {
    for (const h of this.hs) h.onUpdate?.(old, obj);
  }
}

const obj = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({ metadata: { namespace: 'ns', name, resourceVersion: '1', ...extra } });

function setup(reconcile: (key: string, attempt: number) => Promise<ReconcileOutcome>, concurrency = 1) {
  const clock = new FakeClock();
  const metrics = new RuntimeMetrics();
  const primary = new Source<KubeObject>();
  const other = new Source<KubeObject>();
  const calls: string[] = [];
  const controller = new Controller({
    name: 'things',
    for: primary,
    watches: [watchOf(other, (o) => (o.metadata?.annotations?.owners ?? '').split(',').filter(Boolean))],
    reconciler: async (key, ctx) => {
      calls.push(key);
      return reconcile(key, ctx.attempt);
    },
    concurrency,
    clock,
    metrics,
    rateLimiter: () => defaultControllerRateLimiter(clock, { random: () => 0 }),
  });
  return { clock, metrics, primary, other, calls, controller };
}

describe('Controller', () => {
  it('reconciles added objects and maps watched objects to the keys they affect', async () => {
    const t = setup(async () => undefined);
    t.controller.start();
    t.primary.add(obj('a'));
    t.other.add({ metadata: { name: 'hsm-1', annotations: { owners: 'ns/b,ns/c' } } });
    await settle();
    expect(t.calls.sort()).toEqual(['ns/a', 'ns/b', 'ns/c']);
    expect(await t.metrics.value('controller_runtime_reconcile_total', { controller: 'things', result: 'success' })).toBe(3);
    await t.controller.stop(1000);
  });

  it('ignores events while stopped (not the leader)', async () => {
    const t = setup(async () => undefined);
    t.primary.add(obj('early'));
    await settle();
    expect(t.calls).toEqual([]);
    t.controller.start();
    t.primary.add(obj('later'));
    await settle();
    expect(t.calls).toEqual(['ns/later']);
    await t.controller.stop(1000);
  });

  it('retries a failing key with growing backoff and counts errors', async () => {
    let fail = 3;
    const t = setup(async () => {
      if (fail-- > 0) throw new Error('boom');
    });
    t.controller.start();
    t.primary.add(obj('a'));
    await settle();
    expect(t.calls.length).toBe(1);
    t.clock.advance(4);
    await settle();
    expect(t.calls.length).toBe(1); // first retry after 5 ms
    t.clock.advance(1);
    await settle();
    expect(t.calls.length).toBe(2);
    t.clock.advance(9);
    await settle();
    expect(t.calls.length).toBe(2); // second retry after 10 ms
    t.clock.advance(1);
    await settle();
    expect(t.calls.length).toBe(3);
    t.clock.advance(20);
    await settle();
    expect(t.calls.length).toBe(4);
    t.clock.advance(10_000);
    await settle();
    expect(t.calls.length).toBe(4); // succeeded: no more retries
    expect(await t.metrics.value('controller_runtime_reconcile_errors_total', { controller: 'things' })).toBe(3);
    expect(await t.metrics.value('controller_runtime_reconcile_total', { controller: 'things', result: 'error' })).toBe(3);
    await t.controller.stop(1000);
  });

  it('honours requeueAfter and forgets the failure history', async () => {
    const t = setup(async () => ({ requeueAfter: 60_000 }));
    t.controller.start();
    t.primary.add(obj('a'));
    await settle();
    expect(t.calls.length).toBe(1);
    t.clock.advance(59_999);
    await settle();
    expect(t.calls.length).toBe(1);
    t.clock.advance(1);
    await settle();
    expect(t.calls.length).toBe(2);
    expect(await t.metrics.value('controller_runtime_reconcile_total', { result: 'requeue_after' })).toBe(2);
    await t.controller.stop(1000);
  });

  it('does not retry a TerminalError; RetryableError waits at least retryAfterMs', async () => {
    const t = setup(async (key) => {
      if (key === 'ns/terminal') throw new TerminalError('spec is wrong');
      throw new RetryableError('gateway not ready', { retryAfterMs: 30_000 });
    });
    t.controller.start();
    t.primary.add(obj('terminal'));
    t.primary.add(obj('retry'));
    await settle();
    t.clock.advance(29_999);
    await settle();
    expect(t.calls.filter((k) => k === 'ns/retry').length).toBe(1);
    t.clock.advance(1);
    await settle();
    expect(t.calls.filter((k) => k === 'ns/retry').length).toBe(2);
    t.clock.advance(10 * 60_000);
    await settle();
    expect(t.calls.filter((k) => k === 'ns/terminal').length).toBe(1);
    expect(await t.metrics.value('controller_runtime_terminal_reconcile_errors_total')).toBe(1);
    await t.controller.stop(0);
  });

  it('runs different keys concurrently but one key never twice at once', async () => {
    const release: Record<string, () => void> = {};
    let running = 0;
    let peak = 0;
    const perKey = new Map<string, number>();
    let perKeyPeak = 0;
    const t = setup(async (key) => {
      running++;
      peak = Math.max(peak, running);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      perKeyPeak = Math.max(perKeyPeak, perKey.get(key) ?? 0);
      await new Promise<void>((r) => (release[key] = r));
      perKey.set(key, (perKey.get(key) ?? 0) - 1);
      running--;
    }, 3);
    t.controller.start();
    t.primary.add(obj('a'));
    t.primary.add(obj('b'));
    await settle();
    t.primary.update(obj('a'), obj('a', { resourceVersion: '2' })); // a changes while being reconciled
    await settle();
    expect(peak).toBe(2);
    expect(t.calls.filter((k) => k === 'ns/a').length).toBe(1);
    release['ns/a']?.();
    await settle();
    expect(t.calls.filter((k) => k === 'ns/a').length).toBe(2); // ran again, after the first finished
    release['ns/a']?.();
    release['ns/b']?.();
    await settle();
    expect(perKeyPeak).toBe(1);
    await t.controller.stop(1000);
  });

  it('stop drains in-flight reconciles, then aborts them at the deadline', async () => {
    let seenSignal: AbortSignal | undefined;
    const t = setup(async () => {
      await new Promise(() => undefined); // never finishes on its own
    });
    const c = new Controller({
      name: 'slow',
      for: t.primary,
      clock: t.clock,
      reconciler: async (_key, ctx) => {
        seenSignal = ctx.signal;
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
      },
    });
    c.start();
    t.primary.add(obj('a'));
    await settle();
    let drained: boolean | undefined;
    void c.stop(5_000).then((d) => (drained = d));
    await settle();
    expect(seenSignal?.aborted).toBe(false);
    t.clock.advance(5_000);
    await settle();
    expect(drained).toBe(false);
    expect(seenSignal?.aborted).toBe(true);
  });
});
