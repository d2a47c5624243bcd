/**
 * Scenario 4, Azure trouble, against the ARM simulator: 429 with Retry-After (no request to the throttled
 * resource before the time it named), 5xx bursts (no duplicate deployment), an operation that never finishes (the
 * operator gives up waiting after its operation timeout and says so), an HSM deleted out of band (noticed and
 * deployed again, once), and the ExpressRoute gateway going back to Updating (no PUT while it is not Succeeded,
 * the deployed HSMs keep working).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armPuts, armTrace, safetyViolations } from '../support/reliability-invariants.js';
import { condition, isReady } from '../support/reliability-kube.js';
import { ReliabilityWorld } from '../support/reliability-world.js';
import { waitFor } from '../support/wait.js';

/** How long a create may stay in flight before the operator calls it timed out (2 h by default; compressed here). */
const OPERATION_TIMEOUT_MS = 4_000;

let rw: ReliabilityWorld;
const findings: Record<string, unknown> = {};
const hsmPath = (name: string) => `/dedicatedhsms/${name}`;

beforeAll(async () => {
  rw = await ReliabilityWorld.start({ prefix: 'azure', hsms: 4 });
  await rw.startInProcess({ settings: { operationTimeoutMs: OPERATION_TIMEOUT_MS } });
}, 60_000);

afterAll(async () => {
  process.stderr.write(`[reliability] azure: ${JSON.stringify(findings)}\n`);
  await rw?.stop();
}, 60_000);

describe('Azure trouble', () => {
  it('429 with Retry-After: no request to the throttled resource before the time it named; 5xx bursts: one deployment, converged', async () => {
    const arm = rw.world.arm;
    // hsm1: every read of it is throttled five times over (more than the SDK retries on its own), 1 s each.
    arm.world.throttle(5, 1, { pathIncludes: hsmPath('hsm1') });
    // hsm2: a burst of 503s on anything that touches it, then 500s on its PUT.
    arm.world.failNext(4, 503, { pathIncludes: hsmPath('hsm2') });
    arm.world.failNext(2, 500, { method: 'PUT', pathIncludes: hsmPath('hsm2') });
    await rw.deployHsm('hsm1');
    await rw.deployHsm('hsm2');
    await rw.kube.waitReady('DedicatedHsm', 'hsm1', 60_000);
    await rw.kube.waitReady('DedicatedHsm', 'hsm2', 60_000);

    const throttled = arm.requests.filter((r) => r.status === 429);
    expect(throttled.length).toBe(5);
    const early: string[] = [];
    for (const t of throttled) {
      const next = arm.requests.find((r) => r.time > t.time && r.path.toLowerCase() === t.path.toLowerCase());
      // Retry-After: 1 s from the answer, which left after the request arrived (RequestRecord.time).
      if (next && next.time < t.time + 1_000) early.push(`${t.path} at +${next.time - t.time} ms`);
    }
    expect(early, armTrace(rw.world, /hsm1/i)).toEqual([]);
    const failed = arm.requests.filter((r) => r.status >= 500).length;
    findings.throttle = { throttled: throttled.length, firstRetryGapsMs: throttled.map((t) => (arm.requests.find((r) => r.time > t.time && r.path === t.path)?.time ?? 0) - t.time) };
    findings.errors5xx = { failed };
    expect(failed).toBe(6);
    // One deployment each, whatever failed on the way.
    expect(rw.world.arm.world.hsmNames()).toEqual(['hsm1', 'hsm2']);
    for (const name of ['hsm1', 'hsm2']) expect(rw.world.arm.count({ method: 'PUT', pathIncludes: hsmPath(name), status: 201 }), name).toBe(1);
  }, 90_000);

  it('a deployment that never finishes: the operator stops waiting after its operation timeout and says so, without a second PUT', async () => {
    rw.world.arm.world.lroNeverFinishes('hsm3');
    await rw.deployHsm('hsm3');
    await rw.kube.waitCondition('DedicatedHsm', 'hsm3', 'Provisioned', { status: 'False', reason: 'Provisioning' }, 20_000);
    const stuck = await rw.kube.waitObj(
      'DedicatedHsm',
      'hsm3',
      'Provisioned says the operation timed out',
      (o) => {
        const c = condition(o, 'Provisioned');
        return c?.status === 'False' && c.reason !== 'Provisioning' && /timed out|longer than|exceed/i.test(c.message ?? '');
      },
      OPERATION_TIMEOUT_MS + 15_000,
    );
    findings.lroTimeout = { provisioned: condition(stuck, 'Provisioned'), ready: condition(stuck, 'Ready') };
    expect(condition(stuck, 'Stalled')?.status).toBe('True');
    expect(armPuts(rw.world, 'hsm3')).toBe(1);
    rw.world.arm.world.lroNeverFinishes('hsm3', false);
  }, 60_000);

  it('an HSM deleted out of band is noticed on the next re-sync and deployed again, once', async () => {
    const before = rw.world.arm.count({ method: 'PUT', pathIncludes: hsmPath('hsm1'), status: 201 });
    rw.world.arm.world.deleteOutOfBand('hsm1');
    await rw.kube.patch('DedicatedHsm', 'hsm1', { metadata: { annotations: { 'dedicatedhsm.io/resync-now': new Date().toISOString() } } });
    await waitFor('hsm1 deployed again', () => rw.world.arm.world.hsm('hsm1')?.provisioningState === 'Succeeded', 30_000);
    await rw.kube.waitReady('DedicatedHsm', 'hsm1', 30_000);
    const events = (await rw.kube.events()).filter((e) => e.regarding?.name === 'hsm1' && e.reason === 'DeletedOutOfBand');
    expect(events.length).toBe(1);
    expect(rw.world.arm.count({ method: 'PUT', pathIncludes: hsmPath('hsm1'), status: 201 }) - before).toBe(1);
    const hsm = await rw.kube.get('DedicatedHsm', 'hsm1');
    expect(hsm.status?.attempts).toBe(1);
  }, 60_000);

  it('the gateway goes back to Updating: nothing is deployed while it is, the deployed HSMs keep working, and the waiting one deploys after', async () => {
    const gw = rw.world.ids.gatewayId;
    const flip = rw.world.arm.requests.length;
    const flippedAt = Date.now();
    rw.world.arm.world.setGatewayState(gw, 'Updating');
    // The operator shares gateway reads between HSMs for up to gatewayWaitInitialMs (200 ms here, 10 s by default):
    // a flip younger than that is the deployment race the retry ladder exists for, not what this test is about.
    await new Promise((r) => setTimeout(r, 500));
    await rw.deployHsm('hsm4');
    await rw.kube.waitCondition('DedicatedHsm', 'hsm4', 'GatewayReady', { status: 'False', reason: 'WaitingForGateway' }, 20_000);
    // A while of Updating: the operator looks again with a growing wait, and never sends the PUT.
    await new Promise((r) => setTimeout(r, 3_000));
    const trace = rw.world.arm.requests.slice(flip).map((r) => `+${r.time - flippedAt} ${r.method} ${r.path.replace(/^.*\/providers\//, '')} ${r.status}`).join('\n');
    expect(armPuts(rw.world, 'hsm4'), `requests since the gateway went to Updating:\n${trace}`).toBe(0);
    for (const name of ['hsm1', 'hsm2']) expect(isReady(await rw.kube.get('DedicatedHsm', name)), name).toBe(true);
    rw.world.arm.world.setGatewayState(gw, 'Succeeded');
    await rw.kube.waitReady('DedicatedHsm', 'hsm4', 30_000);
    expect(armPuts(rw.world, 'hsm4')).toBe(1);
    expect(safetyViolations(rw.world)).toEqual([]);
  }, 60_000);
});
