/**
 * How long to wait, and how to say it. Pure: every delay is a function of what status already records (since
 * when the gateway has been waited for, how many race attempts were made), so a restarted operator picks the
 * same schedule up without counters of its own.
 */
import { exponentialMs } from '../../runtime/index.js';

export interface WaitSettings {
  gatewayWaitInitialMs: number;
  gatewayWaitMaxMs: number;
}

/**
 * Next look at a gateway that is not Succeeded: as long as it has been waited for already (so the total doubles
 * with every look), never below the initial wait and never above the maximum.
 */
export function gatewayWaitDelay(waitedMs: number, s: WaitSettings): number {
  return Math.min(s.gatewayWaitMaxMs, Math.max(s.gatewayWaitInitialMs, Math.max(0, waitedMs)));
}

/** Backoff before race attempt `attempts + 1`: initial, 2x, 4x ... up to the maximum. */
export function raceBackoffMs(attempts: number, s: WaitSettings): number {
  if (attempts <= 0) return 0;
  return exponentialMs(attempts - 1, { initialMs: s.gatewayWaitInitialMs, maxMs: s.gatewayWaitMaxMs });
}

/** `45s`, `4m0s`, `2h5m` (Go duration style, coarse: seconds at most). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
