/**
 * The one duration parser: Go/Kubernetes duration strings down to milliseconds (`250ms`, `30s`, `5m`, `1h30m`,
 * `1.5h`). The CRDs' duration fields (src/api/duration.ts) and the command-line flags (config.ts) both read through
 * it and differ only in what they accept around it (flags also take plain seconds) and in how they say no.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const WHOLE = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;

/** Milliseconds in `text` (not rounded; Infinity for absurdly large values), or undefined when it is no duration. */
export function durationMs(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, value, unit] of text.matchAll(PART)) total += Number(value) * (UNIT_MS[unit ?? ''] ?? NaN);
  return total;
}
