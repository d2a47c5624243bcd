/** Parses the duration strings the CRDs accept (`30s`, `5m`, `1h30m`, `1.5h`, `250ms`); the CEL `duration()` agrees. */
import { durationMs } from '../runtime/duration.js';

/** Milliseconds in `text`; throws on anything the CRD pattern would refuse. */
export function parseDuration(text: string): number {
  const total = durationMs(text);
  if (total === undefined) throw new Error(`not a duration: ${JSON.stringify(text)} (use forms like 30s, 5m, 1h, 1h30m)`);
  if (!Number.isFinite(total)) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Math.round(total);
}
