import { describe, expect, it } from 'vitest';
import { Patterns, parseDuration } from '../../../src/api/index.js';

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
    ['2160h', 2160 * 3_600_000],
    ['1m30s500ms', 90_500],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '90d', '1 h', '-5m', 'h', '1hh'])('refuses %j, as the CRD pattern does', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration/);
    expect(new RegExp(Patterns.duration).test(text)).toBe(false);
  });
});
