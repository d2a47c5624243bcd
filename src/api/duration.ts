/** Parses the duration strings the CRDs accept (`30s`, `5m`, `1h30m`, `1.5h`, `250ms`); the CEL `duration()` agrees. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const WHOLE = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;

/** Milliseconds in `text`; throws on anything the CRD pattern would refuse. */
export function parseDuration(text: string): number {
  if (!WHOLE.test(text)) throw new Error(`not a duration: ${JSON.stringify(text)} (use forms like 30s, 5m, 1h, 1h30m)`);
  let total = 0;
  for (const m of text.matchAll(PART)) {
    const [, value, unit] = m;
    total += Number(value) * (UNIT_MS[unit ?? ''] ?? NaN);
  }
  if (!Number.isFinite(total)) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Math.round(total);
}
