/**
 * The decision to PUT rests on readings taken for it, one decision at a time per subscription and region
 * (src/controllers/dedicatedhsm/deploy-gate.ts), with the operator's own --concurrency example (DedicatedHsm=4):
 * - a gateway that goes Updating after each HSM PUT gets no second PUT while it is Updating (the simulators count
 *   PUTs that met a gateway which was not Succeeded: 0);
 * - three HSMs for a stamp with room for two: two PUTs, the third held back with the quota message (never a failed
 *   leftover), also with two replicas; once a human frees a place and asks for a re-check, the third deploys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Operator } from '../../../../src/operator.js';
import { startTestOperator } from '../../../support/operator.js';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

const WORKERS = { default: 1, byController: { DedicatedHsm: 4 } };
const hsmPuts = (sc: Scenario) => sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' });
/** The first of `names` whose condition `type` matches. */
const waitForAny = (sc: Scenario, names: string[], type: string, match: { status: string; reason: string }, timeoutMs: number): Promise<string> =>
  waitFor(
    `one of ${names.join(', ')} ${type}=${match.status}/${match.reason}`,
    async () => {
      for (const n of names) {
        const c = condition(await sc.get(n), type);
        if (c?.status === match.status && c.reason === match.reason) return n;
      }
      return undefined;
    },
    timeoutMs,
  );
const failedInArm = (sc: Scenario) => sc.world.arm.world.hsmNames().filter((n) => sc.world.arm.world.hsm(n)?.provisioningState === 'Failed');

describe('DedicatedHsm deploy gate: no PUT on a stale gateway reading', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await startScenario({
      prefix: 'dhsm-gate-gw',
      world: { hsms: [{ name: 'hsm1', stampId: 'stamp1' }, { name: 'hsm2', stampId: 'stamp2' }, { name: 'hsm3', stampId: 'stamp1' }] },
      operator: { concurrency: WORKERS },
    });
    // Each accepted PUT leaves the gateway Updating for 600 ms: a second PUT on a reading from before it would race.
    sc.world.arm.world.gatewayUpdatingAfterHsmPutMs = 600;
    await Promise.all(['hsm1', 'hsm2', 'hsm3'].map((n) => sc.deploy(n, { stampId: n === 'hsm2' ? 'stamp2' : 'stamp1' })));
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('every HSM deploys with one PUT; none met a gateway that was not Succeeded', async () => {
    for (const n of ['hsm1', 'hsm2', 'hsm3']) await sc.waitFor(n, 'Provisioned', { status: 'True' }, 60_000);
    expect(sc.world.arm.world.gatewayRaces).toBe(0);
    expect(hsmPuts(sc)).toBe(3);
    for (const n of ['hsm1', 'hsm2', 'hsm3']) expect((await sc.get(n)).status?.attempts, n).toBe(1);
    expect(failedInArm(sc)).toEqual([]);
  });
});

describe('DedicatedHsm deploy gate: the quota of a stamp is never oversubscribed', () => {
  let sc: Scenario;
  let second: Operator | undefined;
  const LEASE = { name: 'dhsm-gate-leader', leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
  beforeAll(async () => {
    sc = await startScenario({
      prefix: 'dhsm-gate-quota',
      world: { hsms: [{ name: 'hsm1', stampId: 'stamp1' }, { name: 'hsm2', stampId: 'stamp1' }, { name: 'hsm3', stampId: 'stamp1' }] },
      operator: { concurrency: WORKERS, leaderElection: { ...LEASE, namespace: '', identity: 'replica-a' } },
    });
    second = await startTestOperator({
      namespace: sc.namespace,
      world: sc.world,
      controllers: ['dedicatedhsm'],
      concurrency: WORKERS,
      leaderElection: { ...LEASE, namespace: sc.namespace, identity: 'replica-b' },
      settings: { gatewayWaitInitialMs: 200, gatewayWaitMaxMs: 2_000, needsHumanRecheckMs: 60_000, ntlsTimeoutMs: 2_000 },
    });
    await Promise.all(['hsm1', 'hsm2', 'hsm3'].map((n) => sc.deploy(n, { stampId: 'stamp1' })));
  }, 60_000);
  afterAll(async () => {
    await second?.stop(5_000);
    await sc?.stop();
  });

  it('two PUTs for two places; the third HSM waits with the quota message and no failed leftover is made', async () => {
    const held = await waitForAny(sc, ['hsm1', 'hsm2', 'hsm3'], 'QuotaAvailable', { status: 'False', reason: 'QuotaExceeded' }, 60_000);
    const deployed = ['hsm1', 'hsm2', 'hsm3'].filter((n) => n !== held);
    for (const n of deployed) await sc.waitFor(n, 'Provisioned', { status: 'True' }, 60_000);
    await sleep(1_500); // more passes of every worker of both replicas
    expect(hsmPuts(sc)).toBe(2);
    expect(failedInArm(sc)).toEqual([]);
    const h = await sc.get(held);
    expect(h.status?.attempts ?? 0).toBe(0);
    const msg = condition(h, 'QuotaAvailable')?.message ?? '';
    expect(msg).toMatch(/stamp1 holds 2 of 2 HSMs/);
    expect(msg).toMatch(/looks at the quota again every 2s and deploys once a place is free/);
    expect(msg).toContain('dedicatedhsm.io/resync-now');
  }, 90_000);

  it('a place freed by hand and a resync-now: the held HSM deploys with one PUT', async () => {
    const held = await waitForAny(sc, ['hsm1', 'hsm2', 'hsm3'], 'QuotaAvailable', { status: 'False', reason: 'QuotaExceeded' }, 5_000);
    const other = ['hsm1', 'hsm2', 'hsm3'].find((n) => n !== held && sc.world.arm.world.hsm(n)?.provisioningState === 'Succeeded') ?? '';
    // A human deletes one HSM in Azure (the operator's object stays: it will redeploy it later, a story of its own).
    await sc.patch(other, { metadata: { annotations: { 'dedicatedhsm.io/reconcile': 'paused' } } });
    sc.world.arm.world.deleteOutOfBand(other);
    await sc.patch(held, { metadata: { annotations: { 'dedicatedhsm.io/resync-now': String(Date.now()) } } });
    await sc.waitFor(held, 'Provisioned', { status: 'True' }, 30_000);
    expect(hsmPuts(sc)).toBe(3);
    expect(failedInArm(sc)).toEqual([]);
  }, 60_000);
});
