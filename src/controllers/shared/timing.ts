/**
 * Spreading periodic work: objects created together would otherwise check their devices together for ever. The
 * spread only shortens an interval (0.9x to 1x), so "within one interval" stays a promise. The jitter itself is the
 * runtime's one backoff-and-jitter module.
 */
import { jitterBelow, type Random } from '../../runtime/index.js';

export function spreadBelow(ms: number, random: Random = Math.random): number {
  return Math.max(1, Math.round(jitterBelow(ms, 0.1, random)));
}
