/** One duration parser (src/runtime/duration.ts) under both front ends: the CRDs' fields and the flags. */
import { describe, expect, it } from 'vitest';
import { parseDuration as crdDuration } from '../../../src/api/index.js';
import { ConfigError, durationMs, parseDuration as flagDuration } from '../../../src/runtime/index.js';

const VALID: [string, number][] = [
  ['250ms', 250],
  ['30s', 30_000],
  ['5m', 300_000],
  ['1h30m', 5_400_000],
  ['1.5h', 5_400_000],
  ['1m30s500ms', 90_500],
  ['0.5ms', 0.5],
];

describe('durationMs', () => {
  it.each(VALID)('%s = %d ms', (text, ms) => expect(durationMs(text)).toBe(ms));

  it.each(['', '5', ' 5m', '90d', '1 h', '-5m', 'h', '1hh', '5m ', '1e3s'])('%j is no duration', (text) => expect(durationMs(text)).toBeUndefined());
});

describe('its two front ends', () => {
  it('read every duration alike (the CRD fields round to whole milliseconds)', () => {
    for (const [text, ms] of VALID) {
      expect(flagDuration(text), text).toBe(ms);
      expect(crdDuration(text), text).toBe(Math.round(ms));
    }
  });

  it('flags also take plain seconds and surrounding blanks; the CRD fields do not', () => {
    expect(flagDuration('15')).toBe(15_000);
    expect(flagDuration(' 10s ')).toBe(10_000);
    expect(() => crdDuration('15')).toThrow(/not a duration/);
    expect(() => crdDuration(' 10s ')).toThrow(/not a duration/);
  });

  it('keep their own messages', () => {
    expect(() => flagDuration('soon', '--timeout')).toThrow(new ConfigError('--timeout: bad duration "soon" (use e.g. 500ms, 10s, 5m, 1h)'));
    expect(() => flagDuration('  ', '--lease-duration')).toThrow(new ConfigError('--lease-duration: empty duration'));
    expect(() => crdDuration('5 minutes')).toThrow('not a duration: "5 minutes" (use forms like 30s, 5m, 1h, 1h30m)');
    expect(() => crdDuration(`${'9'.repeat(400)}h`)).toThrow(/^not a duration: "9+h"$/);
  });
});
