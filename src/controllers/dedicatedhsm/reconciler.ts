/**
 * The DedicatedHsm reconciler: the troubleshooting guide as a control loop. Read (cache, Azure, appliance) ->
 * decide (the pure modules beside this one) -> act (only what was decided) -> report (one status write, skipped
 * when nothing changed).
 *
 * The order of a pass: the shared skeleton (controllers/shared/skeleton.ts: mode, resync-now, deletion or finalizer
 * and first status, then apply, one report) around this kind's apply and cleanup. apply:
 *   Azure credentials -> an operation in flight resumes from its persisted token ->
 *   the resource is read (adopted when it exists) -> if it does not exist or failed: preflight (allowlisting,
 *   subnet, gateway, quota) and the deployment ladder (rerun, delete and redeploy, give up) -> if Succeeded: NIC
 *   IP, tags, appliance (hsm show, package list, server.pem, NTLS port).
 */
import {
  Annotations,
  parseDuration,
  zeroizeConfirmed,
  type Condition,
  type ConditionLike,
  type DedicatedHsm,
  type ReconcileMode,
} from '../../api/index.js';
import {
  AzurePlaneError,
  classifyAzureError,
  hsmId,
  classifyFailedProvisioning,
  immutableDrift,
  vnetOfSubnet,
  ACTIONS,
  type AzureFailure,
  type AzurePlane,
  type FeatureState,
  type GatewayState,
  type HsmState,
  type QuotaView,
  type SubnetState,
} from '../../azure/index.js';
import type { HsmShow } from '../../luna/index.js';
import {
  getCondition,
  objectKey,
  refOf,
  RetryableError,
  type ReconcileContext,
  type ReconcileOutcome,
} from '../../runtime/index.js';
import {
  advertisedHost,
  applianceAccess,
  DedicatedHsmType,
  describeDeviceError,
  SecretReads,
  toStatusRecords,
  withAppliance,
  reconcilerFor,
  spreadBelow,
  type DeviceProblem,
  type Pass as SharedPass,
  type OperatorContext,
} from '../shared/index.js';
import { applianceChecks, mergeApplianceStatus } from './appliance-checks.js';
import { observeAppliance } from './appliance-observation.js';
import { decideDeletion, NOT_BLOCKED } from './deletion.js';
import { countsAsAttempt, describeFailure, failureConditions, nextDeployStep, roundRestarts, SUPPORT_REQUEST, type LastFailure } from './deployment.js';
import { armName, desiredHsm, quotaStampKey, shortName, tagsToWrite } from './desired.js';
import { Pass, type HsmStatus } from './pass.js';
import { featureCondition, gatewayVerdict, QUOTA_HELD, quotaCondition, readFailure, REQUIRED_FEATURES, subnetCondition, withoutSelf, type Read } from './preflight.js';
import { ReadCache } from './read-cache.js';
import { DeployGate } from './deploy-gate.js';
import { formatDuration, gatewayWaitDelay, raceBackoffMs } from './timing.js';

export const CONTROLLER = 'DedicatedHsm';

/** cleanup's answer when the finalizer may go. */
const RELEASE = Symbol('release');

/** A write-ahead checkpoint of the skeleton (the attempt before a PUT, the zeroize record). */
type Checkpoint = (pass: Pass) => Promise<DedicatedHsm>;

/** The skeleton hands back the collector newPass made. */
function toPass(p: SharedPass<HsmStatus>): Pass {
  if (!(p instanceof Pass)) throw new Error('DedicatedHsm pass expected');
  return p;
}

const MAX_OPERATION_POLL_MS = 30_000;
/** A create in flight longer than this is reported as timed out (and still watched). */
const DEFAULT_OPERATION_TIMEOUT_MS = 2 * 60 * 60_000;
const AZURE_RETRYING = new Set(['Throttled', 'AzureUnavailable']);

/** The deployment round as status records it, updated as the pass goes. */
interface Round {
  attempts: number;
  redeploys: number;
  lastFailure: LastFailure | undefined;
}

type Resumed = { kind: 'inFlight' } | { kind: 'settled'; hsm: HsmState | undefined };

function failureOf(e: unknown): AzureFailure {
  return e instanceof AzurePlaneError ? e.failure : classifyAzureError(e);
}

async function read<T>(fn: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, failure: failureOf(e) };
  }
}

export class DedicatedHsmReconciler {
  private readonly gateways: ReadCache<GatewayState | undefined>;
  private readonly subnets: ReadCache<SubnetState | undefined>;
  /** One PUT decision at a time per subscription and region, with the quota it takes held (deploy-gate.ts). */
  readonly gate: DeployGate;

  constructor(private readonly ctx: OperatorContext) {
    this.reconcile = this.skeleton();
    const ttl = (): number => Math.min(30_000, ctx.settings.gatewayWaitInitialMs);
    this.gateways = new ReadCache(ctx.clock, ttl);
    this.subnets = new ReadCache(ctx.clock, ttl);
    this.gate = new DeployGate(() => ctx.clock.now());
  }

  /** Shared network reads (for tests: how many gateway reads went out). */
  get gatewayReads(): number {
    return this.gateways.fetches;
  }

  /** The DedicatedHsm's reconcile: the shared skeleton (skeleton.ts) around this kind's apply and cleanup. */
  readonly reconcile: (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome>;

  private skeleton(): (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome> {
    const ctx = this.ctx;
    return reconcilerFor<HsmStatus, DedicatedHsm>(ctx, {
      kind: 'DedicatedHsm',
      controller: CONTROLLER,
      type: DedicatedHsmType,
      cache: ctx.caches.dedicatedHsms,
      finalizer: true,
      triggers: [{ annotation: Annotations.resyncNow, modes: ['manage', 'observe'] }],
      readyEvents: true,
      newPass: (now) => new Pass(now),
      pausedMessage: () =>
        `${Annotations.reconcile}=paused: the operator touches nothing (no Azure or appliance traffic, no deletion) until the annotation is removed or set to manage or observe.`,
      forget: (key, ref) => {
        ctx.secrets.untrack(CONTROLLER, key);
        ctx.metrics.forget('DedicatedHsm', { namespace: ref.namespace || 'default', name: ref.name });
      },
      apply: async (hsm, pass, step) => {
        const recheck = step.fired.has(Annotations.resyncNow);
        if (recheck) {
          this.gateways.invalidate(`${this.identityOf(hsm)}|${hsm.spec.azure.expressRouteGatewayId.toLowerCase()}`);
          this.subnets.invalidate(`${this.identityOf(hsm)}|${hsm.spec.azure.subnetId.toLowerCase()}`);
          step.rc.log.info('resync-now: re-reading Azure and the appliance');
          pass.event('Normal', 'ResyncRequested', `${Annotations.resyncNow}: re-reading Azure and the appliance now.`);
        }
        const secrets = new SecretReads(ctx.secrets, CONTROLLER, objectKey(hsm), ctx.digest);
        try {
          return await this.sync(hsm, step.mode, secrets, toPass(pass), recheck, step.rc, (p) => step.checkpoint(p));
        } finally {
          secrets.done();
        }
      },
      cleanup: async (hsm, pass, step) => {
        const secrets = new SecretReads(ctx.secrets, CONTROLLER, objectKey(hsm), ctx.digest);
        try {
          const r = await this.finalize(hsm, step.mode, secrets, toPass(pass), (p) => step.checkpoint(p), step.rc.signal);
          return r === RELEASE ? { release: true } : { outcome: r };
        } finally {
          secrets.done();
        }
      },
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Converge

  private async sync(hsm: DedicatedHsm, mode: Exclude<ReconcileMode, 'paused'>, secrets: SecretReads, pass: Pass, recheck: boolean, rc: ReconcileContext, checkpoint: Checkpoint): Promise<ReconcileOutcome> {
    const ctx = this.ctx;
    pass.condition(NOT_BLOCKED);
    if (mode === 'observe') {
      pass.happy = { reason: 'Observing', message: `${Annotations.reconcile}=observe: Azure and the appliance are read and reported; nothing is written to either.` };
    }
    const az = await this.plane(hsm, secrets);
    if (!az.ok) {
      pass.override = { reason: 'SecretNotFound', severity: 'retrying', message: `${az.message} Nothing is read from or written to Azure until it exists.` };
      return;
    }
    const plane = az.plane.withSignal(rc.signal);
    const name = armName(hsm);
    const a = hsm.spec.azure;
    const status: HsmStatus = hsm.status ?? {};
    const round: Round = { attempts: status.attempts ?? 0, redeploys: status.redeploys ?? 0, lastFailure: status.lastFailure };

    // An operation in flight resumes from its persisted token: never a second PUT (invariant 3).
    let existing: HsmState | undefined;
    let known = false;
    if (status.pendingOperation) {
      const r = status.pendingOperation.kind === 'create' ? await this.resumeCreate(plane, hsm, pass, round) : await this.resumeRedeployDelete(plane, hsm, pass, round);
      if (r.kind === 'inFlight') {
        return { requeueAfter: pass.requeueAfter ?? this.pollMs(hsm) };
      }
      existing = r.hsm;
      known = true;
    }
    if (!known) {
      try {
        existing = await plane.getHsm(a.subscriptionId, a.resourceGroup, name);
      } catch (e) {
        const f = failureOf(e);
        pass.condition(readFailure('Provisioned', `HSM ${name}`, f));
        throw new RetryableError(`reading HSM ${name}: ${f.message}`, { retryAfterMs: Math.max(f.retryAfterMs ?? 0, ctx.settings.gatewayWaitInitialMs) });
      }
    }

    if (existing) {
      const drift = immutableDrift(desiredHsm(hsm), existing);
      if (drift.length) {
        const adopted = status.resourceId !== undefined;
        const message = `Azure HSM ${name} in resource group ${existing.resourceGroup} has other ${drift.join(', ')} than the spec asks. ${adopted ? 'The difference is reported, not "fixed" by a PUT.' : 'It is not adopted.'} ${ACTIONS.immutable}`;
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'AdoptionConflict', message });
        // It overrides every other check: nothing else about this resource is ours to judge.
        pass.override = { reason: 'AdoptionConflict', severity: 'needsHuman', message };
        pass.event('Warning', adopted ? 'ImmutableDrift' : 'AdoptionConflict', `Azure HSM ${name} differs from the spec in ${drift.join(', ')} (immutable); nothing is written to it.`);
        return { requeueAfter: this.resyncMs(hsm) };
      }
      if (status.resourceId === undefined && !status.pendingOperation) {
        pass.event('Normal', 'Adopted', `Adopted the existing Azure HSM ${existing.id} (provisioningState ${existing.provisioningState ?? 'unknown'}) instead of creating a second one.`);
      }
      this.recordResource(hsm, pass, existing);
      if (existing.provisioningState === 'Succeeded') return this.provisioned(hsm, plane, existing, mode, secrets, pass, rc);
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
        await this.networkChecks(hsm, plane, pass, rc);
        return { requeueAfter: this.pollMs(hsm) };
      }
    } else if (status.resourceId !== undefined) {
      if (status.provisioningState === 'Succeeded') {
        pass.event('Warning',
          'DeletedOutOfBand',
          `Azure HSM ${name} was deleted outside the operator.${mode === 'manage' ? ' It is deployed again.' : ' Observe mode: it is only reported.'}`,
        );
        round.attempts = 0;
        round.redeploys = 0;
        round.lastFailure = undefined;
        pass.clear('attempts', 'redeploys', 'lastFailure', 'appliance');
      }
      pass.clear('resourceId', 'provisioningState', 'statusMessage', 'nicId', 'privateIpAddress');
      ctx.metrics.setProvisioningState(refOf(hsm), undefined);
    }

    // Not there, or Failed: the deployment path.
    const failed = existing;
    if (roundRestarts(status.observedGeneration, hsm.metadata.generation) && (round.attempts || round.redeploys || round.lastFailure)) {
      // A changed spec starts a new round: whatever a human fixed gets a fresh chance.
      round.attempts = 0;
      round.redeploys = 0;
      round.lastFailure = undefined;
      pass.clear('attempts', 'redeploys', 'lastFailure');
    }
    if (failed && !round.lastFailure) this.recordFailure(hsm, pass, round, classifyFailedProvisioning(failed.statusMessage), { attempt: false });

    const pre = await this.preflight(plane, hsm, pass, failed, az.identity, rc);
    if (mode === 'observe') {
      if (!failed) {
        pass.condition({
          type: 'Provisioned',
          status: 'False',
          reason: 'ResourceMissing',
          message: `Azure HSM ${name} does not exist in resource group ${a.resourceGroup}. Observe mode deploys nothing: set ${Annotations.reconcile}=manage to deploy it.`,
        });
      } else this.reassert(hsm, pass, round.lastFailure);
      return { requeueAfter: this.resyncMs(hsm) };
    }
    if (pre.blocked) {
      if (failed) this.reassert(hsm, pass, round.lastFailure);
      else if (!pre.provisionedSaid) pass.condition({ type: 'Provisioned', status: 'Unknown', reason: 'Pending', message: `Not deployed yet: ${pre.why}` });
      return { requeueAfter: pass.requeueAfter ?? this.resyncMs(hsm) };
    }

    const dep = hsm.spec.deployment;
    const step = nextDeployStep({
      now: pass.now.getTime(),
      lastFailure: round.lastFailure,
      attempts: round.attempts,
      redeploys: round.redeploys,
      raceRetries: dep.raceRetries,
      redeployAfter: dep.redeployAfter,
      recheckNow: recheck,
      settings: ctx.settings,
    });
    switch (step.kind) {
      case 'wait':
        this.reassert(hsm, pass, round.lastFailure);
        rc.log.info({ waitMs: Math.round(step.ms), why: step.why }, 'deployment waits');
        return { requeueAfter: step.ms };
      case 'giveUp': {
        if (round.lastFailure?.class !== 'DeploymentFailed') {
          const lf: LastFailure = { class: 'DeploymentFailed', message: step.message.slice(0, 4096), time: pass.nowIso };
          if (round.lastFailure?.code) lf.code = round.lastFailure.code;
          round.lastFailure = lf;
          pass.put('lastFailure', lf);
          pass.event('Warning', 'DeploymentFailed', step.message);
        }
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'DeploymentFailed', message: step.message });
        return { requeueAfter: this.resyncMs(hsm) };
      }
      case 'redeploy':
        if (failed) return this.startRedeployDelete(plane, hsm, pass, round, failed);
        this.redeployRound(hsm, pass, round);
        break;
      case 'deploy':
        break;
    }
    return this.deploy(plane, hsm, pass, round, mode, secrets, rc, failed, az.identity, checkpoint);
  }

  /**
   * The decision to PUT and the PUT, alone in the HSM's subscription and region (DeployGate): the preconditions are
   * read again inside the gate, after the previous PUT of the scope returned (never the shared readings kept for
   * waiting), and the quota counts the PUTs this operator sent that Azure does not list yet.
   */
  private async deploy(
    plane: AzurePlane,
    hsm: DedicatedHsm,
    pass: Pass,
    round: Round,
    mode: ReconcileMode,
    secrets: SecretReads,
    rc: ReconcileContext,
    failed: HsmState | undefined,
    identity: string,
    checkpoint: Checkpoint,
  ): Promise<ReconcileOutcome> {
    const a = hsm.spec.azure;
    const scope = DeployGate.scope(a.subscriptionId, a.location);
    const id = hsmId(a.subscriptionId, a.resourceGroup, armName(hsm));
    return this.gate.exclusive(scope, async () => {
      const pre = await this.preflight(plane, hsm, pass, failed, identity, rc, { fresh: true });
      if (pre.blocked) {
        if (failed) this.reassert(hsm, pass, round.lastFailure);
        else if (!pre.provisionedSaid) pass.condition({ type: 'Provisioned', status: 'Unknown', reason: 'Pending', message: `Not deployed yet: ${pre.why}` });
        rc.log.info({ why: pre.why }, 'a fresh reading taken for the deployment decision holds it back');
        return { requeueAfter: pass.requeueAfter ?? this.resyncMs(hsm) };
      }
      this.gate.reserve(scope, id, quotaStampKey(hsm));
      try {
        // Refused at once: nothing was created, the place is free again.
        return await this.put(plane, hsm, pass, round, mode, secrets, rc, () => this.gate.release(scope, id), checkpoint);
      } catch (e) {
        this.gate.release(scope, id);
        throw e;
      } finally {
        // Our PUT may change the gateway (and the subnet): waiters read them again rather than trust the old reading.
        this.gateways.invalidate(`${identity}|${a.expressRouteGatewayId.toLowerCase()}`);
        this.subnets.invalidate(`${identity}|${a.subnetId.toLowerCase()}`);
      }
    });
  }

  /** Sends the PUT; its resume token is written to status before anything waits on it. */
  private async put(
    plane: AzurePlane,
    input: DedicatedHsm,
    pass: Pass,
    round: Round,
    mode: ReconcileMode,
    secrets: SecretReads,
    rc: ReconcileContext,
    refused: () => void,
    checkpoint: Checkpoint,
  ): Promise<ReconcileOutcome> {
    let hsm = input;
    const name = armName(hsm);
    const dep = hsm.spec.deployment;
    const attempt = round.attempts + 1;
    const where = hsm.spec.azure.stampId ?? (hsm.spec.azure.zones?.length ? `zone ${hsm.spec.azure.zones.join(',')}` : 'a stamp Azure picks');
    pass.event('Normal',
      'Deploying',
      `Deploying HSM ${name} in ${hsm.spec.azure.location}, ${where} (attempt ${attempt} of ${dep.raceRetries + 1}${round.redeploys ? `, after ${round.redeploys} redeploy${round.redeploys === 1 ? '' : 's'}` : ''}).`,
    );
    // Write-ahead: the attempt is on record before the PUT leaves, so a crash between the PUT and the status write
    // cannot lose it (a crash before the PUT costs one attempt of the budget instead: never one too many).
    round.attempts = attempt;
    pass.put('attempts', attempt);
    // While the PUT is in flight the status says so, not why an earlier pass held the deployment back.
    pass.condition({ type: 'Provisioned', status: 'False', reason: 'Provisioning', message: `Deploying HSM ${name} (attempt ${attempt}): the request is on its way to Azure; provisioning takes about 25-30 minutes.` });
    hsm = await checkpoint(pass);
    let progress;
    try {
      progress = await plane.beginCreateHsm(desiredHsm(hsm));
    } catch (e) {
      refused();
      const f = failureOf(e);
      // Refused before anything was deployed: the attempt is recorded again only if it counts as one.
      round.attempts = attempt - 1;
      pass.put('attempts', round.attempts);
      this.recordFailure(hsm, pass, round, f, { attempt: countsAsAttempt(f) });
      return { requeueAfter: this.afterFailureMs(hsm, f, round) };
    }
    if (!progress.done) {
      pass.put('pendingOperation', { kind: 'create', token: progress.token, startedAt: pass.nowIso });
      pass.condition({
        type: 'Provisioned',
        status: 'False',
        reason: 'Provisioning',
        message: `Deployment of HSM ${name} is in flight (attempt ${attempt}); provisioning takes about 25-30 minutes.`,
      });
      pass.condition(QUOTA_HELD);
      rc.log.info({ attempt }, 'deployment sent; resume token persisted');
      return { requeueAfter: this.pollMs(hsm) };
    }
    this.attemptSucceeded(hsm, pass);
    this.recordResource(hsm, pass, progress.hsm);
    return this.provisioned(hsm, plane, progress.hsm, mode, secrets, pass, rc);
  }

  /** One polling step of our create; the resource decides whether a failed poll means a failed deployment. */
  private async resumeCreate(plane: AzurePlane, hsm: DedicatedHsm, pass: Pass, round: Round): Promise<Resumed> {
    const op = hsm.status?.pendingOperation;
    if (!op) return { kind: 'settled', hsm: undefined };
    const name = armName(hsm);
    const a = hsm.spec.azure;
    const inFlight = (current: HsmState | undefined): Resumed => {
      if (current) this.recordResource(hsm, pass, current);
      const ranMs = pass.now.getTime() - Date.parse(op.startedAt);
      const timeoutMs = this.ctx.settings.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
      if (ranMs > timeoutMs) {
        // Overdue: no longer progress. Still watched (a late success is taken), never sent again.
        const message = `Deployment of HSM ${name} has been in flight since ${op.startedAt}, longer than the operation timeout (${formatDuration(timeoutMs)}; deployments take about 25-30 minutes): it timed out. The operator keeps watching it and sends no second PUT. Check the deployment of ${name} in the Azure portal; if it is stuck, open a support request.`;
        const prev = getCondition(hsm.status?.conditions as Condition[] | undefined, 'Provisioned');
        if (prev?.reason !== 'DeploymentFailed') pass.event('Warning', 'OperationTimedOut', message);
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'DeploymentFailed', message });
      } else {
        pass.condition({
          type: 'Provisioned',
          status: 'False',
          reason: 'Provisioning',
          message: `Deployment of HSM ${name} is in flight since ${op.startedAt} (attempt ${round.attempts || 1}); provisioning takes about 25-30 minutes.`,
        });
      }
      pass.condition(QUOTA_HELD);
      return { kind: 'inFlight' };
    };
    try {
      const p = await plane.pollCreate(op.token);
      if (!p.done) {
        const current = await plane.getHsm(a.subscriptionId, a.resourceGroup, name).catch(() => undefined);
        return inFlight(current);
      }
      pass.clear('pendingOperation');
      this.attemptSucceeded(hsm, pass);
      return { kind: 'settled', hsm: p.hsm };
    } catch (e) {
      const f = failureOf(e);
      let current: HsmState | undefined;
      try {
        current = await plane.getHsm(a.subscriptionId, a.resourceGroup, name);
      } catch {
        // Cannot tell whether the operation failed or only the poll did: keep the token and look again.
        pass.after(Math.max(f.retryAfterMs ?? 0, this.pollMs(hsm)));
        return inFlight(undefined);
      }
      if (!current) {
        pass.clear('pendingOperation');
        return { kind: 'settled', hsm: undefined };
      }
      if (current.provisioningState === 'Succeeded') {
        pass.clear('pendingOperation');
        this.attemptSucceeded(hsm, pass);
        return { kind: 'settled', hsm: current };
      }
      if (current.provisioningState === 'Failed') {
        pass.clear('pendingOperation');
        const outcome = f.class === 'transient' || f.class === 'throttled' ? classifyFailedProvisioning(current.statusMessage) : f;
        this.recordFailure(hsm, pass, round, outcome, { attempt: false });
        return { kind: 'settled', hsm: current };
      }
      if (f.retryable) {
        pass.after(Math.max(f.retryAfterMs ?? 0, this.pollMs(hsm)));
        return inFlight(current);
      }
      // The token is unusable (not ours, corrupted): forget it and watch the resource itself instead.
      this.ctx.log.warn({ hsm: objectKey(hsm), err: f.message }, 'pending operation token unusable; watching the resource instead');
      pass.clear('pendingOperation');
      return { kind: 'settled', hsm: current };
    }
  }

  private async resumeRedeployDelete(plane: AzurePlane, hsm: DedicatedHsm, pass: Pass, round: Round): Promise<Resumed> {
    const op = hsm.status?.pendingOperation;
    if (!op) return { kind: 'settled', hsm: undefined };
    const name = armName(hsm);
    try {
      const p = await plane.pollDelete(op.token);
      if (!p.done) {
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} before deploying it again (since ${op.startedAt}).` });
        return { kind: 'inFlight' };
      }
      pass.clear('pendingOperation');
      this.redeployRound(hsm, pass, round);
      return { kind: 'settled', hsm: undefined };
    } catch (e) {
      const f = failureOf(e);
      if (f.retryable) {
        pass.after(Math.max(f.retryAfterMs ?? 0, this.pollMs(hsm)));
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} before deploying it again; polling failed (${f.message}), retrying.` });
        return { kind: 'inFlight' };
      }
      pass.clear('pendingOperation');
      this.giveUpOnRedeploy(hsm, pass, round, f);
      return { kind: 'inFlight' };
    }
  }

  /** Race retries used up: the guide's next step is deleting the failed resources and redeploying. */
  private async startRedeployDelete(plane: AzurePlane, hsm: DedicatedHsm, pass: Pass, round: Round, failed: HsmState): Promise<ReconcileOutcome> {
    const name = armName(hsm);
    const dep = hsm.spec.deployment;
    pass.event('Warning',
      'Redeploying',
      `Deployment of HSM ${name} failed ${round.attempts} time${round.attempts === 1 ? '' : 's'} on the gateway race: deleting the failed resource ${failed.id} and deploying again (redeploy ${round.redeploys + 1} of ${dep.redeployAfter}).`,
    );
    try {
      const p = await plane.beginDeleteHsm(hsm.spec.azure.subscriptionId, hsm.spec.azure.resourceGroup, name);
      if (p.done) {
        this.redeployRound(hsm, pass, round);
        pass.after(1);
      } else {
        pass.put('pendingOperation', { kind: 'delete', token: p.token, startedAt: pass.nowIso });
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} before deploying it again (redeploy ${round.redeploys + 1} of ${dep.redeployAfter}).` });
        pass.after(this.pollMs(hsm));
      }
    } catch (e) {
      const f = failureOf(e);
      if (f.retryable) {
        pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} failed transiently (${f.message}); retrying.` });
        pass.after(this.afterFailureMs(hsm, f, round));
      } else {
        this.giveUpOnRedeploy(hsm, pass, round, f);
        pass.after(this.resyncMs(hsm));
      }
    }
    return { requeueAfter: pass.requeueAfter ?? this.pollMs(hsm) };
  }

  private redeployRound(hsm: DedicatedHsm, pass: Pass, round: Round): void {
    round.redeploys += 1;
    round.attempts = 0;
    pass.put('redeploys', round.redeploys);
    pass.put('attempts', 0);
    pass.clear('resourceId', 'provisioningState', 'statusMessage', 'nicId', 'privateIpAddress');
    this.ctx.metrics.setProvisioningState(refOf(hsm), undefined);
  }

  private giveUpOnRedeploy(hsm: DedicatedHsm, pass: Pass, round: Round, f: AzureFailure): void {
    const message = `Deleting the failed resource of HSM ${armName(hsm)} for a redeploy failed: ${f.message} ${f.action} ${SUPPORT_REQUEST}`;
    const lf: LastFailure = { class: 'DeploymentFailed', message: message.slice(0, 4096), time: pass.nowIso };
    if (f.code) lf.code = f.code;
    round.lastFailure = lf;
    pass.put('lastFailure', lf);
    pass.condition({ type: 'Provisioned', status: 'False', reason: 'DeploymentFailed', message });
    pass.event('Warning', 'DeploymentFailed', message);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Preflight

  private async preflight(
    plane: AzurePlane,
    hsm: DedicatedHsm,
    pass: Pass,
    failed: HsmState | undefined,
    identity: string,
    rc: ReconcileContext,
    opts: { fresh: boolean } = { fresh: false },
  ): Promise<{ blocked: boolean; why: string; provisionedSaid: boolean }> {
    const ctx = this.ctx;
    const a = hsm.spec.azure;
    // Waiting may share readings between HSMs; the decision to deploy takes its own (opts.fresh).
    const via = <T>(cache: ReadCache<T>, key: string, fetch: () => Promise<T>): Promise<T> => (opts.fresh ? cache.fresh(key, fetch) : cache.get(key, fetch));
    const [features, subnet, gateway, quota] = await Promise.all([
      read<FeatureState[]>(() => Promise.all(REQUIRED_FEATURES.map((f) => plane.getFeature(a.subscriptionId, f.namespace, f.name)))),
      read(() => via(this.subnets, `${identity}|${a.subnetId.toLowerCase()}`, () => plane.getSubnet(a.subnetId))),
      read(() => via(this.gateways, `${identity}|${a.expressRouteGatewayId.toLowerCase()}`, () => plane.getGateway(a.expressRouteGatewayId))),
      read<QuotaView>(() => plane.quotaView(a.subscriptionId, a.location, this.ctx.settings.quotaLimits)),
    ]);
    const checks: ConditionLike[] = [];
    const feature = featureCondition(features);
    if (feature) checks.push(feature);
    checks.push(subnetCondition(subnet, a.subnetId));
    const gw = this.gatewayCheck(hsm, pass, gateway, false, rc);
    checks.push(gw.condition);
    const scope = DeployGate.scope(a.subscriptionId, a.location);
    const self = hsmId(a.subscriptionId, a.resourceGroup, armName(hsm));
    const quotaRead: Read<QuotaView> = quota.ok ? { ok: true, value: this.gate.withReservations(scope, withoutSelf(quota.value, failed), self) } : quota;
    const quotaRecheckMs = this.quotaRecheckMs();
    checks.push(quotaCondition(quotaRead, quotaStampKey(hsm), a.location, quotaRecheckMs));
    pass.condition(...checks);

    const failing = checks.filter((c) => c.status !== 'True');
    if (failing.length === 0) return { blocked: false, why: '', provisionedSaid: false };
    const retryAfter = Math.max(0, ...[features, subnet, gateway, quota].map((r) => (r.ok ? 0 : (r.failure.retryAfterMs ?? 0))));
    for (const c of failing) {
      if (AZURE_RETRYING.has(c.reason)) pass.after(Math.max(retryAfter, ctx.settings.gatewayWaitInitialMs));
      else if (c.reason === 'WaitingForGateway') pass.after(gw.nextLookMs);
      else if (c.reason === 'QuotaExceeded') pass.after(spreadBelow(quotaRecheckMs));
      else pass.after(ctx.settings.needsHumanRecheckMs);
    }
    const first = failing[0] as ConditionLike;
    return { blocked: true, why: `${first.reason}: ${first.message}`, provisionedSaid: failing.some((c) => c.type === 'Provisioned') };
  }

  /** The gateway verdict, status.gateway, the wait metric and the Events of a wait starting or ending. */
  private gatewayCheck(hsm: DedicatedHsm, pass: Pass, gateway: Read<GatewayState | undefined>, deployed: boolean, rc: ReconcileContext): { condition: ConditionLike; nextLookMs: number } {
    const ctx = this.ctx;
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
      ctx.metrics.setGatewayWaitSince(refOf(hsm), new Date(since));
      const next = gatewayWaitDelay(waitedMs, ctx.settings);
      rc.log.info({ gateway: name, state: v.state, waitedMs, nextLookMs: next }, 'waiting for the ExpressRoute gateway');
      if (prevCondition?.reason !== 'WaitingForGateway' || prev?.state !== v.state) {
        pass.event('Normal', 'WaitingForGateway', `ExpressRoute gateway ${name} is ${v.state}: no HSM is deployed until it is Succeeded; looking again in ${formatDuration(next)}.`);
      }
      return { condition: v.condition, nextLookMs: next };
    }
    ctx.metrics.setGatewayWaitSince(refOf(hsm), undefined);
    if (prevCondition?.reason === 'WaitingForGateway' && v.condition.status === 'True') {
      const waited = hsm.status?.gateway?.since ? pass.now.getTime() - Date.parse(hsm.status.gateway.since) : 0;
      pass.event('Normal', 'GatewaySucceeded', `ExpressRoute gateway ${name} is Succeeded after a wait of ${formatDuration(waited)}.`);
    }
    return { condition: v.condition, nextLookMs: ctx.settings.gatewayWaitInitialMs };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Provisioned: record, keep tags, observe the appliance

  private async provisioned(hsm: DedicatedHsm, plane: AzurePlane, existing: HsmState, mode: ReconcileMode, secrets: SecretReads, pass: Pass, rc: ReconcileContext): Promise<ReconcileOutcome> {
    const ctx = this.ctx;
    const a = hsm.spec.azure;
    const name = armName(hsm);
    const status = hsm.status ?? {};
    const ref = refOf(hsm);

    // The NIC follows the HSM: its IP is where the appliance is reached.
    let ip = existing.privateIpAddress;
    const nicId = existing.nicId;
    if (!ip && nicId) {
      if (status.nicId === nicId && status.privateIpAddress) ip = status.privateIpAddress;
      else {
        const nic = await plane.getNic(nicId).catch((e: unknown) => {
          rc.log.warn({ err: failureOf(e).message }, 'could not read the HSM NIC');
          return undefined;
        });
        ip = nic?.privateIpAddress;
      }
    }
    if (nicId) pass.put('nicId', nicId);
    if (ip) pass.put('privateIpAddress', ip);
    pass.condition({
      type: 'Provisioned',
      status: 'True',
      reason: 'Succeeded',
      message: `provisioningState Succeeded${existing.statusMessage ? `: ${existing.statusMessage}` : '.'}`,
    });
    pass.condition(QUOTA_HELD);

    await this.networkChecks(hsm, plane, pass, rc);

    // Tags are the one property Azure lets change: patched when they differ, never a blind PUT.
    const tags = tagsToWrite(a.tags, existing.tags);
    if (tags) {
      if (mode === 'manage') {
        try {
          await plane.updateTags(a.subscriptionId, a.resourceGroup, name, tags);
          pass.event('Normal', 'TagsUpdated', `Tags of Azure HSM ${name} set to the spec's (${Object.keys(tags).length} tag${Object.keys(tags).length === 1 ? '' : 's'}).`);
        } catch (e) {
          const f = failureOf(e);
          pass.event('Warning', 'TagsNotUpdated', `Could not update the tags of Azure HSM ${name}: ${f.message}`);
          pass.after(this.afterFailureMs(hsm, f, { attempts: 1, redeploys: 0, lastFailure: undefined }));
        }
      } else rc.log.info({ hsm: name }, 'observe mode: tags differ from the spec; not updated');
    }

    // The appliance: reads only.
    const view: DedicatedHsm = { ...hsm, status: { ...status, ...(ip ? { privateIpAddress: ip } : {}) } };
    const obs = await observeAppliance(ctx, view, secrets, rc.signal);
    const checks = applianceChecks(obs);
    pass.condition(...checks.conditions);
    if (checks.appliance) pass.put('appliance', mergeApplianceStatus(status.appliance, checks.appliance, pass.now));
    this.syncGuardRecords(view, pass);
    ctx.metrics.setApplianceReachable(ref, obs.ssh.kind === 'ok');
    if (obs.ssh.kind === 'ok') ctx.metrics.setRebootPatchInstalled(ref, obs.ssh.facts.rebootPatchInstalled);
    else if (obs.ssh.kind === 'failed' && obs.ssh.problem.reason === 'CredentialRejected' && status.appliance === undefined) ctx.metrics.setRebootPatchInstalled(ref, undefined);

    const transient = (obs.ssh.kind === 'failed' && !obs.ssh.problem.needsHuman) || obs.ntls.kind === 'unreachable';
    const resync = this.resyncMs(hsm);
    return { requeueAfter: Math.min(pass.requeueAfter ?? resync, transient ? Math.min(resync, ctx.settings.gatewayWaitMaxMs) : resync) };
  }

  /** The network a deployed HSM hangs off: read (shared between HSMs), reported, never changed. */
  private async networkChecks(hsm: DedicatedHsm, plane: AzurePlane, pass: Pass, rc: ReconcileContext): Promise<void> {
    const a = hsm.spec.azure;
    const [subnet, gateway] = await Promise.all([
      read(() => this.subnets.get(`${this.identityOf(hsm)}|${a.subnetId.toLowerCase()}`, () => plane.getSubnet(a.subnetId))),
      read(() => this.gateways.get(`${this.identityOf(hsm)}|${a.expressRouteGatewayId.toLowerCase()}`, () => plane.getGateway(a.expressRouteGatewayId))),
    ]);
    // A failed read on a deployed HSM is not worth a red Ready: what was last seen stays.
    if (subnet.ok) pass.condition(subnetCondition(subnet, a.subnetId));
    const gw = this.gatewayCheck(hsm, pass, gateway, true, rc);
    if (gateway.ok) pass.condition(gw.condition);
  }

  /** status.credentialGuard follows the guard for this appliance: a success with a fixed Secret clears it. */
  private syncGuardRecords(hsm: DedicatedHsm, pass: Pass): void {
    const host = advertisedHost(hsm);
    if (!host) return;
    const ep = this.ctx.resolve({ host, port: hsm.spec.appliance.port }, 'ssh');
    // The appliance login only (records keyed by host or host:port, as persistGuard in shared/appliance.ts):
    // other roles on the same address (a LunaCM host, an HA group password) belong to other objects.
    const records = toStatusRecords(this.ctx.guard.export().filter((r) => r.role === 'appliance-ssh' && (r.host === `${ep.host}:${ep.port}` || r.host === ep.host)));
    if (records.length) pass.put('credentialGuard', records);
    else pass.clear('credentialGuard');
  }

  // -------------------------------------------------------------------------------------------------------------
  // Delete

  private async finalize(input: DedicatedHsm, mode: Exclude<ReconcileMode, 'paused'>, secrets: SecretReads, pass: Pass, checkpoint: Checkpoint, signal: AbortSignal): Promise<ReconcileOutcome | typeof RELEASE> {
    const ctx = this.ctx;
    let hsm = input;
    const name = armName(hsm);
    const a = hsm.spec.azure;
    if (mode === 'observe' || hsm.spec.deletionPolicy === 'Orphan') {
      pass.event(
        'Normal',
        'Orphaned',
        mode === 'observe'
          ? `Observe mode: the finalizer is removed; Azure HSM ${name} is left untouched.`
          : `deletionPolicy Orphan: Azure HSM ${name} stays in Azure untouched (to delete it, zeroize it and delete the resource, or use deletionPolicy Delete).`,
        'Delete',
      );
      return RELEASE;
    }
    const az = await this.plane(hsm, secrets);
    if (!az.ok) {
      pass.condition({ type: 'DeletionBlocked', status: 'True', reason: 'DeletionBlocked', message: `${az.message} The HSM cannot be deleted without Azure access.` });
      return;
    }
    const plane = az.plane.withSignal(signal);
    const deleting = (message: string): void => {
      pass.condition({ type: 'DeletionBlocked', status: 'False', reason: 'Deleting', message });
      pass.override = { reason: 'Deleting', severity: 'progressing', message };
    };
    const status = hsm.status ?? {};
    const round: Round = { attempts: status.attempts ?? 0, redeploys: status.redeploys ?? 0, lastFailure: status.lastFailure };

    // An operation in flight first: a delete resumes; a create is let finish (then it can be zeroized and deleted).
    const op = status.pendingOperation;
    if (op?.kind === 'delete') {
      try {
        const p = await plane.pollDelete(op.token);
        if (!p.done) {
          deleting(`Deleting Azure HSM ${name} (since ${op.startedAt}).`);
          return { requeueAfter: this.pollMs(hsm) };
        }
      } catch (e) {
        const f = failureOf(e);
        if (f.retryable) {
          deleting(`Deleting Azure HSM ${name}: polling failed (${f.message}); retrying.`);
          return { requeueAfter: Math.max(f.retryAfterMs ?? 0, this.pollMs(hsm)) };
        }
        pass.clear('pendingOperation');
        // Fall through: the resource is read again and the decision made afresh.
      }
    } else if (op?.kind === 'create') {
      const r = await this.resumeCreate(plane, hsm, pass, round);
      if (r.kind === 'inFlight') {
        deleting(`Waiting for the deployment of HSM ${name} in flight to end before deleting it.`);
        return { requeueAfter: this.pollMs(hsm) };
      }
    }

    let existing: HsmState | undefined;
    try {
      existing = await plane.getHsm(a.subscriptionId, a.resourceGroup, name);
    } catch (e) {
      const f = failureOf(e);
      deleting(`Could not read Azure HSM ${name}: ${f.message}; retrying.`);
      throw new RetryableError(`reading HSM ${name}: ${f.message}`, { retryAfterMs: f.retryAfterMs });
    }
    if (existing && existing.provisioningState !== 'Succeeded' && existing.provisioningState !== 'Failed') {
      deleting(`Azure HSM ${name} is ${existing.provisioningState ?? 'busy'}; waiting for that operation to end before deleting.`);
      return { requeueAfter: this.pollMs(hsm) };
    }

    // Is it zeroized? Only the appliance can say (hsm show).
    let show: HsmShow | undefined;
    let zeroized: boolean | DeviceProblem | undefined;
    const view: DedicatedHsm = { ...hsm, status: { ...status, ...(existing?.privateIpAddress ? { privateIpAddress: existing.privateIpAddress } : {}) } };
    const access = existing?.provisioningState === 'Succeeded' ? await applianceAccess(ctx, view, secrets, signal) : undefined;
    if (access && !access.ok) zeroized = { reason: 'ApplianceUnreachable', message: access.message, needsHuman: access.reason === 'SecretNotFound' };
    else if (access?.ok) {
      try {
        show = await withAppliance(ctx, view, access, (ap) => ap.show());
        zeroized = show.zeroized;
      } catch (e) {
        zeroized = describeDeviceError(e, `appliance ${access.advertisedHost}`);
      }
    }
    const step = decideDeletion(
      {
        policy: hsm.spec.deletionPolicy,
        mode,
        resourceExists: existing !== undefined,
        resourceFailed: existing?.provisioningState === 'Failed',
        zeroized,
        confirmed: zeroizeConfirmed(hsm.metadata.annotations, name),
      },
      name,
    );
    switch (step.kind) {
      case 'release':
        pass.event('Normal', 'Deleted', `Azure HSM ${name} does not exist (any more); the finalizer is removed.`, 'Delete');
        return RELEASE;
      case 'blocked': {
        pass.condition(step.condition);
        const prev = getCondition(hsm.status?.conditions as Condition[] | undefined, 'DeletionBlocked');
        if (prev?.status !== 'True' || prev.reason !== step.condition.reason) pass.event('Warning', step.condition.reason, step.condition.message);
        return { requeueAfter: step.condition.reason === 'ApplianceUnreachable' ? ctx.settings.gatewayWaitMaxMs : this.resyncMs(hsm) };
      }
      case 'zeroize': {
        if (!access?.ok || !show) return; // decideDeletion only zeroizes what it read
        const serial = show.serial;
        const zpass = new Pass(pass.now);
        zpass.condition({
          type: 'DeletionBlocked',
          status: 'True',
          reason: 'Zeroizing',
          message: `Zeroizing HSM ${name} (serial ${serial}) as ${Annotations.confirmZeroize} asks: three failed HSM SO logins; all key material on it is destroyed.`,
        });
        zpass.event('Warning', 'Zeroizing', `Zeroizing HSM ${name} (serial ${serial}): ${Annotations.confirmZeroize} names it. All key material on it is destroyed.`);
        hsm = await checkpoint(zpass);
        try {
          const rep = await withAppliance(ctx, view, access, () => ctx.device.zeroize(access.endpoint, { confirm: 'zeroize-hsm-and-destroy-all-key-material', hsmSerial: serial }, { signal }));
          const after = await withAppliance(ctx, view, access, (ap) => ap.show());
          if (after.zeroized !== true) throw new Error(`hsm show does not report HSM ${name} zeroized after ${rep.failedLogins} failed HSM SO logins`);
          pass.event('Warning', 'Zeroized', `HSM ${name} (serial ${serial}) is zeroized (${rep.failedLogins} failed HSM SO logins); deleting its Azure resource next.`, 'Delete');
          pass.put('appliance', { ...(status.appliance ?? {}), zeroized: true, soAttemptsLeft: 0 });
        } catch (e) {
          const p = describeDeviceError(e, `zeroizing HSM ${name}`);
          pass.condition({ type: 'DeletionBlocked', status: 'True', reason: p.reason === 'CredentialRejected' || p.reason === 'HostKeyMismatch' ? 'CredentialRejected' : 'ApplianceUnreachable', message: p.message });
          pass.event('Warning', 'ZeroizeFailed', p.message);
          return { requeueAfter: ctx.settings.needsHumanRecheckMs };
        }
        break;
      }
      case 'deleteResource':
        break;
    }

    // Delete the HSM resource (never its resource group).
    pass.event('Normal', 'Deleting', `Deleting Azure HSM ${name} (resource group ${a.resourceGroup} is left alone).`);
    try {
      const p = await plane.beginDeleteHsm(a.subscriptionId, a.resourceGroup, name);
      if (p.done) {
        pass.event('Normal', 'Deleted', `Azure HSM ${name} is deleted; the finalizer is removed.`, 'Delete');
        return RELEASE;
      }
      pass.put('pendingOperation', { kind: 'delete', token: p.token, startedAt: pass.nowIso });
      deleting(`Deleting Azure HSM ${name}.`);
      return { requeueAfter: this.pollMs(hsm) };
    } catch (e) {
      const f = failureOf(e);
      if (f.retryable) {
        deleting(`Deleting Azure HSM ${name} failed transiently (${f.message}); retrying.`);
        return { requeueAfter: Math.max(f.retryAfterMs ?? 0, this.afterFailureMs(hsm, f, round)) };
      }
      const message = `Azure refused to delete HSM ${name}: ${f.message} ${f.action}`;
      pass.condition({ type: 'DeletionBlocked', status: 'True', reason: 'DeletionBlocked', message });
      const lf: LastFailure = { class: 'DeletionBlocked', message: f.message.slice(0, 4096), time: pass.nowIso };
      if (f.code) lf.code = f.code;
      pass.put('lastFailure', lf);
      pass.event('Warning', 'DeletionBlocked', message);
      return { requeueAfter: ctx.settings.needsHumanRecheckMs };
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Bookkeeping

  private recordResource(hsm: DedicatedHsm, pass: Pass, existing: HsmState): void {
    pass.put('resourceId', existing.id);
    if (existing.provisioningState) pass.put('provisioningState', existing.provisioningState);
    if (existing.statusMessage) pass.put('statusMessage', existing.statusMessage.slice(0, 4096));
    else pass.clear('statusMessage');
    this.ctx.metrics.setProvisioningState(refOf(hsm), existing.provisioningState);
  }

  private attemptSucceeded(hsm: DedicatedHsm, pass: Pass): void {
    this.ctx.metrics.deploymentAttempts.inc({ class: 'succeeded' });
    pass.event('Normal', 'DeploymentSucceeded', `Azure HSM ${armName(hsm)} is provisioned.`);
  }

  /** A failed deployment or refused PUT: status (attempts, lastFailure), conditions, metric and Event. */
  private recordFailure(hsm: DedicatedHsm, pass: Pass, round: Round, f: AzureFailure, opts: { attempt: boolean }): void {
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
    this.ctx.metrics.deploymentAttempts.inc({ class: f.class });
    pass.event('Warning', o.reason, `Deployment of HSM ${armName(hsm)} failed (attempt ${round.attempts || 1}): ${o.message}`);
  }

  /** While a failure holds (backoff, quiet period), its conditions stay as they were written. */
  private reassert(hsm: DedicatedHsm, pass: Pass, lf: LastFailure | undefined): void {
    // A failure recorded in this very pass: its conditions again, after what preflight said since.
    if (pass.failure) return pass.condition(...pass.failure);
    if (!lf) return;
    const previous = (hsm.status?.conditions ?? []).filter((c) => c.reason === lf.class && ['Provisioned', 'QuotaAvailable', 'SubnetDelegated'].includes(c.type));
    if (previous.length) pass.condition(...previous.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })));
    else pass.condition({ type: 'Provisioned', status: 'False', reason: lf.class, message: lf.message });
  }

  private afterFailureMs(hsm: DedicatedHsm, f: AzureFailure, round: Round): number {
    const s = this.ctx.settings;
    if (f.class === 'throttled') return Math.max(f.retryAfterMs ?? 0, s.gatewayWaitInitialMs);
    if (f.class === 'race') return round.attempts <= hsm.spec.deployment.raceRetries ? raceBackoffMs(round.attempts, s) : 1;
    if (f.retryable) return Math.max(f.retryAfterMs ?? 0, raceBackoffMs(1, s));
    return s.needsHumanRecheckMs;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Azure access and timing

  private identityOf(hsm: DedicatedHsm): string {
    return hsm.spec.azure.credentialsRef?.name ? `secret:${hsm.metadata.namespace ?? ''}/${hsm.spec.azure.credentialsRef.name}` : 'default';
  }

  /** The Azure plane for this HSM's credentials: a service principal from its Secret, else the operator's identity. */
  private async plane(hsm: DedicatedHsm, secrets: SecretReads): Promise<{ ok: true; plane: AzurePlane; identity: string } | { ok: false; message: string }> {
    const ref = hsm.spec.azure.credentialsRef;
    if (!ref) return { ok: true, plane: this.ctx.azure({ kind: 'default' }), identity: 'default' };
    const ns = hsm.metadata.namespace ?? 'default';
    const d = await secrets.data(ns, ref.name);
    if (!d.ok) return { ok: false, message: `Azure credentials: ${d.message}` };
    const keys = { tenantId: ref.tenantIdKey, clientId: ref.clientIdKey, clientSecret: ref.clientSecretKey };
    const missing = Object.values(keys).filter((k) => !d.data[k]);
    if (missing.length) return { ok: false, message: `Azure credentials: Secret ${ns}/${ref.name} has no ${missing.map((k) => `"${k}"`).join(', ')}: add ${missing.length === 1 ? 'it' : 'them'}.` };
    const tenantId = d.data[keys.tenantId] ?? '';
    const clientId = d.data[keys.clientId] ?? '';
    const clientSecret = d.data[keys.clientSecret] ?? '';
    return { ok: true, plane: this.ctx.azure({ kind: 'clientSecret', tenantId, clientId, clientSecret }), identity: this.identityOf(hsm) };
  }

  /**
   * How soon to poll an operation: settings.operationPollMs when set; else as long as the operation has run, between
   * the first gateway wait and 30 s (quick failures such as quota are seen early, a 30-minute deployment costs
   * about one poll per 30 s).
   */
  private pollMs(hsm: DedicatedHsm): number {
    const s = this.ctx.settings;
    if (s.operationPollMs !== undefined) return s.operationPollMs;
    const started = hsm.status?.pendingOperation?.startedAt;
    const ran = started ? this.ctx.clock.now() - Date.parse(started) : 0;
    return gatewayWaitDelay(Number.isNaN(ran) ? 0 : ran, { gatewayWaitInitialMs: s.gatewayWaitInitialMs, gatewayWaitMaxMs: Math.min(MAX_OPERATION_POLL_MS, s.gatewayWaitMaxMs) });
  }

  /** How often an HSM held back by quota looks again: freed quota (a leftover deleted by hand) is seen within this. */
  private quotaRecheckMs(): number {
    return Math.min(this.ctx.settings.needsHumanRecheckMs, this.ctx.settings.gatewayWaitMaxMs);
  }

  private resyncMs(hsm: DedicatedHsm): number {
    let ms = this.ctx.settings.defaultResyncMs;
    try {
      if (hsm.spec.resyncInterval) ms = parseDuration(hsm.spec.resyncInterval);
    } catch {
      /* admission checks the format; fall back to the operator default */
    }
    // Spread below the interval, so HSMs created together do not re-read in lockstep and none waits longer.
    return spreadBelow(ms);
  }
}
