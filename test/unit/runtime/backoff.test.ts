/** The one backoff-and-jitter module, with `random` pinned. */
import { describe, expect, it } from 'vitest';
import { between, exponentialMs, ItemExponentialRateLimiter, jitterAround, jitterBelow, jitteredBackoff, jitterUp } from '../../../src/runtime/index.js';

const fixed = (r: number) => () => r;

describe('exponential backoff', () => {
  it('doubles from the first wait, never above the maximum, and stays finite', () => {
    const o = { initialMs: 800, maxMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((s) => exponentialMs(s, o))).toEqual([800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000]);
    expect(exponentialMs(-3, o)).toBe(800);
    expect(exponentialMs(5_000, o)).toBe(30_000);
    expect(exponentialMs(5_000, { initialMs: 0, maxMs: 10 })).toBe(0);
  });

  it('adds jitter on top and caps after it', () => {
    const o = { initialMs: 800, maxMs: 30_000, jitter: 1 };
    expect(jitteredBackoff(0, o, fixed(0))).toBe(800);
    expect(jitteredBackoff(0, o, fixed(0.5))).toBe(1_200);
    expect(jitteredBackoff(5, o, fixed(0.5))).toBe(30_000);
    expect(jitteredBackoff(2, { ...o, jitter: 0.1 }, fixed(0.5))).toBeCloseTo(3_360, 9);
  });

  it('is what the work queue\'s per-item limiter waits: 5 ms doubling, up to 10% more', () => {
    const limiter = new ItemExponentialRateLimiter({ random: fixed(0.5) });
    expect([1, 2, 3, 4].map(() => limiter.when('k'))).toEqual([0, 1, 2, 3].map((s) => jitteredBackoff(s, { initialMs: 5, maxMs: 1_000_000, jitter: 0.1 }, fixed(0.5))));
  });
});

describe('jitter', () => {
  it('up: ms * [1, 1 + factor)', () => {
    expect(jitterUp(2_000, 0.2, fixed(0))).toBe(2_000);
    expect(jitterUp(2_000, 0.2, fixed(0.5))).toBe(2_200);
    expect(jitterUp(2_000, 0.2, fixed(0.999999))).toBeLessThan(2_400);
  });

  it('around: ms * [1 - fraction, 1 + fraction)', () => {
    expect(jitterAround(600_000, 0.1, fixed(0))).toBe(540_000);
    expect(jitterAround(600_000, 0.1, fixed(0.5))).toBe(600_000);
    expect(jitterAround(600_000, 0.1, fixed(0.999999))).toBeLessThan(660_000);
  });

  it('below: ms * [1 - fraction, 1), never longer than the period', () => {
    expect(jitterBelow(60_000, 0.1, fixed(0))).toBe(54_000);
    expect(jitterBelow(60_000, 0.1, fixed(0.999999))).toBeLessThan(60_000);
  });

  it('between: uniform in [lo, hi)', () => {
    expect(between(300, 600, fixed(0))).toBe(300);
    expect(between(300, 600, fixed(0.5))).toBe(450);
    expect(Math.round(between(300, 600, fixed(0.999999)))).toBe(600);
  });

  it('defaults to Math.random, within bounds', () => {
    for (let i = 0; i < 100; i++) {
      const v = jitterAround(1_000, 0.1);
      expect(v).toBeGreaterThanOrEqual(900);
      expect(v).toBeLessThan(1_100);
    }
  });
});
