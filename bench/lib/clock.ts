/**
 * A clock whose timers run `factor` times faster while `now()` stays real. Every period the operator waits on a
 * timer (re-syncs, drift checks, polls, requeues, watch supervision) shrinks by the same factor, so a steady state
 * of ten one-minute periods plays in under a minute with its proportions intact; certificates, TLS and the
 * simulators still see real time. Only the steady-state benchmark uses it.
 */
import type { Clock } from '../../src/runtime/index.js';

export function fastTimers(factor: number): Clock {
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      const t = setTimeout(fn, Math.max(0, ms) / factor);
      t.unref();
      return () => clearTimeout(t);
    },
  };
}
