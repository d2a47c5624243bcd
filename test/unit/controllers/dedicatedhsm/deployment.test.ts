/** Classified Azure failures -> condition, reason and the guide's advice; the deployment ladder. */
import { describe, expect, it } from 'vitest';
import { severityOf } from '../../../../src/api/index.js';
import { ACTIONS, type AzureFailure, type FailureClass } from '../../../../src/azure/index.js';
import { countsAsAttempt, describeFailure, failureConditions, nextDeployStep, roundRestarts, type DeployInput } from '../../../../src/controllers/dedicatedhsm/deployment.js';

const failure = (cls: FailureClass, extra: Partial<AzureFailure> = {}): AzureFailure => ({
  class: cls,
  retryable: ['race', 'throttled', 'transient', 'conflict'].includes(cls),
  message: `something about ${cls}`,
  action: cls === 'delegation' ? ACTIONS.delegation : `do something about ${cls}`,
  ...extra,
});

describe('describeFailure', () => {
  it.each([
    ['race', 'Provisioned', 'DeploymentRace', 'retrying'],
    ['quota', 'QuotaAvailable', 'QuotaExceeded', 'needsHuman'],
    ['capacity', 'QuotaAvailable', 'CapacityExhausted', 'needsHuman'],
    ['delegation', 'SubnetDelegated', 'SubnetNotDelegated', 'needsHuman'],
    ['notAllowlisted', 'Provisioned', 'NotAllowlisted', 'needsHuman'],
    ['auth', 'Provisioned', 'AuthorizationFailed', 'needsHuman'],
    ['throttled', 'Provisioned', 'Throttled', 'retrying'],
    ['transient', 'Provisioned', 'AzureUnavailable', 'retrying'],
    ['conflict', 'Provisioned', 'OperationInProgress', 'retrying'],
    ['invalid', 'Provisioned', 'InvalidSpec', 'needsHuman'],
    ['notFound', 'Provisioned', 'InvalidSpec', 'needsHuman'],
  ] as const)('%s -> %s=False %s (%s)', (cls, type, reason, severity) => {
    const o = describeFailure(failure(cls));
    expect(o).toMatchObject({ type, reason });
    expect(severityOf(o.reason)).toBe(severity);
    expect(o.message).toContain(`something about ${cls}`);
    expect(o.message).toContain(failure(cls).action);
  });

  it('tells policy denials, immutable changes and NSG/UDR subnets apart', () => {
    expect(describeFailure(failure('invalid', { code: 'RequestDisallowedByPolicy' })).reason).toBe('PolicyDenied');
    expect(describeFailure(failure('invalid', { code: 'PropertyChangeNotAllowed' })).reason).toBe('AdoptionConflict');
    expect(describeFailure(failure('delegation', { action: ACTIONS.subnetPolicy })).reason).toBe('SubnetMisconfigured');
  });

  it('a failure shown on another condition also makes Provisioned False', () => {
    const cs = failureConditions(describeFailure(failure('capacity')));
    expect(cs.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['QuotaAvailable', 'False', 'CapacityExhausted'],
      ['Provisioned', 'False', 'CapacityExhausted'],
    ]);
    expect(failureConditions(describeFailure(failure('race')))).toHaveLength(1);
  });

  it('only PUTs Azure did not simply shed count as attempts', () => {
    expect(countsAsAttempt(failure('race'))).toBe(true);
    expect(countsAsAttempt(failure('quota'))).toBe(true);
    expect(countsAsAttempt(failure('throttled'))).toBe(false);
    expect(countsAsAttempt(failure('transient'))).toBe(false);
  });
});

describe('nextDeployStep: the ladder', () => {
  const t0 = Date.parse('2025-03-01T10:00:00Z');
  const settings = { gatewayWaitInitialMs: 1_000, gatewayWaitMaxMs: 60_000, needsHumanRecheckMs: 900_000 };
  const base: DeployInput = { now: t0, lastFailure: undefined, attempts: 0, redeploys: 0, raceRetries: 3, redeployAfter: 2, recheckNow: false, settings };
  const race = (attempts: number, ageMs: number, redeploys = 0): DeployInput => ({
    ...base,
    attempts,
    redeploys,
    now: t0 + ageMs,
    lastFailure: { class: 'DeploymentRace', message: 'gateway Updating', time: new Date(t0).toISOString() },
  });

  it('deploys when nothing failed', () => {
    expect(nextDeployStep(base)).toEqual({ kind: 'deploy' });
  });

  it('reruns a race failure after a growing backoff', () => {
    expect(nextDeployStep(race(1, 0))).toEqual({ kind: 'wait', ms: 1_000, why: 'raceBackoff' });
    expect(nextDeployStep(race(1, 1_000))).toEqual({ kind: 'deploy' });
    expect(nextDeployStep(race(2, 500))).toEqual({ kind: 'wait', ms: 1_500, why: 'raceBackoff' });
    expect(nextDeployStep(race(3, 0))).toEqual({ kind: 'wait', ms: 4_000, why: 'raceBackoff' });
  });

  it('after raceRetries reruns: delete and redeploy, up to redeployAfter rounds, then give up with the support request', () => {
    expect(nextDeployStep(race(4, 0))).toEqual({ kind: 'redeploy' });
    expect(nextDeployStep(race(4, 0, 1))).toEqual({ kind: 'redeploy' });
    const giveUp = nextDeployStep(race(4, 0, 2));
    expect(giveUp.kind).toBe('giveUp');
    expect(giveUp.kind === 'giveUp' && giveUp.message).toContain('Issues configuring the Azure setup');
    // A new round starts at attempt 0: deploy at once.
    expect(nextDeployStep(race(0, 0, 1))).toEqual({ kind: 'deploy' });
  });

  it('raceRetries 0 and redeployAfter 0: one attempt, then stop', () => {
    expect(nextDeployStep({ ...race(1, 0), raceRetries: 0, redeployAfter: 0 }).kind).toBe('giveUp');
  });

  it('a failure a human must fix holds for the quiet period, unless resync-now asks', () => {
    const quota = { ...base, lastFailure: { class: 'QuotaExceeded', message: 'quota', time: new Date(t0).toISOString() } };
    expect(nextDeployStep({ ...quota, now: t0 + 1_000 })).toEqual({ kind: 'wait', ms: 899_000, why: 'needsHuman' });
    expect(nextDeployStep({ ...quota, now: t0 + 900_000 })).toEqual({ kind: 'deploy' });
    expect(nextDeployStep({ ...quota, now: t0 + 1_000, recheckNow: true })).toEqual({ kind: 'deploy' });
  });

  it('DeploymentFailed stays given up (until the spec changes)', () => {
    const failed = { ...base, lastFailure: { class: 'DeploymentFailed', message: 'gave up: raise a support request', time: new Date(t0).toISOString() } };
    expect(nextDeployStep({ ...failed, now: t0 + 10 * 900_000 })).toEqual({ kind: 'giveUp', message: 'gave up: raise a support request' });
  });

  it('transient failures retry after a short floor', () => {
    const transient = { ...base, lastFailure: { class: 'AzureUnavailable', message: '503', time: new Date(t0).toISOString() } };
    expect(nextDeployStep({ ...transient, now: t0 + 200 })).toEqual({ kind: 'wait', ms: 800, why: 'retryLater' });
    expect(nextDeployStep({ ...transient, now: t0 + 1_000 })).toEqual({ kind: 'deploy' });
  });

  it('a new generation restarts the round', () => {
    expect(roundRestarts(1, 2)).toBe(true);
    expect(roundRestarts(2, 2)).toBe(false);
    expect(roundRestarts(undefined, 1)).toBe(false);
  });
});
