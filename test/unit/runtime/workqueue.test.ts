import { describe, expect, it } from 'vitest';
import {
  FakeClock,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  RuntimeMetrics,
  TokenBucketRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
} from '../../../src/runtime/index.js';

/** Lets pending promise callbacks run (the queue hands keys out through promises). */
const settle = () => new Promise((r) => setImmediate(r));

function newQueue(clock = new FakeClock(), random = () => 0) {
  const metrics = new RuntimeMetrics();
  const queue = new WorkQueue({ name: 'test', clock, metrics, rateLimiter: defaultControllerRateLimiter(clock, { random }) });
  return { clock, queue, metrics };
}

describe('WorkQueue', () => {
  it('holds a waiting key once however often it is added', async () => {
    const { queue, metrics } = newQueue();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(queue.length).toBe(0);
    expect(await metrics.value('workqueue_adds_total', { name: 'test' })).toBe(2);
  });

  it('never hands a key to two workers; a key added while in flight runs again after done()', async () => {
    const { queue } = newQueue();
    queue.add('k');
    const first = await queue.get();
    expect(first).toBe('k');
    queue.add('k'); // changed while being reconciled
    queue.add('k');
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await settle();
    expect(second).toBeUndefined(); // not handed out while in flight
    expect(queue.length).toBe(0);
    queue.done('k');
    await settle();
    expect(second).toBe('k'); // runs once more, not twice
    queue.done('k');
    expect(queue.length).toBe(0);
    expect(queue.inFlight).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const { queue } = newQueue();
    const got = queue.get();
    queue.add('x');
    expect(await got).toBe('x');
  });

  it('delays keys with addAfter; the earliest pending delay wins', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('k', 10_000);
    queue.addAfter('k', 2_000);
    queue.addAfter('k', 5_000);
    expect(queue.delayed).toBe(1);
    clock.advance(1_999);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
    expect(await queue.get()).toBe('k');
    queue.done('k');
    clock.advance(20_000);
    expect(queue.length).toBe(0); // the later delays were dropped, not kept
  });

  it('backs a failing key off exponentially from 5 ms, capped at 1000 s, and forget() starts over', () => {
    const limiter = new ItemExponentialRateLimiter({ random: () => 0 });
    const delays = Array.from({ length: 30 }, () => limiter.when('k'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] as number);
    expect(Math.max(...delays)).toBe(1_000_000);
    expect(delays.at(-1)).toBe(1_000_000);
    expect(limiter.failures('k')).toBe(30);
    expect(limiter.when('other')).toBe(5); // per key
    limiter.forget('k');
    expect(limiter.when('k')).toBe(5);
  });

  it('jitters the backoff upward, never past the cap', () => {
    const limiter = new ItemExponentialRateLimiter({ random: () => 0.999, jitter: 0.1 });
    const first = limiter.when('k');
    expect(first).toBeGreaterThan(5);
    expect(first).toBeLessThanOrEqual(5.5);
    for (let i = 0; i < 40; i++) expect(limiter.when('k')).toBeLessThanOrEqual(1_000_000);
  });

  it('passes all retries through a 10/s token bucket with a burst of 100', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucketRateLimiter(clock, 10, 100);
    const burst = Array.from({ length: 100 }, (_, i) => bucket.when(`k${i}`));
    expect(burst.every((d) => d === 0)).toBe(true);
    expect(bucket.when('k100')).toBe(100); // the 101st waits for a token: 100 ms at 10/s
    expect(bucket.when('k101')).toBe(200);
    clock.advance(1_000); // ten tokens back, two of them already promised
    expect(bucket.when('k102')).toBe(0);
  });

  it('uses the larger of item backoff and bucket delay', () => {
    const clock = new FakeClock();
    const limiter = new MaxOfRateLimiter(new ItemExponentialRateLimiter({ random: () => 0 }), new TokenBucketRateLimiter(clock, 10, 1));
    expect(limiter.when('a')).toBe(5); // bucket has a token; item backoff rules
    expect(limiter.when('b')).toBe(100); // bucket empty: 100 ms beats 5 ms
  });

  it('addRateLimited delays by the backoff and counts retries', async () => {
    const { queue, clock, metrics } = newQueue();
    expect(queue.addRateLimited('k')).toBe(5);
    expect(queue.addRateLimited('k')).toBe(10);
    expect(queue.numRequeues('k')).toBe(2);
    clock.advance(4);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
    expect(await metrics.value('workqueue_retries_total', { name: 'test' })).toBe(2);
    queue.forget('k');
    expect(queue.numRequeues('k')).toBe(0);
  });

  it('shutdown stops intake at once and drain waits for in-flight keys', async () => {
    const { queue, clock } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 1000);
    const a = await queue.get();
    expect(a).toBe('a');
    let drained: boolean | undefined;
    void queue.drain(5_000).then((d) => (drained = d));
    expect(queue.isShuttingDown).toBe(true);
    queue.add('d');
    clock.advance(1000);
    expect(queue.length).toBe(0); // b dropped, c cancelled, d refused
    expect(await queue.get()).toBeUndefined();
    await settle();
    expect(drained).toBeUndefined(); // 'a' still in flight
    queue.done('a');
    await settle();
    expect(drained).toBe(true);
  });

  it('drain gives up at the deadline when a key never finishes', async () => {
    const { queue, clock } = newQueue();
    queue.add('stuck');
    await queue.get();
    let drained: boolean | undefined;
    void queue.drain(3_000).then((d) => (drained = d));
    clock.advance(2_999);
    await settle();
    expect(drained).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(drained).toBe(false);
  });

  it('releases idle workers on shutdown', async () => {
    const { queue } = newQueue();
    const waiting = [queue.get(), queue.get()];
    queue.shutDown();
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
  });
});
