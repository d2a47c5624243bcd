/**
 * Act: carries out the one action decide.ts chose, and nothing else. The create is the careful one: alone in its
 * subscription and region (DeployGate), with the preconditions read again inside the gate after the previous PUT
 * of the scope returned (never the shared readings kept for waiting), the quota counting the PUTs this operator
 * sent that Azure does not list yet, and the attempt written ahead of the PUT (a checkpoint), so a crash between
 * the PUT and the report cannot lose it.
 */
import type { DedicatedHsm } from '../../api/index.js';
import { hsmId, type AzurePlane, type HsmState } from '../../azure/index.js';
import { RetryableError, type ReconcileOutcome } from '../../runtime/index.js';
import type { HsmAction } from './decide.js';
import { checkPreflight, holdBack } from './decide.js';
import { DeployGate } from './deploy-gate.js';
import { countsAsAttempt } from './deployment.js';
import { armName, desiredHsm, quotaStampKey } from './desired.js';
import { failureOf, invalidateNetwork, readPreflight, type HsmEnv } from './observe.js';
import type { Pass } from './pass.js';
import { QUOTA_HELD } from './preflight.js';
import { attemptSucceeded, giveUpOnRedeploy, recordFailure, recordResource, redeployRound, type Round } from './record.js';
import { afterFailureMs, pollMs, resyncMs } from './timing.js';

/** The write-ahead checkpoint of the skeleton: the pass so far is written now; returns the object as written. */
export type Checkpoint = (pass: Pass) => Promise<DedicatedHsm>;

export interface ActContext {
  env: HsmEnv;
  plane: AzurePlane;
  identity: string;
  checkpoint: Checkpoint;
}

export async function act(c: ActContext, hsm: DedicatedHsm, action: HsmAction, pass: Pass): Promise<ReconcileOutcome> {
  switch (action.kind) {
    case 'none':
      return { requeueAfter: action.requeueAfter };
    case 'retry':
      throw new RetryableError(action.message, { retryAfterMs: action.retryAfterMs });
    case 'updateTags':
      return updateTags(c, hsm, action.tags, action.requeueAfter, pass);
    case 'deleteFailed':
      return deleteFailed(c, hsm, action.round, action.failed.id, pass);
    case 'create':
      return deploy(c, hsm, action.round, action.failed, pass);
  }
}

async function updateTags(c: ActContext, hsm: DedicatedHsm, tags: Record<string, string>, requeueAfter: number, pass: Pass): Promise<ReconcileOutcome> {
  const a = hsm.spec.azure;
  const name = armName(hsm);
  try {
    await c.plane.updateTags(a.subscriptionId, a.resourceGroup, name, tags);
    const n = Object.keys(tags).length;
    pass.event('Normal', 'TagsUpdated', `Tags of Azure HSM ${name} set (${n} tag${n === 1 ? '' : 's'}: the spec's and this object's ownership tags).`);
    return { requeueAfter };
  } catch (e) {
    const f = failureOf(e);
    pass.event('Warning', 'TagsNotUpdated', `Could not update the tags of Azure HSM ${name}: ${f.message}`);
    return { requeueAfter: Math.min(requeueAfter, afterFailureMs(c.env.ctx.settings, hsm, f, 1)) };
  }
}

/** Race retries used up: the guide's next step is deleting the failed resources and redeploying. */
async function deleteFailed(c: ActContext, hsm: DedicatedHsm, round: Round, failedId: string, pass: Pass): Promise<ReconcileOutcome> {
  const s = c.env.ctx.settings;
  const name = armName(hsm);
  const dep = hsm.spec.deployment;
  const poll = pollMs(s, hsm, pass.now.getTime());
  pass.event(
    'Warning',
    'Redeploying',
    `Deployment of HSM ${name} failed ${round.attempts} time${round.attempts === 1 ? '' : 's'} on the gateway race: deleting the failed resource ${failedId} and deploying again (redeploy ${round.redeploys + 1} of ${dep.redeployAfter}).`,
  );
  try {
    const p = await c.plane.beginDeleteHsm(hsm.spec.azure.subscriptionId, hsm.spec.azure.resourceGroup, name);
    if (p.done) {
      redeployRound(pass, round);
      pass.after(1);
    } else {
      pass.put('pendingOperation', { kind: 'delete', token: p.token, startedAt: pass.nowIso });
      pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} before deploying it again (redeploy ${round.redeploys + 1} of ${dep.redeployAfter}).` });
      pass.after(poll);
    }
  } catch (e) {
    const f = failureOf(e);
    if (f.retryable) {
      pass.condition({ type: 'Provisioned', status: 'False', reason: 'Redeploying', message: `Deleting the failed resource of HSM ${name} failed transiently (${f.message}); retrying.` });
      pass.after(afterFailureMs(s, hsm, f, round.attempts));
    } else {
      giveUpOnRedeploy(hsm, pass, round, f);
      pass.after(resyncMs(s, hsm));
    }
  }
  return { requeueAfter: pass.requeueAfter ?? poll };
}

/** The decision to PUT taken again on fresh readings, alone in the HSM's subscription and region, then the PUT. */
async function deploy(c: ActContext, hsm: DedicatedHsm, round: Round, failed: HsmState | undefined, pass: Pass): Promise<ReconcileOutcome> {
  const { env, plane, identity } = c;
  const a = hsm.spec.azure;
  const scope = DeployGate.scope(a.subscriptionId, a.location);
  const id = hsmId(a.subscriptionId, a.resourceGroup, armName(hsm));
  return env.gate.exclusive(scope, async () => {
    const reads = await readPreflight(env, hsm, plane, identity, failed, { fresh: true });
    const pre = checkPreflight(hsm, reads, pass, env.ctx.settings);
    if (pre.blocked) {
      holdBack(hsm, pass, pre, failed, round);
      pass.log('info', { why: pre.why }, 'a fresh reading taken for the deployment decision holds it back');
      return { requeueAfter: pass.requeueAfter ?? resyncMs(env.ctx.settings, hsm) };
    }
    env.gate.reserve(scope, id, quotaStampKey(hsm));
    try {
      // Refused at once: nothing was created, the place is free again.
      return await put(c, hsm, round, pass, () => env.gate.release(scope, id));
    } catch (e) {
      env.gate.release(scope, id);
      throw e;
    } finally {
      // Our PUT may change the gateway (and the subnet): waiters read them again rather than trust the old reading.
      invalidateNetwork(env, hsm, identity);
    }
  });
}

/** Sends the PUT; its resume token is written to status before anything waits on it. */
async function put(c: ActContext, input: DedicatedHsm, round: Round, pass: Pass, refused: () => void): Promise<ReconcileOutcome> {
  const s = c.env.ctx.settings;
  let hsm = input;
  const name = armName(hsm);
  const dep = hsm.spec.deployment;
  const attempt = round.attempts + 1;
  const where = hsm.spec.azure.stampId ?? (hsm.spec.azure.zones?.length ? `zone ${hsm.spec.azure.zones.join(',')}` : 'a stamp Azure picks');
  pass.event(
    'Normal',
    'Deploying',
    `Deploying HSM ${name} in ${hsm.spec.azure.location}, ${where} (attempt ${attempt} of ${dep.raceRetries + 1}${round.redeploys ? `, after ${round.redeploys} redeploy${round.redeploys === 1 ? '' : 's'}` : ''}).`,
  );
  // Write-ahead: the attempt is on record before the PUT leaves, so a crash between the PUT and the status write
  // cannot lose it (a crash before the PUT costs one attempt of the budget instead: never one too many).
  round.attempts = attempt;
  pass.put('attempts', attempt);
  // While the PUT is in flight the status says so, not why an earlier pass held the deployment back.
  pass.condition({ type: 'Provisioned', status: 'False', reason: 'Provisioning', message: `Deploying HSM ${name} (attempt ${attempt}): the request is on its way to Azure; provisioning takes about 25-30 minutes.` });
  hsm = await c.checkpoint(pass);
  let progress;
  try {
    progress = await c.plane.beginCreateHsm(desiredHsm(hsm));
  } catch (e) {
    refused();
    const f = failureOf(e);
    // Refused before anything was deployed: the attempt is recorded again only if it counts as one.
    round.attempts = attempt - 1;
    pass.put('attempts', round.attempts);
    recordFailure(hsm, pass, round, f, { attempt: countsAsAttempt(f) });
    return { requeueAfter: afterFailureMs(s, hsm, f, round.attempts) };
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
    pass.log('info', { attempt }, 'deployment sent; resume token persisted');
    return { requeueAfter: pollMs(s, hsm, pass.now.getTime()) };
  }
  // ARM answered at once: the next pass observes the deployed HSM (NIC, network, appliance) like any other.
  attemptSucceeded(hsm, pass);
  recordResource(pass, progress.hsm);
  return { requeueAfter: 1 };
}
