/**
 * How a DedicatedHsm pass records what happened to its deployment round (status.attempts, redeploys,
 * lastFailure), its resource (resourceId, provisioningState) and the Events and metrics that go with them. Pure:
 * everything goes into the pass; decide.ts and act.ts both record through here, so a failure reads the same
 * whichever phase met it.
 */
import type { DedicatedHsm } from '../../api/index.js';
import type { AzureFailure, HsmState } from '../../azure/index.js';
import { describeFailure, failureConditions, SUPPORT_REQUEST, type LastFailure } from './deployment.js';
import { armName } from './desired.js';
import type { Pass } from './pass.js';

/** The deployment round as status records it, updated as the pass goes. */
export interface Round {
  attempts: number;
  redeploys: number;
  lastFailure: LastFailure | undefined;
}

export function roundOf(hsm: DedicatedHsm): Round {
  const s = hsm.status ?? {};
  return { attempts: s.attempts ?? 0, redeploys: s.redeploys ?? 0, lastFailure: s.lastFailure };
}

export function recordResource(pass: Pass, existing: HsmState): void {
  pass.put('resourceId', existing.id);
  if (existing.provisioningState) pass.put('provisioningState', existing.provisioningState);
  if (existing.statusMessage) pass.put('statusMessage', existing.statusMessage.slice(0, 4096));
  else pass.clear('statusMessage');
  pass.metrics.provisioningState = existing.provisioningState ?? null;
}

/** The resource is gone (deleted out of band, or for a redeploy): what status said about it goes too. */
export function forgetResource(pass: Pass): void {
  pass.clear('resourceId', 'provisioningState', 'statusMessage', 'nicId', 'privateIpAddress');
  pass.metrics.provisioningState = null;
}

export function resetRound(pass: Pass, round: Round): void {
  round.attempts = 0;
  round.redeploys = 0;
  round.lastFailure = undefined;
  pass.clear('attempts', 'redeploys', 'lastFailure');
}

export function attemptSucceeded(hsm: DedicatedHsm, pass: Pass): void {
  pass.metrics.attempts.push('succeeded');
  pass.event('Normal', 'DeploymentSucceeded', `Azure HSM ${armName(hsm)} is provisioned.`);
}

/** A failed deployment or refused PUT: status (attempts, lastFailure), conditions, metric and Event. */
export function recordFailure(hsm: DedicatedHsm, pass: Pass, round: Round, f: AzureFailure, opts: { attempt: boolean }): void {
  const o = describeFailure(f);
  if (opts.attempt) {
    round.attempts += 1;
    pass.put('attempts', round.attempts);
  }
  const lf: LastFailure = { class: o.reason, message: f.message.slice(0, 4096), time: pass.nowIso };
  if (f.code) lf.code = f.code;
  round.lastFailure = lf;
  pass.put('lastFailure', lf);
  pass.failure = failureConditions(o);
  pass.condition(...pass.failure);
  pass.metrics.attempts.push(f.class);
  pass.event('Warning', o.reason, `Deployment of HSM ${armName(hsm)} failed (attempt ${round.attempts || 1}): ${o.message}`);
}

/** The deployment failed for good (give up, or the failed resource could not be deleted for a redeploy). */
export function recordGiveUp(pass: Pass, round: Round, message: string, code: string | undefined): void {
  const lf: LastFailure = { class: 'DeploymentFailed', message: message.slice(0, 4096), time: pass.nowIso };
  if (code) lf.code = code;
  round.lastFailure = lf;
  pass.put('lastFailure', lf);
  pass.event('Warning', 'DeploymentFailed', message);
}

export function giveUpOnRedeploy(hsm: DedicatedHsm, pass: Pass, round: Round, f: AzureFailure): void {
  const message = `Deleting the failed resource of HSM ${armName(hsm)} for a redeploy failed: ${f.message} ${f.action} ${SUPPORT_REQUEST}`;
  recordGiveUp(pass, round, message, f.code);
  pass.condition({ type: 'Provisioned', status: 'False', reason: 'DeploymentFailed', message });
}

/** A redeploy round starts: the failed resource is gone, the race attempts count from zero again. */
export function redeployRound(pass: Pass, round: Round): void {
  round.redeploys += 1;
  round.attempts = 0;
  pass.put('redeploys', round.redeploys);
  pass.put('attempts', 0);
  forgetResource(pass);
}

/** While a failure holds (backoff, quiet period), its conditions stay as they were written. */
export function reassert(hsm: DedicatedHsm, pass: Pass, lf: LastFailure | undefined): void {
  // A failure recorded in this very pass: its conditions again, after what preflight said since.
  if (pass.failure) return pass.condition(...pass.failure);
  if (!lf) return;
  const previous = (hsm.status?.conditions ?? []).filter((c) => c.reason === lf.class && ['Provisioned', 'QuotaAvailable', 'SubnetDelegated'].includes(c.type));
  if (previous.length) pass.condition(...previous.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })));
  else pass.condition({ type: 'Provisioned', status: 'False', reason: lf.class, message: lf.message });
}
