/**
 * Deployment decisions, pure: what a classified Azure failure means (which condition, which reason, what a human
 * must do) and what to do next given what status records (attempts, redeploys, the last failure and when it
 * happened). The guide's ladder for the race: rerun, then delete the failed resource and redeploy, then stop and
 * raise a support request. Everything a human must fix stops fast and is re-checked slowly.
 */
import { severityOf, type ConditionLike } from '../../api/index.js';
import type { AzureFailure } from '../../azure/index.js';
import { raceBackoffMs, type WaitSettings } from './timing.js';

export type FailureCondition = 'Provisioned' | 'QuotaAvailable' | 'SubnetDelegated';

export interface FailureOutcome {
  /** The condition the failure shows on (quota on QuotaAvailable, delegation on SubnetDelegated, ...). */
  type: FailureCondition;
  /** The reason, also recorded as status.lastFailure.class. */
  reason: string;
  message: string;
}

export const SUPPORT_REQUEST =
  'Raise a support request in the Azure portal with the problem type "Issues configuring the Azure setup", and include the detailed error from Resource Explorer.';

/** What a failed deployment (or a refused PUT) means, in the guide's words. */
export function describeFailure(f: AzureFailure): FailureOutcome {
  const said = `Azure said: ${f.message.replace(/\s+$/, '')}${/[.!?]$/.test(f.message.trim()) ? '' : '.'}`;
  const msg = (lead: string) => `${lead} ${said} ${f.action}`;
  switch (f.class) {
    case 'race':
      return { type: 'Provisioned', reason: 'DeploymentRace', message: msg('The deployment failed on a networking dependency (the gateway race).') };
    case 'quota':
      return { type: 'QuotaAvailable', reason: 'QuotaExceeded', message: msg('The deployment failed: quota exceeded.') };
    case 'capacity':
      return { type: 'QuotaAvailable', reason: 'CapacityExhausted', message: msg('The deployment failed: no capacity.') };
    case 'delegation':
      return /security group|route table|UDR/i.test(f.action)
        ? { type: 'SubnetDelegated', reason: 'SubnetMisconfigured', message: msg('The deployment failed on the subnet configuration.') }
        : { type: 'SubnetDelegated', reason: 'SubnetNotDelegated', message: msg('The deployment failed: the subnet is not delegated.') };
    case 'notAllowlisted':
      return { type: 'Provisioned', reason: 'NotAllowlisted', message: msg('The deployment was refused: the subscription is not allowlisted.') };
    case 'auth':
      return { type: 'Provisioned', reason: 'AuthorizationFailed', message: msg('The deployment was refused for the operator\'s identity.') };
    case 'throttled':
      return { type: 'Provisioned', reason: 'Throttled', message: msg('Azure Resource Manager throttled the deployment.') };
    case 'transient':
      return { type: 'Provisioned', reason: 'AzureUnavailable', message: msg('The deployment failed transiently.') };
    case 'conflict':
      return { type: 'Provisioned', reason: 'OperationInProgress', message: msg('Another operation is in progress on the HSM resource.') };
    case 'notFound':
      return { type: 'Provisioned', reason: 'InvalidSpec', message: msg('The deployment refers to an Azure resource that does not exist.') };
    case 'invalid':
      if (f.code?.toLowerCase() === 'requestdisallowedbypolicy') return { type: 'Provisioned', reason: 'PolicyDenied', message: msg('An Azure Policy denied the deployment.') };
      if (f.code?.toLowerCase() === 'propertychangenotallowed') return { type: 'Provisioned', reason: 'AdoptionConflict', message: msg('The HSM resource exists with other immutable properties.') };
      return { type: 'Provisioned', reason: 'InvalidSpec', message: msg('Azure rejected the deployment as invalid.') };
  }
}

/** The failure as the conditions show it: the failing one, and Provisioned=False alongside when it is another. */
export function failureConditions(o: FailureOutcome, status: 'False' | 'Unknown' = 'False'): ConditionLike[] {
  const own: ConditionLike = { type: o.type, status, reason: o.reason, message: o.message };
  if (o.type === 'Provisioned') return [own];
  return [own, { type: 'Provisioned', status: 'False', reason: o.reason, message: o.message }];
}

/** Failures a PUT that was never accepted can have without counting as a deployment attempt. */
export function countsAsAttempt(f: AzureFailure): boolean {
  return f.class !== 'throttled' && f.class !== 'transient' && f.class !== 'conflict';
}

export interface LastFailure {
  /** The reason (DeploymentRace, QuotaExceeded, ...). */
  class: string;
  code?: string;
  message: string;
  time: string;
}

export interface DeployInput {
  now: number;
  lastFailure: LastFailure | undefined;
  /** Deployment attempts in the current round (status.attempts). */
  attempts: number;
  /** Delete-and-redeploy rounds used (status.redeploys). */
  redeploys: number;
  raceRetries: number;
  redeployAfter: number;
  /** dedicatedhsm.io/resync-now: re-check a needs-a-human failure now rather than after the quiet period. */
  recheckNow: boolean;
  settings: WaitSettings & { needsHumanRecheckMs: number };
}

export type DeployStep =
  /** Send the PUT (a new HSM, or the rerun of the failed one). */
  | { kind: 'deploy' }
  /** Not yet: the race backoff or the quiet period of a failure a human must fix. */
  | { kind: 'wait'; ms: number; why: 'raceBackoff' | 'needsHuman' | 'retryLater' }
  /** Race retries used up: delete the failed resource (if it exists), then deploy again in a new round. */
  | { kind: 'redeploy' }
  /** Retries and redeploys used up: stop and say so. */
  | { kind: 'giveUp'; message: string };

/**
 * The next step of a deployment that is not in flight. A spec change resets the round before this is asked
 * (the caller passes attempts 0, no last failure).
 */
export function nextDeployStep(i: DeployInput): DeployStep {
  const lf = i.lastFailure;
  if (!lf) return { kind: 'deploy' };
  const elapsed = i.now - Date.parse(lf.time);
  const since = Number.isNaN(elapsed) ? Infinity : elapsed;
  if (lf.class === 'DeploymentFailed') return { kind: 'giveUp', message: lf.message };
  if (lf.class === 'DeploymentRace') {
    if (i.attempts <= i.raceRetries) {
      const wait = raceBackoffMs(i.attempts, i.settings) - since;
      return wait > 0 ? { kind: 'wait', ms: wait, why: 'raceBackoff' } : { kind: 'deploy' };
    }
    if (i.redeploys < i.redeployAfter) return { kind: 'redeploy' };
    return { kind: 'giveUp', message: raceExhaustedMessage(i) };
  }
  const severity = severityOf(lf.class);
  if (severity === 'needsHuman') {
    const wait = i.settings.needsHumanRecheckMs - since;
    return wait > 0 && !i.recheckNow ? { kind: 'wait', ms: wait, why: 'needsHuman' } : { kind: 'deploy' };
  }
  // Transient failures (throttling, outages, a conflicting operation): the work queue's backoff already spaced
  // this pass out; a short floor keeps a failing ARM from being hammered.
  const wait = raceBackoffMs(1, i.settings) - since;
  return wait > 0 ? { kind: 'wait', ms: wait, why: 'retryLater' } : { kind: 'deploy' };
}

export function raceExhaustedMessage(i: Pick<DeployInput, 'raceRetries' | 'redeploys'>): string {
  const tries = `${i.raceRetries + 1} attempt${i.raceRetries === 0 ? '' : 's'} per round and ${i.redeploys} delete-and-redeploy round${i.redeploys === 1 ? '' : 's'}`;
  return `The deployment kept failing on the gateway race after ${tries}; the operator stopped. ${SUPPORT_REQUEST} Change the spec (for example spec.deployment) to start a new round.`;
}

/** Whether a spec change (a new generation) restarts the round: only while nothing exists or it failed. */
export function roundRestarts(observedGeneration: number | undefined, generation: number | undefined): boolean {
  return observedGeneration !== undefined && generation !== undefined && observedGeneration !== generation;
}
