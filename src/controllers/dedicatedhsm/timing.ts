/**
 * How long to wait, and how to say it. Pure: every delay is a function of what status already records (since
 * when the gateway has been waited for, how many race attempts were made), so a restarted operator picks the
 * same schedule up without counters of its own.
 */
import { parseDuration, type DedicatedHsm } from '../../api/index.js';
import type { AzureFailure } from '../../azure/index.js';
import { exponentialMs } from '../../runtime/index.js';
import { spreadBelow } from '../shared/timing.js';
import type { OperatorSettings } from '../shared/context.js';

const MAX_OPERATION_POLL_MS = 30_000;
/** A create in flight longer than this is reported as timed out (and still watched). */
export const DEFAULT_OPERATION_TIMEOUT_MS = 2 * 60 * 60_000;

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

/**
 * How soon to poll an operation: settings.operationPollMs when set; else as long as the operation has run, between
 * the first gateway wait and 30 s (quick failures such as quota are seen early, a 30-minute deployment costs
 * about one poll per 30 s).
 */
export function pollMs(s: OperatorSettings, hsm: DedicatedHsm, nowMs: number): number {
  if (s.operationPollMs !== undefined) return s.operationPollMs;
  const started = hsm.status?.pendingOperation?.startedAt;
  const ran = started ? nowMs - Date.parse(started) : 0;
  return gatewayWaitDelay(Number.isNaN(ran) ? 0 : ran, { gatewayWaitInitialMs: s.gatewayWaitInitialMs, gatewayWaitMaxMs: Math.min(MAX_OPERATION_POLL_MS, s.gatewayWaitMaxMs) });
}

/** How often an HSM held back by quota looks again: freed quota (a leftover deleted by hand) is seen within this. */
export function quotaRecheckMs(s: OperatorSettings): number {
  return Math.min(s.needsHumanRecheckMs, s.gatewayWaitMaxMs);
}

/** The periodic re-read: spec.resyncInterval (else the operator default), spread below it so HSMs created together do not re-read in lockstep and none waits longer. */
export function resyncMs(s: OperatorSettings, hsm: DedicatedHsm): number {
  let ms = s.defaultResyncMs;
  try {
    if (hsm.spec.resyncInterval) ms = parseDuration(hsm.spec.resyncInterval);
  } catch {
    /* admission checks the format; fall back to the operator default */
  }
  return spreadBelow(ms);
}

/** After a failed Azure write: Retry-After for throttling, the race backoff for races, a human's pace otherwise. */
export function afterFailureMs(s: OperatorSettings, hsm: DedicatedHsm, f: AzureFailure, attempts: number): number {
  if (f.class === 'throttled') return Math.max(f.retryAfterMs ?? 0, s.gatewayWaitInitialMs);
  if (f.class === 'race') return attempts <= hsm.spec.deployment.raceRetries ? raceBackoffMs(attempts, s) : 1;
  if (f.retryable) return Math.max(f.retryAfterMs ?? 0, raceBackoffMs(1, s));
  return s.needsHumanRecheckMs;
}
