import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  Controller,
  createLogger,
  isPanic,
  type Logger,
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

  it('counts throws a reconciler did not mean as panics, still retries them, and lets ordinary errors be', async () => {
    const thrown: unknown[] = [
      (() => {
        try {
          (undefined as unknown as { x: { y: number } }).x.y++;
        } catch (e) {
          return e;
        }
      })(),
      'a string',
      new RangeError('Invalid array length'),
      new Error('API said no'),
      new RetryableError('later'),
      new TerminalError('spec is wrong'),
    ];
    let i = 0;
    const t = setup(async () => {
      if (i < thrown.length) throw thrown[i++];
    });
    t.controller.start();
    t.primary.add(obj('a'));
    await settle();
    for (let n = 0; n < 10 && i < thrown.length; n++) {
      t.clock.advance(60_000);
      await settle();
    }
    expect(i).toBe(thrown.length);
    expect(await t.metrics.value('controller_runtime_reconcile_panics_total', { controller: 'things' })).toBe(3);
    expect(await t.metrics.value('controller_runtime_reconcile_errors_total', { controller: 'things' })).toBe(6);
    // A panic is retried with backoff: the key ran after each of the first three throws.
    expect(t.calls.length).toBe(6);
    await t.controller.stop(1000);
  });

  it('classifies a network TypeError (fetch failed around a system error) as no panic', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(isPanic(new TypeError('fetch failed', { cause }))).toBe(false);
    expect(isPanic(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(true);
    expect(isPanic(new ReferenceError('x is not defined'))).toBe(true);
    expect(isPanic({ message: 'not an Error' })).toBe(true);
    expect(isPanic(new Error('boom'))).toBe(false);
  });

  it('keeps its worker alive when something outside the reconciler throws, and counts it as a panic', async () => {
    const t = setup(async () => undefined);
    let children = 0;
    // A logger whose per-reconcile child fails once: the failure happens in the runtime, not the reconciler.
    const base = createLogger({ level: 'silent' });
    const flaky = {
      child(): Logger {
        const controllerLog = base.child({});
        const child = controllerLog.child.bind(controllerLog);
        controllerLog.child = ((bindings, options) => {
          if (children++ === 0) throw new Error('logger broke');
          return child(bindings, options);
        }) as typeof controllerLog.child;
        return controllerLog;
      },
    } as unknown as Logger;
    const calls: string[] = [];
    const c = new Controller({ name: 'sturdy', for: t.primary, clock: t.clock, metrics: t.metrics, log: flaky, reconciler: async (key) => void calls.push(key) });
    c.start();
    t.primary.add(obj('a'));
    await settle();
    expect(calls).toEqual([]);
    expect(await t.metrics.value('controller_runtime_reconcile_panics_total', { controller: 'sturdy' })).toBe(1);
    t.clock.advance(1_000);
    await settle();
    t.primary.add(obj('b'));
    await settle();
    expect(calls.sort()).toEqual(['ns/a', 'ns/b']);
    await c.stop(1000);
  });

  it('puts a fresh reconcileID, the namespace and the name on every line a reconcile logs', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const log = createLogger({ level: 'debug', destination });
    const clock = new FakeClock();
    const primary = new Source<KubeObject>();
    const ids: string[] = [];
    let failOnce = true;
    const c = new Controller({
      name: 'logged',
      for: primary,
      clock,
      log,
      rateLimiter: () => defaultControllerRateLimiter(clock, { random: () => 0 }),
      reconciler: async (key, ctx) => {
        ids.push(ctx.reconcileID);
        ctx.log.info({ step: 1 }, 'working');
        ctx.log.child({ hsm: 'x' }).info('deeper');
        if (key === 'ns/a' && failOnce) {
          failOnce = false;
          throw new Error('boom');
        }
      },
    });
    c.start();
    primary.add(obj('a'));
    primary.add({ metadata: { name: 'cluster-wide', resourceVersion: '1' } });
    await settle();
    clock.advance(1_000); // the retry of ns/a
    await settle();
    await c.stop(1000);

    expect(ids.length).toBe(3);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const reconcileLines = lines.filter((l) => l.reconcileID !== undefined || ['working', 'deeper', 'reconciled', 'reconcile failed; retrying'].includes(String(l.msg)));
    // Per reconcile: working, deeper, reconciled (debug); the failed one also warns.
    expect(reconcileLines.length).toBe(3 * 3 + 1);
    for (const l of reconcileLines) {
      expect(ids, JSON.stringify(l)).toContain(l.reconcileID);
      expect(l.controller).toBe('logged');
      expect(typeof l.namespace, JSON.stringify(l)).toBe('string');
      expect(typeof l.name, JSON.stringify(l)).toBe('string');
    }
    const byId = (id: string) => reconcileLines.filter((l) => l.reconcileID === id);
    expect(byId(ids[0]!).map((l) => [l.namespace, l.name, l.msg])).toEqual([
      ['ns', 'a', 'working'],
      ['ns', 'a', 'deeper'],
      ['ns', 'a', 'reconcile failed; retrying'],
      ['ns', 'a', 'reconciled'],
    ]);
    const cluster = reconcileLines.filter((l) => l.name === 'cluster-wide');
    expect(cluster.length).toBe(3);
    for (const l of cluster) expect(l.namespace).toBe('');
    expect(byId(ids[2]!).every((l) => l.name === 'a' && l.namespace === 'ns')).toBe(true);
  });
});
