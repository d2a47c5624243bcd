/** Waiting for the gateway and backing off races: growing, bounded, and said coarsely. */
import { describe, expect, it } from 'vitest';
import { formatDuration, gatewayWaitDelay, raceBackoffMs } from '../../../../src/controllers/dedicatedhsm/timing.js';
import { spreadBelow } from '../../../../src/controllers/shared/timing.js';

const s = { gatewayWaitInitialMs: 10_000, gatewayWaitMaxMs: 300_000 };

describe('gatewayWaitDelay', () => {
  it('starts at the initial wait and grows with the time already waited, up to the maximum', () => {
    expect(gatewayWaitDelay(0, s)).toBe(10_000);
    expect(gatewayWaitDelay(5_000, s)).toBe(10_000);
    expect(gatewayWaitDelay(10_000, s)).toBe(10_000);
    expect(gatewayWaitDelay(20_000, s)).toBe(20_000);
    expect(gatewayWaitDelay(160_000, s)).toBe(160_000);
    expect(gatewayWaitDelay(3_600_000, s)).toBe(300_000);
    expect(gatewayWaitDelay(-5, s)).toBe(10_000);
  });

  it('looks at the gateway ever less often: the total waited doubles per look until the cap', () => {
    let waited = 0;
    const looks: number[] = [];
    for (let i = 0; i < 8; i++) {
      const d = gatewayWaitDelay(waited, s);
      looks.push(d);
      waited += d;
    }
    expect(looks).toEqual([10_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });
});

describe('raceBackoffMs', () => {
  it('doubles per attempt from the initial wait, capped', () => {
    expect([0, 1, 2, 3, 4, 10, 60].map((a) => raceBackoffMs(a, s))).toEqual([0, 10_000, 20_000, 40_000, 80_000, 300_000, 300_000]);
  });
});

describe('spreadBelow (the one spread of periodic work)', () => {
  it('shortens an interval by at most 10% and never lengthens it', () => {
    expect(spreadBelow(600_000, () => 0)).toBe(540_000);
    expect(spreadBelow(600_000, () => 0.5)).toBe(570_000);
    expect(spreadBelow(600_000, () => 0.999999)).toBeLessThanOrEqual(600_000);
  });
});

describe('formatDuration', () => {
  it('is coarse: seconds, minutes and seconds, hours and minutes', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45_400)).toBe('45s');
    expect(formatDuration(240_000)).toBe('4m0s');
    expect(formatDuration(7_500_000)).toBe('2h5m');
  });
});
