/**
 * The DedicatedHsm phases deploying an HSM, over the in-memory fakes (no API server): observe -> decide -> act, each
 * pass's report applied to the object as the skeleton writes it. What happened is read off the fakes (PUTs, DELETEs,
 * polls, reads) and off the pass (action, conditions, Events, status, when to look again). Every "nothing was sent"
 * is paired with a read counter that proves the pass looked. The behaviours are those of
 * test/integration/controllers/dedicatedhsm/{gateway,race,preflight,restart,deploy-gate}.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { toKubeTime, RetryableError } from '../../../../src/runtime/index.js';
import { DeployGate } from '../../../../src/controllers/dedicatedhsm/deploy-gate.js';
import { ownerTags } from '../../../../src/controllers/dedicatedhsm/ownership.js';
import {
  addAppliance,
  conditionOf,
  dedicatedHsm,
  drive,
  eventsOf,
  hsmWrites,
  metricValue,
  runPass,
  checkedWorlds,
  type PassRun,
} from '../../../support/unit-context.js';

// The phases never write to Kubernetes: every world is checked after each test.
const world = checkedWorlds();

const RACE_MESSAGE =
  "The ExpressRoute gateway 'hsm-ergw' was in provisioning state 'Updating' while the dedicated HSM was being connected: networking dependencies were not ready. Retry the deployment once the gateway has succeeded.";

describe('the unit context', () => {
  it('has no Kubernetes: any use of the manager or the caches throws and is recorded (what every afterEach checks)', () => {
    const w = world();
    expect(() => w.ctx.manager.status).toThrow(/the phases never write to Kubernetes \(manager\.status was used\)/);
    expect(() => w.ctx.caches.dedicatedHsms).toThrow(/never write to Kubernetes/);
    expect(w.managerUses.splice(0)).toEqual(['manager.status', 'caches.dedicatedHsms']);
  });
});

describe('DedicatedHsm phases: the gateway', () => {
  it('gateway not Succeeded: no PUT, GatewayReady=False WaitingForGateway and its Event once; once Succeeded: GatewaySucceeded and one PUT', async () => {
    const w = world({ gatewayState: 'Updating' });
    const started = toKubeTime(new Date(w.clock.now()));
    const r1 = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.calls.getGateway).toBe(1);
    expect(w.azure.calls.beginCreateHsm).toBe(0);
    expect(w.azure.puts()).toBe(0);
    expect(r1.action).toEqual({ kind: 'none', requeueAfter: 1_000 });
    const gw = conditionOf(r1.hsm, 'GatewayReady');
    expect(gw).toMatchObject({ status: 'False', reason: 'WaitingForGateway' });
    expect(gw?.message).toContain('hsm-ergw');
    expect(gw?.message).toContain(`Updating since ${started}`);
    expect(conditionOf(r1.hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'Pending', message: expect.stringContaining('Not deployed yet: WaitingForGateway') });
    expect(conditionOf(r1.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForGateway' });
    expect(conditionOf(r1.hsm, 'Reconciling')?.status).toBe('True');
    expect(conditionOf(r1.hsm, 'Stalled')?.status).toBe('False');
    expect(r1.hsm.status?.gateway).toEqual({ state: 'Updating', since: started });
    expect(r1.events.map((e) => e.reason)).toEqual(['WaitingForGateway']);
    expect(r1.pass.metrics.gatewayWaitSince).toEqual(new Date(w.clock.now()));

    // The next look, after the wait it asked for: read again, the Event not repeated, `since` kept, the wait grows.
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.getGateway).toBe(2);
    expect(w.azure.puts()).toBe(0);
    expect(r2.events).toEqual([]);
    expect(r2.hsm.status?.gateway).toEqual({ state: 'Updating', since: started });
    w.clock.advance(r2.next ?? 0);
    const r3 = await runPass(w, r2.hsm);
    expect(w.azure.calls.getGateway).toBe(3);
    expect(w.azure.puts()).toBe(0);
    expect(r3.next).toBe(2_000);

    w.azure.setGatewayState(w.ids.gatewayId, 'Succeeded');
    w.clock.advance(r3.next ?? 0);
    const r4 = await runPass(w, r3.hsm);
    expect(r4.action?.kind).toBe('create');
    expect(w.azure.puts('hsm1')).toBe(1);
    expect(w.azure.gatewayRaces).toBe(0);
    expect(eventsOf(w, 'WaitingForGateway')).toHaveLength(1);
    // What the Event says (by distinct note: act's fresh re-check of the preflight repeats it within the same pass,
    // and the Event recorder folds identical Events into one series).
    expect([...new Set(eventsOf(w, 'GatewaySucceeded').map((e) => e.note))]).toEqual(['ExpressRoute gateway hsm-ergw is Succeeded after a wait of 4s.']);
    expect(r4.hsm.status?.gateway?.state).toBe('Succeeded');
    expect(conditionOf(r4.hsm, 'GatewayReady')).toMatchObject({ status: 'True', reason: 'GatewaySucceeded' });
    // While the PUT is in flight the status says so, not why an earlier pass held the deployment back.
    expect(conditionOf(r4.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'Provisioning' });
    expect(conditionOf(r4.hsm, 'Ready')?.message).not.toContain('WaitingForGateway');
    expect(r4.pass.metrics.gatewayWaitSince).toBeNull();
  });
  it('a pass that waited on the gateway and then deploys tells GatewaySucceeded once, though the deploy decision judges the gateway again', async () => {
    const w = world({ gatewayState: 'Updating' });
    const r1 = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(r1.events.map((e) => e.reason)).toEqual(['WaitingForGateway']);
    w.azure.setGatewayState(w.ids.gatewayId, 'Succeeded');
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.puts()).toBe(1);
    expect(r2.events.map((e) => e.reason)).toEqual(['GatewaySucceeded', 'Deploying']);
  });
});

describe('DedicatedHsm phases: one PUT, written ahead, then watched', () => {
  it('gateway Succeeded: exactly one PUT, the attempt checkpointed before beginCreateHsm', async () => {
    const w = world();
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(r.action).toMatchObject({ kind: 'create', failed: undefined, round: { redeploys: 0, lastFailure: undefined } });
    expect(w.azure.calls.beginCreateHsm).toBe(1);
    expect(w.azure.puts()).toBe(1);

    // The checkpoint: written once, before the PUT left, with the attempt and the Deploying Event on record.
    expect(r.checkpoints).toHaveLength(1);
    const cp = r.checkpoints[0];
    expect(cp?.azureCalls.beginCreateHsm).toBe(0);
    expect(cp?.azureCalls.getHsm).toBe(1);
    expect(cp?.status.attempts).toBe(1);
    expect(cp?.status.pendingOperation).toBeUndefined();
    expect(cp?.status.conditions?.find((c) => c.type === 'Provisioned')).toMatchObject({ status: 'False', reason: 'Provisioning', message: expect.stringContaining('on its way to Azure') });
    expect(cp?.events.map((e) => e.reason)).toEqual(['Deploying']);
    expect(cp?.events[0]?.note).toContain('attempt 1 of 4');
    // On the wire: the reads first, the PUT last.
    expect(w.azure.requests.at(-1)).toMatchObject({ method: 'PUT', call: 'beginCreateHsm', status: 201 });
    expect(w.azure.requests.slice(0, -1).every((q) => q.method === 'GET')).toBe(true);

    // The report: the resume token, the attempt, the place held in the stamp until ARM lists the HSM.
    expect(r.hsm.status).toMatchObject({ attempts: 1, pendingOperation: { kind: 'create', token: expect.stringMatching(/^fake-create:/), startedAt: toKubeTime(new Date(w.clock.now())) } });
    expect(r.events.map((e) => e.reason)).toEqual(['Deploying']);
    expect(r.outcome).toEqual({ requeueAfter: 1_000 });
    expect(w.env.gate.held(DeployGate.scope(w.ids.subscriptionId, w.ids.location))).toBe(1);
    expect(w.azure.hsm('hsm1')).toMatchObject({ stampId: 'stamp1', location: 'westeurope', provisioningState: 'CheckingQuota' });
  });

  it('operation in flight: no second PUT, polled; it settles to Succeeded -> DeploymentSucceeded, then the appliance is read', async () => {
    const w = world();
    await addAppliance(w, 'hsm1');
    const r1 = await runPass(w, dedicatedHsm(w, 'hsm1'));
    const token = r1.hsm.status?.pendingOperation?.token;

    const preflightReads = w.azure.calls.quotaView + w.azure.calls.getFeature;

    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.pollCreate).toBe(1);
    expect(w.azure.calls.beginCreateHsm).toBe(1);
    expect(w.azure.puts()).toBe(1);
    expect(r2.action).toEqual({ kind: 'none', requeueAfter: 1_000 });
    // In flight, the poll (and the resource) is all that is read.
    expect(r2.obs?.preflight).toBeUndefined();
    expect(w.azure.calls.quotaView + w.azure.calls.getFeature).toBe(preflightReads);
    expect(r2.hsm.status).toMatchObject({ pendingOperation: { token }, provisioningState: 'Connecting', resourceId: expect.stringContaining('/dedicatedHSMs/hsm1') });
    expect(conditionOf(r2.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'Provisioning', message: expect.stringContaining('in flight since') });
    expect(w.device.counters().connections).toBe(0);

    w.clock.advance(r2.next ?? 0);
    const r3 = await runPass(w, r2.hsm);
    expect(w.azure.calls.pollCreate).toBe(2);
    expect(w.azure.puts()).toBe(1);
    expect(r3.events.map((e) => e.reason)).toEqual(['DeploymentSucceeded']);
    expect(eventsOf(w, 'Adopted')).toEqual([]);
    expect(r3.hsm.status?.pendingOperation).toBeUndefined();
    expect(r3.hsm.status).toMatchObject({ provisioningState: 'Succeeded', privateIpAddress: w.firstIp, attempts: 1, appliance: { serial: '572413' } });
    expect(conditionOf(r3.hsm, 'Ready')).toMatchObject({ status: 'True' });
    expect(w.device.counters().commands.byName['hsm show']).toBe(1);
    expect(await metricValue(w, 'hsm_operator_deployment_attempts_total', { class: 'succeeded' })).toBe(1);
    // ARM lists the HSM now: the reservation is gone at the next quota reading.
    expect(hsmWrites(w)).toEqual(['PUT hsm1']);
  });

  it('operation in flight longer than the timeout: OperationTimedOut once, still watched, never sent again', async () => {
    const w = world({ settings: { operationTimeoutMs: 5_000 } });
    await addAppliance(w, 'hsm1');
    w.azure.lroNeverFinishes('hsm1');
    const r1 = await runPass(w, dedicatedHsm(w, 'hsm1'));
    w.clock.advance(6_000);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.pollCreate).toBe(1);
    expect(r2.events.map((e) => e.reason)).toEqual(['OperationTimedOut']);
    expect(r2.events[0]?.type).toBe('Warning');
    expect(conditionOf(r2.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'DeploymentFailed', message: expect.stringContaining('sends no second PUT') });
    expect(r2.hsm.status?.pendingOperation?.kind).toBe('create');

    w.clock.advance(r2.next ?? 0);
    const r3 = await runPass(w, r2.hsm);
    expect(w.azure.calls.pollCreate).toBe(2);
    expect(r3.events).toEqual([]);
    expect(eventsOf(w, 'OperationTimedOut')).toHaveLength(1);
    expect(conditionOf(r3.hsm, 'Provisioned')?.reason).toBe('DeploymentFailed');

    // A late success is taken.
    w.azure.lroNeverFinishes('hsm1', false);
    w.clock.advance(r3.next ?? 0);
    const r4 = await runPass(w, r3.hsm);
    expect(r4.events.map((e) => e.reason)).toEqual(['DeploymentSucceeded']);
    expect(conditionOf(r4.hsm, 'Provisioned')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(w.azure.puts()).toBe(1);
    expect(w.azure.calls.beginCreateHsm).toBe(1);
  });
});

describe('DedicatedHsm phases: the deployment race', () => {
  it('rerun with growing backoff, then the failed resource deleted and redeployed, then DeploymentFailed after redeployAfter rounds', async () => {
    const w = world();
    w.azure.failNextPuts(20, 'race');
    const hsm = dedicatedHsm(w, 'hsm1', { raceRetries: 2, redeployAfter: 1 });

    // The first PUT fails on the race: recorded, and the rerun waits the first backoff.
    const first = await drive(w, hsm, (r) => r.events.some((e) => e.reason === 'DeploymentRace'));
    const failed = first.runs.at(-1) as PassRun;
    expect(w.azure.puts()).toBe(1);
    expect(failed.action).toEqual({ kind: 'none', requeueAfter: 1_000 });
    expect(failed.hsm.status).toMatchObject({ attempts: 1, lastFailure: { class: 'DeploymentRace', code: 'NetworkingDependencyNotReady' }, provisioningState: 'Failed' });
    expect(failed.hsm.status?.pendingOperation).toBeUndefined();
    expect(conditionOf(failed.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'DeploymentRace' });
    expect(failed.pass.metrics.attempts).toEqual(['race']);

    // Looked at again before the backoff is over: read, not sent.
    const reads = w.azure.calls.getHsm;
    const early = await runPass(w, failed.hsm);
    expect(w.azure.calls.getHsm).toBe(reads + 1);
    expect(w.azure.puts()).toBe(1);
    expect(early.action).toEqual({ kind: 'none', requeueAfter: 1_000 });
    expect(conditionOf(early.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'DeploymentRace' });

    // The rest of the ladder, each pass after the wait the previous one asked for.
    const rest = await drive(w, early.hsm, (r) => conditionOf(r.hsm, 'Provisioned')?.reason === 'DeploymentFailed');
    const runs = [...first.runs, early, ...rest.runs];
    const raced = runs.filter((r) => r.events.some((e) => e.reason === 'DeploymentRace'));
    // Round 1: backoff 1 s, then 2 s, then the redeploy; round 2: 1 s, 2 s, then give up.
    expect(raced.map((r) => r.action?.kind)).toEqual(['none', 'none', 'deleteFailed', 'none', 'none', 'none']);
    expect(raced.slice(0, 2).map((r) => r.next)).toEqual([1_000, 2_000]);
    expect(raced.slice(3, 5).map((r) => r.next)).toEqual([1_000, 2_000]);
    expect(w.azure.puts()).toBe(6);
    expect(w.azure.deletes()).toBe(1);
    expect(hsmWrites(w)).toEqual(['PUT hsm1', 'PUT hsm1', 'PUT hsm1', 'DELETE hsm1', 'PUT hsm1', 'PUT hsm1', 'PUT hsm1']);

    // The redeploy: the failed resource deleted (its delete polled to the end), the round counted, attempts from 0.
    const redeploy = raced[2] as PassRun;
    expect(redeploy.action).toMatchObject({ kind: 'deleteFailed', failed: { provisioningState: 'Failed' }, round: { attempts: 3, redeploys: 0 } });
    expect(redeploy.events.map((e) => e.reason)).toEqual(['DeploymentRace', 'Redeploying']);
    expect(redeploy.hsm.status?.pendingOperation?.kind).toBe('delete');
    expect(conditionOf(redeploy.hsm, 'Provisioned')?.reason).toBe('Redeploying');
    expect(w.azure.calls.pollDelete).toBe(2);
    const afterDelete = runs[runs.indexOf(redeploy) + 2] as PassRun;
    expect(afterDelete.action?.kind).toBe('create');
    expect(afterDelete.hsm.status).toMatchObject({ redeploys: 1, attempts: 1 });

    // Given up: the failure says to raise a support request; Stalled; the failed resource is left for a human.
    const end = rest.hsm;
    expect(end.status).toMatchObject({ attempts: 3, redeploys: 1, lastFailure: { class: 'DeploymentFailed', code: 'NetworkingDependencyNotReady' } });
    expect(conditionOf(end, 'Ready')).toMatchObject({ status: 'False', reason: 'DeploymentFailed', message: expect.stringContaining('Issues configuring the Azure setup') });
    expect(conditionOf(end, 'Stalled')?.status).toBe('True');
    expect(eventsOf(w, 'DeploymentRace')).toHaveLength(6);
    expect(eventsOf(w, 'Deploying')).toHaveLength(6);
    expect(eventsOf(w, 'Redeploying')).toHaveLength(1);
    expect(eventsOf(w, 'DeploymentFailed')).toHaveLength(1);
    expect(w.azure.hsm('hsm1')?.provisioningState).toBe('Failed');
    expect(await metricValue(w, 'hsm_operator_deployment_attempts_total', { class: 'race' })).toBe(6);

    // And it stays given up: looked at, nothing sent, nothing announced again.
    const getHsm = w.azure.calls.getHsm;
    w.clock.advance(rest.runs.at(-1)?.next ?? 0);
    const later = await runPass(w, end);
    expect(w.azure.calls.getHsm).toBe(getHsm + 1);
    expect(later.action?.kind).toBe('none');
    expect(later.events).toEqual([]);
    expect(w.azure.puts()).toBe(6);
    expect(w.azure.deletes()).toBe(1);
  });

  it('an InternalServerError deployment is transient: AzureUnavailable, rerun after the short floor, no redeploy', async () => {
    const w = world();
    w.azure.failNextPuts(1, 'internal');
    const { hsm, runs } = await drive(w, dedicatedHsm(w, 'hsm1', { raceRetries: 0, redeployAfter: 1 }), (r) => r.events.some((e) => e.reason === 'DeploymentSucceeded'));
    const failed = runs.find((r) => r.events.some((e) => e.reason === 'AzureUnavailable')) as PassRun;
    expect(failed.hsm.status?.lastFailure).toMatchObject({ class: 'AzureUnavailable' });
    expect(failed.action).toEqual({ kind: 'none', requeueAfter: 1_000 });
    expect(w.azure.puts()).toBe(2);
    expect(w.azure.deletes()).toBe(0);
    expect(hsm.status?.redeploys).toBeUndefined();
    expect(conditionOf(hsm, 'Provisioned')).toMatchObject({ status: 'True' });
  });
});

describe('DedicatedHsm phases: preflight holds the deployment back', () => {
  it('quota used up by two failed leftovers: QuotaExceeded names them, no PUT, looked at again within the quota recheck', async () => {
    const w = world();
    const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
    for (const name of ['old-failed-1', 'old-failed-2']) w.azure.addHsm({ subscriptionId, resourceGroup, name, location, subnetId, stampId: 'stamp1', provisioningState: 'Failed' });
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.calls.quotaView).toBe(1);
    expect(w.azure.puts()).toBe(0);
    const quota = conditionOf(r.hsm, 'QuotaAvailable');
    expect(quota).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(quota?.message).toContain('stamp1 holds 2 of 2 HSMs');
    expect(quota?.message).toContain('old-failed-1 (stamp1), old-failed-2 (stamp1): delete them');
    expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'Pending', message: expect.stringContaining('Not deployed yet: QuotaExceeded') });
    expect(conditionOf(r.hsm, 'Ready')?.reason).toBe('QuotaExceeded');
    expect(conditionOf(r.hsm, 'Stalled')?.status).toBe('True');
    expect(r.action?.kind).toBe('none');
    // spreadBelow(min(needsHumanRecheckMs, gatewayWaitMaxMs)): at most 8 s, at least 90% of it.
    expect(r.next).toBeLessThanOrEqual(8_000);
    expect(r.next).toBeGreaterThanOrEqual(7_200);
  });

  it('quota: its own failed leftover does not count against it, nor is it named as a leftover to delete', async () => {
    const w = world();
    const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
    w.azure.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, subnetId, stampId: 'stamp1', provisioningState: 'Failed', statusMessage: RACE_MESSAGE, tags: ownerTags(dedicatedHsm(w, 'hsm1')) });
    for (const name of ['old-failed-1', 'old-failed-2']) w.azure.addHsm({ subscriptionId, resourceGroup, name, location, subnetId, stampId: 'stamp1', provisioningState: 'Failed' });
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.calls.quotaView).toBe(1);
    expect(w.azure.puts()).toBe(0);
    const quota = conditionOf(r.hsm, 'QuotaAvailable');
    // Three in stamp1 as ARM lists them; two of them count against this HSM.
    expect(quota).toMatchObject({ status: 'False', reason: 'QuotaExceeded', message: expect.stringContaining('stamp1 holds 2 of 2 HSMs') });
    expect(quota?.message).toContain('Failed deployments still consuming quota: old-failed-1 (stamp1), old-failed-2 (stamp1): delete them.');
    expect(quota?.message).not.toMatch(/\bhsm1\b/);
    // Its own failure is what Provisioned keeps saying while quota holds it back.
    expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'False', reason: 'DeploymentRace' });
    expect(r.hsm.status?.resourceId).toContain('/dedicatedHSMs/hsm1');
  });

  it('quota: with its own failed leftover and one other in a stamp of two, it fits and the rerun is one PUT on its own resource', async () => {
    const w = world();
    const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
    w.azure.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, subnetId, stampId: 'stamp1', provisioningState: 'Failed', statusMessage: RACE_MESSAGE, tags: ownerTags(dedicatedHsm(w, 'hsm1')) });
    w.azure.addHsm({ subscriptionId, resourceGroup, name: 'old-failed-1', location, subnetId, stampId: 'stamp1', provisioningState: 'Failed' });
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'));
    // The quota as the decision to PUT saw it (on record in the checkpoint; once in flight the resource holds it).
    expect(r.checkpoints[0]?.status.conditions?.find((c) => c.type === 'QuotaAvailable')).toMatchObject({ status: 'True', reason: 'WithinQuota', message: expect.stringContaining('stamp1 holds 1 of 2') });
    expect(r.action).toMatchObject({ kind: 'create', failed: { name: 'hsm1', provisioningState: 'Failed' } });
    expect(r.events.map((e) => e.reason)).toEqual(['Adopted', 'DeploymentRace', 'Deploying']);
    expect(w.azure.puts('hsm1')).toBe(1);
    expect(w.azure.hsm('hsm1')?.provisioningState).toBe('CheckingQuota');
    w.azure.completeOperations();
    w.clock.advance(r.next ?? 0);
    const done = await runPass(w, r.hsm);
    expect(done.events.map((e) => e.reason)).toEqual(['DeploymentSucceeded']);
    expect(w.azure.hsm('hsm1')?.provisioningState).toBe('Succeeded');
    expect(w.azure.puts()).toBe(1);
  });

  it('subnet not delegated: SubnetNotDelegated, no PUT; delegated and resync-now: one PUT', async () => {
    const w = world({ delegated: false });
    const r1 = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.calls.getSubnet).toBe(1);
    expect(w.azure.puts()).toBe(0);
    expect(conditionOf(r1.hsm, 'SubnetDelegated')).toMatchObject({ status: 'False', reason: 'SubnetNotDelegated', message: expect.stringContaining('Microsoft.HardwareSecurityModules/dedicatedHSMs') });
    expect(conditionOf(r1.hsm, 'Ready')?.reason).toBe('SubnetNotDelegated');
    expect(conditionOf(r1.hsm, 'Stalled')?.status).toBe('True');
    expect(r1.action).toEqual({ kind: 'none', requeueAfter: 30_000 });

    // Still not delegated a little later: looked at (the shared reading expired), nothing sent.
    w.clock.advance(1_000);
    await runPass(w, r1.hsm);
    expect(w.azure.calls.getSubnet).toBe(2);
    expect(w.azure.puts()).toBe(0);

    // A human delegates it and asks for a re-check: the shared reading is dropped, read afresh, deployed.
    w.azure.setSubnetDelegated(w.ids.subnetId, true);
    const r2 = await runPass(w, r1.hsm, { recheck: true });
    expect(w.azure.calls.getSubnet).toBe(3);
    expect(r2.action?.kind).toBe('create');
    expect(w.azure.puts()).toBe(1);
    expect(conditionOf(r2.hsm, 'SubnetDelegated')).toMatchObject({ status: 'True', reason: 'Delegated' });
    expect(eventsOf(w, 'ResyncRequested')).toHaveLength(1);
  });

  it('feature not registered (allowlisting): NotAllowlisted, no PUT', async () => {
    const w = world();
    w.azure.unregisterFeature('Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM');
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.calls.getFeature).toBe(2);
    expect(w.azure.puts()).toBe(0);
    const p = conditionOf(r.hsm, 'Provisioned');
    expect(p).toMatchObject({ status: 'False', reason: 'NotAllowlisted' });
    expect(p?.message).toContain('AzureDedicatedHSM is NotRegistered');
    expect(p?.message).toMatch(/Microsoft account manager/);
    expect(p?.message).not.toContain('AllowBaremetalServers is');
    expect(conditionOf(r.hsm, 'Ready')?.reason).toBe('NotAllowlisted');
    expect(r.action).toEqual({ kind: 'none', requeueAfter: 30_000 });
  });
});

describe('DedicatedHsm phases: the resource cannot be read', () => {
  it('throttled: action retry with the Retry-After; the next read waits for it (nothing sent), then it deploys', async () => {
    const w = world();
    w.azure.throttle('getHsm', 30);
    const r1 = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.count({ call: 'getHsm' })).toBe(1);
    expect(r1.action).toMatchObject({ kind: 'retry', retryAfterMs: 30_000 });
    expect(r1.error).toBeInstanceOf(RetryableError);
    expect(r1.error?.retryAfterMs).toBe(30_000);
    expect(conditionOf(r1.hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'Throttled' });
    expect(w.azure.calls.getGateway + w.azure.calls.quotaView + w.azure.calls.beginCreateHsm).toBe(0);

    // Too early: the plane refuses the call itself (Retry-After honoured), nothing reaches ARM.
    w.clock.advance(10_000);
    const r2 = await runPass(w, r1.hsm);
    expect(w.azure.calls.getHsm).toBe(2);
    expect(w.azure.count({ call: 'getHsm' })).toBe(1);
    expect(r2.action).toMatchObject({ kind: 'retry', retryAfterMs: 20_000 });
    expect(w.azure.puts()).toBe(0);

    w.clock.advance(r2.next ?? 0);
    const r3 = await runPass(w, r2.hsm);
    expect(w.azure.count({ call: 'getHsm' })).toBe(2);
    expect(r3.action?.kind).toBe('create');
    expect(w.azure.puts()).toBe(1);
  });

  it('a failed read (503): action retry after the first wait, AzureUnavailable, no PUT', async () => {
    const w = world();
    w.azure.failNext('getHsm', { status: 503, code: 'ServiceUnavailable', message: 'The service is temporarily unavailable.' });
    const r = await runPass(w, dedicatedHsm(w, 'hsm1'));
    expect(w.azure.count({ call: 'getHsm' })).toBe(1);
    expect(r.action).toMatchObject({ kind: 'retry', retryAfterMs: 1_000 });
    expect(r.error).toBeInstanceOf(RetryableError);
    expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'AzureUnavailable' });
    expect(w.azure.puts()).toBe(0);
    w.clock.advance(r.next ?? 0);
    expect((await runPass(w, r.hsm)).action?.kind).toBe('create');
  });
});
