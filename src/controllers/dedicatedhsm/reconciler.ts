/**
 * The DedicatedHsm reconciler: the troubleshooting guide as a control loop, in the shared skeleton
 * (controllers/shared/skeleton.ts: mode, resync-now, deletion or finalizer and first status, apply, one report).
 * Each phase of a pass has its own module, read top to bottom:
 *
 *   credentials.ts  which Azure identity the HSM acts as, if the tenancy policy (scope.ts) lets it reach Azure
 *   observe.ts      every read, in one trip: the operation in flight, the resource, then its preflight, network
 *                   or appliance
 *   decide.ts       pure: conditions, status, Events, and one action (none | retry | create | deleteFailed |
 *                   updateTags)
 *   act.ts          that action: the PUT behind the deploy gate with its write-ahead checkpoint, the redeploy's
 *                   delete, the tags
 *   finalize.ts     deletion, in the same three phases (zeroize behind the second key, then delete)
 *
 * This file only wires them to the skeleton and applies what the pass noted for metrics and logs.
 */
import { Annotations, type DedicatedHsm, type ReconcileMode } from '../../api/index.js';
import { objectKey, refOf, type Logger, type ReconcileContext, type ReconcileOutcome } from '../../runtime/index.js';
import { DedicatedHsmType, SecretReads, reconcilerFor, type Pass as SharedPass, type OperatorContext } from '../shared/index.js';
import { act, type Checkpoint } from './act.js';
import { azureAccess, noAzureAccess } from './credentials.js';
import { decide, type HsmAction } from './decide.js';
import { armIdKey, BY_ARM_ID, ownerOfResource, reportDuplicate } from './duplicates.js';
import { finalize, RELEASE } from './finalize.js';
import { invalidateNetwork, newHsmEnv, observe, type HsmEnv, type Observation } from './observe.js';
import { Pass, type HsmStatus } from './pass.js';

export const CONTROLLER = 'DedicatedHsm';

/** The skeleton hands back the collector newPass made. */
function toPass(p: SharedPass<HsmStatus>): Pass {
  if (!(p instanceof Pass)) throw new Error('DedicatedHsm pass expected');
  return p;
}

export class DedicatedHsmReconciler {
  private readonly env: HsmEnv;

  constructor(private readonly ctx: OperatorContext) {
    // The index is added where the controller is registered (index.ts).
    this.env = newHsmEnv(ctx, (hsm) => ctx.caches.dedicatedHsms.byIndex(BY_ARM_ID, armIdKey(hsm)));
    this.reconcile = this.skeleton();
  }

  /** The DedicatedHsm's reconcile: the shared skeleton (skeleton.ts) around this kind's apply and cleanup. */
  readonly reconcile: (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome>;

  private skeleton(): (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome> {
    const ctx = this.ctx;
    const env = this.env;
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
      apply: async (hsm, shared, step) => {
        const pass = toPass(shared);
        const secrets = new SecretReads(ctx.secrets, CONTROLLER, objectKey(hsm), ctx.digest);
        try {
          return await converge(env, hsm, pass, { mode: step.mode, resync: step.fired.get(Annotations.resyncNow), signal: step.rc.signal, secrets, checkpoint: (p) => step.checkpoint(p) });
        } finally {
          secrets.done();
          applyNotes(ctx, hsm, pass, step.rc.log);
        }
      },
      cleanup: async (hsm, shared, step) => {
        const pass = toPass(shared);
        const secrets = new SecretReads(ctx.secrets, CONTROLLER, objectKey(hsm), ctx.digest);
        try {
          const r = await finalize(env, hsm, step.mode, secrets, pass, (p) => step.checkpoint(p), step.rc.signal);
          return r === RELEASE ? { release: true } : { outcome: r };
        } finally {
          secrets.done();
          applyNotes(ctx, hsm, pass, step.rc.log);
        }
      },
    });
  }

}

/** What a converge pass is handed besides the object and its collector. */
export interface ConvergeOptions {
  mode: Exclude<ReconcileMode, 'paused'>;
  /** The resync-now value this pass handles (undefined: none asked). */
  resync: string | undefined;
  signal: AbortSignal;
  secrets: SecretReads;
  checkpoint: Checkpoint;
  /** Sees what observe read and decide chose (unit tests). */
  seen?: (obs: Observation, action: HsmAction) => void;
}

/** One converge pass: duplicates and credentials (scope) -> observe -> decide -> act. */
export async function converge(env: HsmEnv, hsm: DedicatedHsm, pass: Pass, o: ConvergeOptions): Promise<ReconcileOutcome> {
  const ctx = env.ctx;
  const recheck = o.resync !== undefined;
  if (recheck) {
    pass.log('info', { value: o.resync }, 'resync-now: re-reading Azure and the appliance');
    pass.event('Normal', 'ResyncRequested', `${Annotations.resyncNow}=${JSON.stringify(o.resync)}: re-reading Azure and the appliance now.`);
  }
  // Before any Azure call: one DedicatedHsm per Azure HSM, then the tenancy policy's scope and the identity it names.
  const owner = ownerOfResource(hsm, env.claimants(hsm), ctx.tenancy);
  if (owner) {
    reportDuplicate(hsm, owner, pass);
    return undefined;
  }
  const az = await azureAccess(ctx, hsm, o.secrets);
  if (!az.ok) {
    noAzureAccess(hsm, az, pass);
    return undefined;
  }
  if (recheck) invalidateNetwork(env, hsm, az.identity);
  const plane = az.plane.withSignal(o.signal);
  const obs = await observe(env, hsm, plane, az.identity, o.secrets, o.signal);
  const action = decide({ hsm, mode: o.mode, recheck, obs, settings: ctx.settings }, pass);
  o.seen?.(obs, action);
  return act({ env, plane, identity: az.identity, checkpoint: o.checkpoint }, hsm, action, pass);
}

/** The edge of a pass: the metric changes and log lines decide noted. */
export function applyNotes(ctx: OperatorContext, hsm: DedicatedHsm, pass: Pass, log: Logger): void {
  const m = ctx.metrics;
  const ref = refOf(hsm);
  const n = pass.metrics;
  if (n.provisioningState !== undefined) m.setProvisioningState(ref, n.provisioningState ?? undefined);
  if (n.gatewayWaitSince !== undefined) m.setGatewayWaitSince(ref, n.gatewayWaitSince ?? undefined);
  for (const c of n.attempts) m.deploymentAttempts.inc({ class: c });
  if (n.applianceReachable !== undefined) m.setApplianceReachable(ref, n.applianceReachable);
  if (n.rebootPatchInstalled !== undefined) m.setRebootPatchInstalled(ref, n.rebootPatchInstalled ?? undefined);
  for (const l of pass.logs) log[l.level]({ hsm: objectKey(hsm), ...l.fields }, l.message);
}
