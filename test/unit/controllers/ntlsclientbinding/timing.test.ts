import { describe, expect, it } from 'vitest';
import { bindingTiming } from '../../../../src/controllers/ntlsclientbinding/timing.js';

describe('bindingTiming', () => {
  const spec = { driftCheckInterval: '5m', certificate: { generate: { duration: '1h', keyAlgorithm: 'RSA2048' as const }, renewBefore: '40m' } };

  it('reads the spec durations in ms', () => {
    expect(bindingTiming(spec)).toEqual({ driftCheckMs: 300_000, renewBeforeMs: 2_400_000, generateDurationMs: 3_600_000 });
  });

  it('compresses them by the operator scale (sandbox and tests), never below half a second', () => {
    expect(bindingTiming(spec, 1 / 120)).toEqual({ driftCheckMs: 2_500, renewBeforeMs: 20_000, generateDurationMs: 30_000 });
    expect(bindingTiming(spec, 1e-9).driftCheckMs).toBe(500);
  });

  it('has no lifetime for a certificate from a Secret and no renewBefore unless set', () => {
    expect(bindingTiming({ driftCheckInterval: '30s', certificate: { secretRef: { name: 'x' } } })).toEqual({ driftCheckMs: 30_000, renewBeforeMs: undefined, generateDurationMs: undefined });
  });

  it('names the field of a malformed duration', () => {
    expect(() => bindingTiming({ ...spec, driftCheckInterval: '5 minutes' })).toThrow(/spec.driftCheckInterval/);
  });
});
