/**
 * Spreading periodic work: objects created together would otherwise check their devices together for ever. The
 * spread only shortens an interval (0.9x to 1x), so "within one interval" stays a promise.
 */
export function spreadBelow(ms: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(ms * (0.9 + 0.1 * random())));
}
