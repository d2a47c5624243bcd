/**
 * Decide: what one DedicatedHsm pass does, from the spec, its status and what observe.ts read. Pure (no I/O): the
 * conditions, status fields, Events and metric changes go into the pass; the answer is one action from a closed
 * union, which act.ts carries out. Top to bottom, the guide's order:
 *
 *   an operation in flight   -> wait for it (never a second PUT: invariant 3), or take what it settled to
 *   the resource unreadable  -> retry
 *   not ours (ownership.ts)  -> refuse it without telling its settings, touch nothing
 *   immutable drift          -> report, touch nothing
 *   Succeeded                -> NIC, network, tags, appliance            (updateTags | none)
 *   Provisioning / Deleting  -> watch it                                 (none)
 *   missing or Failed        -> round, preflight, the deployment ladder  (create | deleteFailed | none)
 */
import { Annotations, type ConditionLike, type DedicatedHsm, type ReconcileMode } from '../../api/index.js';
import { classifyFailedProvisioning, vnetOfSubnet, ACTIONS, type GatewayState, type HsmState } from '../../azure/index.js';
import { getCondition, type Condition } from '../../runtime/index.js';
import { spreadBelow, type OperatorSettings } from '../shared/index.js';
import { applianceChecks, mergeApplianceStatus } from './appliance-checks.js';
import { NOT_BLOCKED } from './deletion.js';
import { nextDeployStep, roundRestarts } from './deployment.js';
import { armName, quotaStampKey, shortName, tagsToWrite } from './desired.js';
import type { NetworkReads, Observation, PreflightReads, Settlement } from './observe.js';
import type { Pass } from './pass.js';
import { featureCondition, gatewayVerdict, QUOTA_HELD, quotaCondition, readFailure, subnetCondition, type Read } from './preflight.js';
import { attemptSucceeded, forgetResource, giveUpOnRedeploy, reassert, recordFailure, recordGiveUp, recordResource, redeployRound, resetRound, roundOf, type Round } from './record.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, formatDuration, gatewayWaitDelay, pollMs, quotaRecheckMs, resyncMs } from './timing.js';

/** What act.ts carries out after a pass is decided. */
export type HsmAction =
  /** Nothing to write anywhere: report and look again. */
  | { kind: 'none'; requeueAfter: number }
  /** The resource could not be read: report, then fail the pass so the runtime backs off. */
  | { kind: 'retry'; message: string; retryAfterMs: number }
  /** Deploy (PUT), alone in the subscription and region, after fresh preconditions (act.ts). */
  | { kind: 'create'; round: Round; failed: HsmState | undefined }
  /** Race retries used up: delete the failed resource, then deploy again (a redeploy). */
  | { kind: 'deleteFailed'; round: Round; failed: HsmState }
  /** The one property Azure lets change: tags, patched when they differ. */
  | { kind: 'updateTags'; tags: Record<string, string>; requeueAfter: number };

export interface DecideInput {
  hsm: DedicatedHsm;
  mode: Exclude<ReconcileMode, 'paused'>;
  /** resync-now fired: waits end now. */
  recheck: boolean;
  obs: Observation;
  settings: OperatorSettings;
}

const AZURE_RETRYING = new Set(['Throttled', 'AzureUnavailable']);

export function decide(i: DecideInput, pass: Pass): HsmAction {
  const { hsm, obs, mode, settings: s } = i;
  const name = armName(hsm);
  const a = hsm.spec.azure;
  const status = hsm.status ?? {};
  const now = pass.now.getTime();
  const round = roundOf(hsm);
  pass.condition(NOT_BLOCKED);
  if (mode === 'observe') {
    pass.happy = { reason: 'Observing', message: `${Annotations.reconcile}=observe: Azure and the appliance are read and reported; nothing is written to either.` };
  }

  if (obs.operation && operationStillRuns(hsm, obs.operation.settlement, pass, round, s)) {
    return { kind: 'none', requeueAfter: pass.requeueAfter ?? pollMs(s, hsm, now) };
  }
  const read = obs.resource;
  if (!read) throw new Error('observe read no resource although no operation is in flight');
  if (!read.ok) {
    const f = read.failure;
    pass.condition(readFailure('Provisioned', `HSM ${name}`, f));
    return { kind: 'retry', message: `reading HSM ${name}: ${f.message}`, retryAfterMs: Math.max(f.retryAfterMs ?? 0, s.gatewayWaitInitialMs) };
  }

  const existing = read.value;
  if (existing) {
    if (obs.ownership?.kind === 'notOurs') return adoptionRefused(hsm, pass, s);
    if (obs.drift?.length) return adoptionConflict(hsm, existing, obs.drift, pass, s);
    if (status.resourceId === undefined && !status.pendingOperation) {
      pass.event('Normal', 'Adopted', `Adopted the existing Azure HSM ${existing.id} (provisioningState ${existing.provisioningState ?? 'unknown'}) instead of creating a second one.`);
    }
    recordResource(pass, existing);
    if (existing.provisioningState === 'Succeeded') return provisioned(i, existing, pass);
    if (existing.provisioningState !== 'Failed') {
      // A deployment (or deletion) someone started, or ours whose token was lost: watch it by reading the resource.
      const deleting = existing.provisioningState === 'Deleting';
      pass.condition({
        type: 'Provisioned',
        status: 'False',
        reason: deleting ? 'OperationInProgress' : 'Provisioning',
        message: deleting
          ? `Azure HSM ${name} is being deleted (provisioningState Deleting); the operator waits for the operation to end.`
          : `Azure HSM ${name} is provisioning (provisioningState ${existing.provisioningState ?? 'unknown'}); this takes about 25-30 minutes.`,
      });
      pass.condition(QUOTA_HELD);
      if (obs.network) networkConditions(hsm, obs.network, pass, s);
      return { kind: 'none', requeueAfter: pollMs(s, hsm, now) };
    }
  } else if (status.resourceId !== undefined) {
    if (status.provisioningState === 'Succeeded') {
      pass.event('Warning', 'DeletedOutOfBand', `Azure HSM ${name} was deleted outside the operator.${mode === 'manage' ? ' It is deployed again.' : ' Observe mode: it is only reported.'}`);
      resetRound(pass, round);
      pass.clear('appliance');
    }
    forgetResource(pass);
  }

  // Not there, or Failed: the deployment path.
  const failed = existing;
  if (roundRestarts(status.observedGeneration, hsm.metadata.generation) && (round.attempts || round.redeploys || round.lastFailure)) {
    // A changed spec starts a new round: whatever a human fixed gets a fresh chance.
    resetRound(pass, round);
  }
  if (failed && !round.lastFailure) recordFailure(hsm, pass, round, classifyFailedProvisioning(failed.statusMessage), { attempt: false });
  if (!obs.preflight) throw new Error('observe read no preflight for a missing or Failed resource');
  const pre = checkPreflight(hsm, obs.preflight, pass, s);
  if (mode === 'observe') {
    if (!failed) {
      pass.condition({
        type: 'Provisioned',
        status: 'False',
        reason: 'ResourceMissing',
        message: `Azure HSM ${name} does not exist in resource group ${a.resourceGroup}. Observe mode deploys nothing: set ${Annotations.reconcile}=manage to deploy it.`,
      });
    } else reassert(hsm, pass, round.lastFailure);
    return { kind: 'none', requeueAfter: resyncMs(s, hsm) };
  }
  if (pre.blocked) {
    holdBack(hsm, pass, pre, failed, round);
    return { kind: 'none', requeueAfter: pass.requeueAfter ?? resyncMs(s, hsm) };
  }

  const dep = hsm.spec.deployment;
  const step = nextDeployStep({
    now,
    lastFailure: round.lastFailure,
    attempts: round.attempts,
    redeploys: round.redeploys,
    raceRetries: dep.raceRetries,
    redeployAfter: dep.redeployAfter,
    recheckNow: i.recheck,
    settings: s,
  });
  switch (step.kind) {
    case 'wait':
      reassert(hsm, pass, round.lastFailure);
      pass.log('info', { waitMs: Math.round(step.ms), why: step.why }, 'deployment waits');
      return { kind: 'none', requeueAfter: step.ms };
    case 'giveUp':
      if (round.lastFailure?.class !== 'DeploymentFailed') recordGiveUp(pass, round, step.message, round.lastFailure?.code);
      pass.condition({ type: 'Provisioned', status: 'False', reason: 'DeploymentFailed', message: step.message });
      return { kind: 'none', requeueAfter: resyncMs(s, hsm) };
    case 'redeploy':
      if (failed) return { kind: 'deleteFailed', round, failed };
      redeployRound(pass, round);
      return { kind: 'create', round, failed };
    case 'deploy':
      return { kind: 'create', round, failed };
  }
}

/**
 * The operation status.pendingOperation records, as its poll settled: true while it still runs (the pass only
 * reports), false when the resource it settled to is what the pass goes on with.
 */
export function operationStillRuns(hsm: DedicatedHsm, st: Settlement, pass: Pass, round: Round, s: OperatorSettings): boolean {
  const op = hsm.status?.pendingOperation;
  const name = armName(hsm);
  const poll = pollMs(s, hsm, pass.now.getTime());
  switch (st.kind) {
    case 'creating': {
      if (st.current) recordResource(pass, st.current);
      if (st.retryAfterMs !== undefined) pass.after(Math.max(st.retryAfterMs, poll));
      const startedAt = op?.startedAt ?? pass.nowIso;
      const timeoutMs = s.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
      if (pass.now.getTime() - Date.parse(startedAt) > timeoutMs) {
        // Overdue: no longer progress. Still watched (a late success is taken), never sent again.
        const message = `Deployment of HSM ${name} has been in flight since ${startedAt}, longer than the operation timeout (${formatDuration(timeoutMs)}; deployments take about 25-30 minutes): it timed out. The operator keeps watching it and sends no second PUT. Check the deployment of ${name} in the Azure portal; if it is stuck, open a support request.`;
        const prev = getCondition(hsm.status?.conditions as Condition[] | undefined, 'Provisioned');
        if (prev?.reason !== 'DeploymentFailed') pass.event('Warning', 'OperationTimedOut', message);
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'DeploymentFailed', message });
      } else {
        pass.condition({
          type: 'Provisioned',
          status: 'False',
          reason: 'Provisioning',
          message: `Deployment of HSM ${name} is in flight since ${startedAt} (attempt ${round.attempts || 1}); provisioning takes about 25-30 minutes.`,
        });
      }
      pass.condition(QUOTA_HELD);
      return true;
    }
    case 'created':
      pass.clear('pendingOperation');
      attemptSucceeded(hsm, pass);
      return false;
    case 'createFailed': {
      pass.clear('pendingOperation');
      const f = st.failure;
      // A poll that failed only transiently says nothing of why the deployment failed: the resource's message does.
      const outcome = f.class === 'transient' || f.class === 'throttled' ? classifyFailedProvisioning(st.resource.statusMessage) : f;
      recordFailure(hsm, pass, round, outcome, { attempt: false });
      return false;
    }
    case 'createGone':
      pass.clear('pendingOperation');
      return false;
    case 'tokenUnusable':
      // The token is unusable (not ours, corrupted): forget it and watch the resource itself instead.
      pass.log('warn', { err: st.failure.message }, 'pending operation token unusable; watching the resource instead');
      pass.clear('pendingOperation');
      return false;
    case 'deletingFailed':
      if (st.failure) {
        pass.after(Math.max(st.retryAfterMs ?? 0, poll));
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} before deploying it again; polling failed (${st.failure.message}), retrying.` });
      } else {
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} before deploying it again (since ${op?.startedAt ?? pass.nowIso}).` });
      }
      return true;
    case 'deletedFailed':
      pass.clear('pendingOperation');
      redeployRound(pass, round);
      return false;
    case 'redeployDeleteRefused':
      pass.clear('pendingOperation');
      giveUpOnRedeploy(hsm, pass, round, st.failure);
      return true;
  }
}

/**
 * An HSM of this name exists and is not this object's (ownership.ts): it is not adopted, and the message says only
 * that it exists, never how it is set up or whose it is.
 */
function adoptionRefused(hsm: DedicatedHsm, pass: Pass, s: OperatorSettings): HsmAction {
  const name = armName(hsm);
  const a = hsm.spec.azure;
  const message = `An Azure HSM named ${name} already exists in resource group ${a.resourceGroup} and does not carry this DedicatedHsm's ownership tag, so it is not adopted: nothing is written to it or read from its appliance. To manage it from this object, set the annotation ${Annotations.adopt} to its name (${name}) or its ARM resource ID; otherwise choose another spec.azure.name.`;
  pass.condition({ type: 'Provisioned', status: 'False', reason: 'AdoptionRefused', message });
  pass.override = { reason: 'AdoptionRefused', severity: 'needsHuman', message };
  const prev = getCondition(hsm.status?.conditions as Condition[] | undefined, 'Provisioned');
  if (prev?.reason !== 'AdoptionRefused') pass.event('Warning', 'AdoptionRefused', `Azure HSM ${name} exists and is not this object's; it is not adopted (set ${Annotations.adopt} to adopt it).`);
  return { kind: 'none', requeueAfter: resyncMs(s, hsm) };
}

function adoptionConflict(hsm: DedicatedHsm, existing: HsmState, drift: string[], pass: Pass, s: OperatorSettings): HsmAction {
  const name = armName(hsm);
  const adopted = hsm.status?.resourceId !== undefined;
  const message = `Azure HSM ${name} in resource group ${existing.resourceGroup} has other ${drift.join(', ')} than the spec asks. ${adopted ? 'The difference is reported, not "fixed" by a PUT.' : 'It is not adopted.'} ${ACTIONS.immutable}`;
  pass.condition({ type: 'Provisioned', status: 'False', reason: 'AdoptionConflict', message });
  // It overrides every other check: nothing else about this resource is ours to judge.
  pass.override = { reason: 'AdoptionConflict', severity: 'needsHuman', message };
  pass.event('Warning', adopted ? 'ImmutableDrift' : 'AdoptionConflict', `Azure HSM ${name} differs from the spec in ${drift.join(', ')} (immutable); nothing is written to it.`);
  return { kind: 'none', requeueAfter: resyncMs(s, hsm) };
}

/** Provisioned: record the NIC, report the network, keep the tags, judge the appliance. */
function provisioned(i: DecideInput, existing: HsmState, pass: Pass): HsmAction {
  const { hsm, settings: s } = i;
  const d = i.obs.deployed;
  if (!d) throw new Error('observe read no appliance for a Succeeded resource');
  if (existing.nicId) pass.put('nicId', existing.nicId);
  if (d.ip) pass.put('privateIpAddress', d.ip);
  pass.condition({
    type: 'Provisioned',
    status: 'True',
    reason: 'Succeeded',
    message: `provisioningState Succeeded${existing.statusMessage ? `: ${existing.statusMessage}` : '.'}`,
  });
  pass.condition(QUOTA_HELD);
  networkConditions(hsm, d.network, pass, s);

  const checks = applianceChecks(d.appliance);
  pass.condition(...checks.conditions);
  if (checks.appliance) pass.put('appliance', mergeApplianceStatus(hsm.status?.appliance, checks.appliance, pass.now));
  // status.credentialGuard follows the guard for this appliance: a success with a fixed Secret clears it.
  if (d.guard) {
    if (d.guard.length) pass.put('credentialGuard', d.guard);
    else pass.clear('credentialGuard');
  }
  const ssh = d.appliance.ssh;
  pass.metrics.applianceReachable = ssh.kind === 'ok';
  if (ssh.kind === 'ok') pass.metrics.rebootPatchInstalled = ssh.facts.rebootPatchInstalled;
  else if (ssh.kind === 'failed' && ssh.problem.reason === 'CredentialRejected' && hsm.status?.appliance === undefined) pass.metrics.rebootPatchInstalled = null;

  const transient = (ssh.kind === 'failed' && !ssh.problem.needsHuman) || d.appliance.ntls.kind === 'unreachable';
  const resync = resyncMs(s, hsm);
  const requeueAfter = Math.min(pass.requeueAfter ?? resync, transient ? Math.min(resync, s.gatewayWaitMaxMs) : resync);

  // Tags are the one property Azure lets change: patched when they differ (the ownership tags included, so an
  // adopted HSM is tagged as ours), never a blind PUT.
  const tags = tagsToWrite(hsm, existing.tags);
  if (tags) {
    if (i.mode === 'manage') return { kind: 'updateTags', tags, requeueAfter };
    pass.log('info', { hsm: armName(hsm) }, 'observe mode: tags differ from the spec; not updated');
  }
  return { kind: 'none', requeueAfter };
}

/** The network a deployed HSM hangs off, reported, never changed; a failed read is not worth a red Ready. */
function networkConditions(hsm: DedicatedHsm, n: NetworkReads, pass: Pass, s: OperatorSettings): void {
  if (n.subnet.ok) pass.condition(subnetCondition(n.subnet, hsm.spec.azure.subnetId));
  const gw = gatewayCheck(hsm, pass, n.gateway, true, s);
  if (n.gateway.ok) pass.condition(gw.condition);
}

export interface PreflightVerdict {
  blocked: boolean;
  /** The first failing check, for "Not deployed yet: ...". */
  why: string;
  /** A failing check already set Provisioned. */
  provisionedSaid: boolean;
}

/** The four checks a deployment needs, as conditions, and when to look again for each that fails. */
export function checkPreflight(hsm: DedicatedHsm, r: PreflightReads, pass: Pass, s: OperatorSettings): PreflightVerdict {
  const a = hsm.spec.azure;
  const checks: ConditionLike[] = [];
  const feature = featureCondition(r.features);
  if (feature) checks.push(feature);
  checks.push(subnetCondition(r.subnet, a.subnetId));
  const gw = gatewayCheck(hsm, pass, r.gateway, false, s);
  checks.push(gw.condition);
  const recheck = quotaRecheckMs(s);
  checks.push(quotaCondition(r.quota, quotaStampKey(hsm), a.location, recheck));
  pass.condition(...checks);

  const failing = checks.filter((c) => c.status !== 'True');
  if (failing.length === 0) return { blocked: false, why: '', provisionedSaid: false };
  const reads: Read<unknown>[] = [r.features, r.subnet, r.gateway, r.quota];
  const retryAfter = Math.max(0, ...reads.map((x) => (x.ok ? 0 : (x.failure.retryAfterMs ?? 0))));
  for (const c of failing) {
    if (AZURE_RETRYING.has(c.reason)) pass.after(Math.max(retryAfter, s.gatewayWaitInitialMs));
    else if (c.reason === 'WaitingForGateway') pass.after(gw.nextLookMs);
    else if (c.reason === 'QuotaExceeded') pass.after(spreadBelow(recheck));
    else pass.after(s.needsHumanRecheckMs);
  }
  const first = failing[0] as ConditionLike;
  return { blocked: true, why: `${first.reason}: ${first.message}`, provisionedSaid: failing.some((c) => c.type === 'Provisioned') };
}

/** Preflight holds the deployment back: a failed resource keeps its failure; a missing one says why it waits. */
export function holdBack(hsm: DedicatedHsm, pass: Pass, pre: PreflightVerdict, failed: HsmState | undefined, round: Round): void {
  if (failed) reassert(hsm, pass, round.lastFailure);
  else if (!pre.provisionedSaid) pass.condition({ type: 'Provisioned', status: 'Unknown', reason: 'Pending', message: `Not deployed yet: ${pre.why}` });
}

/** The gateway verdict, status.gateway, the wait metric and the Events of a wait starting or ending. */
function gatewayCheck(hsm: DedicatedHsm, pass: Pass, gateway: Read<GatewayState | undefined>, deployed: boolean, s: OperatorSettings): { condition: ConditionLike; nextLookMs: number } {
  const a = hsm.spec.azure;
  const prev = hsm.status?.gateway;
  const provisional = gatewayVerdict({ read: gateway, gatewayId: a.expressRouteGatewayId, hsmVnetId: vnetOfSubnet(a.subnetId), since: undefined, deployed });
  const since = prev?.state === provisional.state && prev.since ? prev.since : pass.nowIso;
  const v = gatewayVerdict({ read: gateway, gatewayId: a.expressRouteGatewayId, hsmVnetId: vnetOfSubnet(a.subnetId), since, deployed });
  if (gateway.ok) pass.put('gateway', { state: v.state, since });
  const waitedMs = pass.now.getTime() - Date.parse(since);
  const prevCondition = getCondition(hsm.status?.conditions as Condition[] | undefined, 'GatewayReady');
  const name = shortName(a.expressRouteGatewayId);
  if (v.waiting && !deployed) {
    pass.metrics.gatewayWaitSince = new Date(since);
    const next = gatewayWaitDelay(waitedMs, s);
    pass.log('info', { gateway: name, state: v.state, waitedMs, nextLookMs: next }, 'waiting for the ExpressRoute gateway');
    // A pass may judge the gateway twice (the deploy decision re-reads it): it is told once.
    if ((prevCondition?.reason !== 'WaitingForGateway' || prev?.state !== v.state) && !pass.announced.has('WaitingForGateway')) {
      pass.event('Normal', 'WaitingForGateway', `ExpressRoute gateway ${name} is ${v.state}: no HSM is deployed until it is Succeeded; looking again in ${formatDuration(next)}.`);
    }
    return { condition: v.condition, nextLookMs: next };
  }
  pass.metrics.gatewayWaitSince = null;
  if (prevCondition?.reason === 'WaitingForGateway' && v.condition.status === 'True' && !pass.announced.has('GatewaySucceeded')) {
    const waited = hsm.status?.gateway?.since ? pass.now.getTime() - Date.parse(hsm.status.gateway.since) : 0;
    pass.event('Normal', 'GatewaySucceeded', `ExpressRoute gateway ${name} is Succeeded after a wait of ${formatDuration(waited)}.`);
  }
  return { condition: v.condition, nextLookMs: s.gatewayWaitInitialMs };
}
