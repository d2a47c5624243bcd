/**
 * The plan of one DedicatedHsm: the reconciler's apply without its act. The object as it would be after the apply
 * (the file's spec, defaulted, on the cluster's metadata and status), then the same azureAccess, observe and decide
 * the controller runs (controllers/dedicatedhsm), then the same report roll-up the skeleton writes. The action decide
 * returns is described, never carried out.
 */
import { Annotations, DedicatedHsmDefinition, reconcileMode, type ConditionLike, type DedicatedHsm } from '../api/index.js';
import type { AzureFailure } from '../azure/index.js';
import { azureAccess, noAzureAccess } from '../controllers/dedicatedhsm/credentials.js';
import { decide, type HsmAction } from '../controllers/dedicatedhsm/decide.js';
import { DeployGate } from '../controllers/dedicatedhsm/deploy-gate.js';
import { armName, quotaStampKey, shortName } from '../controllers/dedicatedhsm/desired.js';
import { observe, type HsmEnv, type Observation } from '../controllers/dedicatedhsm/observe.js';
import { Pass } from '../controllers/dedicatedhsm/pass.js';
import { formatDuration } from '../controllers/dedicatedhsm/timing.js';
import { report, SecretReads } from '../controllers/shared/index.js';
import { hsmId } from '../azure/index.js';
import { objectKey, type Condition } from '../runtime/index.js';
import { immutableChanges, schemaErrors, withDefaults } from './admission.js';
import type { PlanContext } from './context.js';
import { specDiff } from './diff.js';
import type { Manifest } from './manifests.js';
import { isFine, plannedCheck, startPlan } from './object-plan.js';
import type { ObjectPlan } from './types.js';

export const PLAN_CONTROLLER = 'plan';

/** Conditions read from the appliance: plan shows the operator's last reading when it did not log in. */
const SSH_CONDITIONS = new Set(['ApplianceReachable', 'RebootPatchInstalled']);
const NTLS_CONDITIONS = new Set(['NtlsReachable']);
/** Conditions whose normal status is False (the rest: True). */

export interface HsmPlanInput {
  pc: PlanContext;
  /** Shared by every DedicatedHsm of one plan: readings, and the deploy gate holding the quota of planned deploys. */
  shared: Omit<HsmEnv, 'ctx'>;
  source: string;
  manifest: Manifest;
  namespace: string;
  live: DedicatedHsm | undefined;
  signal: AbortSignal;
}

/** The object as the API server would store it after the apply; `changed` when the spec differs. */
export function appliedObject(manifest: Manifest, namespace: string, live: DedicatedHsm | undefined): { hsm: DedicatedHsm; changed: boolean } {
  const spec = withDefaults(DedicatedHsmDefinition, manifest.spec) as DedicatedHsm['spec'];
  const m = manifest.metadata;
  if (!live) {
    const metadata = { name: m.name ?? '', namespace, generation: 1, ...(m.labels ? { labels: { ...m.labels } } : {}), ...(m.annotations ? { annotations: { ...m.annotations } } : {}) };
    return { hsm: { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'DedicatedHsm', metadata, spec }, changed: true };
  }
  const changed = specDiff(live.spec, spec).length > 0;
  const annotations = { ...(live.metadata.annotations ?? {}), ...(m.annotations ?? {}) };
  const labels = { ...(live.metadata.labels ?? {}), ...(m.labels ?? {}) };
  const metadata = {
    ...live.metadata,
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(changed && live.metadata.generation !== undefined ? { generation: live.metadata.generation + 1 } : {}),
  };
  return { hsm: { ...live, metadata, spec }, changed };
}

/** Every Azure read of the observation that failed: the plan is incomplete without them. */
function failedReads(obs: Observation): { what: string; failure: AzureFailure }[] {
  const out: { what: string; failure: AzureFailure }[] = [];
  const add = (what: string, r: { ok: boolean; failure?: AzureFailure } | undefined) => {
    if (r && !r.ok && r.failure) out.push({ what, failure: r.failure });
  };
  add('the HSM resource', obs.resource);
  if (obs.preflight) {
    add('the feature registrations', obs.preflight.features);
    add('the subnet', obs.preflight.subnet);
    add('the gateway', obs.preflight.gateway);
    add('the quota', obs.preflight.quota);
  }
  for (const n of [obs.network, obs.deployed?.network]) {
    if (!n) continue;
    add('the subnet', n.subnet);
    add('the gateway', n.gateway);
  }
  return out;
}

export async function planDedicatedHsm(i: HsmPlanInput): Promise<ObjectPlan> {
  const { hsm, changed } = appliedObject(i.manifest, i.namespace, i.live);
  const plan = startPlan({ kind: 'DedicatedHsm', namespace: i.namespace, name: hsm.metadata.name ?? '', source: i.source, live: i.live, spec: hsm.spec, action: 'nothing' });
  const name = armName(hsm);

  // What the API server refuses never reaches the operator.
  const errors = schemaErrors(DedicatedHsmDefinition, hsm.spec);
  const immutable = i.live ? immutableChanges(DedicatedHsmDefinition, i.live, hsm) : { violations: [], unchecked: [] };
  plan.refused = [...immutable.violations, ...errors];
  for (const u of immutable.unchecked) plan.notes.push(`admission rule not checked by plan: ${u}`);
  if (plan.refused.length) {
    plan.next = {
      action: 'refused',
      summary: `the API server refuses this manifest (${plan.refused.map((r) => r.message).join('; ')}); nothing changes, and the operator goes on with ${i.live ? 'the spec in the cluster' : 'nothing'}.`,
    };
    plan.blocked = plan.needsHuman = true;
    return plan;
  }
  if (i.live?.metadata.deletionTimestamp) {
    plan.next = { action: 'nothing', summary: 'the object is being deleted: plan does not plan deletion (hsm-operator explain-failure shows where it stands).' };
    return plan;
  }
  if (i.live && !changed) plan.notes.push('the spec in the file is the spec in the cluster: this is what the operator does on its next pass.');

  const mode = reconcileMode(hsm.metadata.annotations);
  if ('error' in mode) {
    const c = { type: 'Ready', status: 'False' as const, reason: 'InvalidSpec', message: `${mode.error}. Nothing is done until it is corrected.` };
    plan.checks = plan.blockers = [plannedCheck(c, 'plan')];
    plan.ready = { status: 'False', reason: 'InvalidSpec', severity: 'needsHuman', message: c.message };
    plan.next = { action: 'nothing', summary: `stopped: ${c.message}` };
    plan.blocked = plan.needsHuman = true;
    return plan;
  }
  if (mode.mode === 'paused') {
    plan.next = { action: 'nothing', summary: `${Annotations.reconcile}=paused: the operator touches nothing until the annotation is removed or set to manage or observe.` };
    plan.ready = { status: 'False', reason: 'Paused', severity: 'needsHuman', message: plan.next.summary };
    plan.blocked = plan.needsHuman = true;
    return plan;
  }

  const { ctx, device } = i.pc.forObject(hsm);
  const env: HsmEnv = { ...i.shared, ctx };
  const recheck = hsm.metadata.annotations?.[Annotations.resyncNow] !== undefined;
  const pass = new Pass(new Date(ctx.clock.now()));
  const secrets = new SecretReads(ctx.secrets, PLAN_CONTROLLER, objectKey(hsm), ctx.digest);
  let obs: Observation | undefined;
  let action: HsmAction | undefined;
  const az = await azureAccess(ctx, hsm, secrets);
  if (!az.ok) {
    noAzureAccess(hsm, az, pass);
  } else {
    obs = await observe(env, hsm, az.plane.withSignal(i.signal), az.identity, secrets, i.signal);
    action = decide({ hsm, mode: mode.mode, recheck, obs, settings: ctx.settings }, pass);
  }

  // The appliance's conditions where plan did not log in: the operator's last reading stays.
  const sshHeld = obs?.deployed && obs.deployed.appliance.ssh.kind === 'failed' && device.heldBack.size > 0;
  const ntlsHeld = obs?.deployed && !i.pc.applianceContact;
  const computed: ConditionLike[] = pass.conditions.filter((c) => !(sshHeld && SSH_CONDITIONS.has(c.type)) && !(ntlsHeld && NTLS_CONDITIONS.has(c.type)));
  if (sshHeld) plan.notes.push(`appliance: not logged in to (${[...device.heldBack.values()][0] ?? ''}); its conditions are the operator's last reading.`);
  else if (ntlsHeld) plan.notes.push("appliance: NTLS not probed (plan contacts appliances only with --appliance); its condition is the operator's last reading.");
  if (device.contacted.length) plan.notes.push(`appliance: read-only commands sent to ${device.contacted.join(', ')} (hsm show, package list, server.pem).`);

  const previous = (hsm.status?.conditions ?? []) as Condition[];
  const r = report('DedicatedHsm', previous, computed, hsm.metadata.generation, pass.now, {
    ...(pass.override ? { override: pass.override } : {}),
    ...(pass.happy ? { happy: pass.happy } : {}),
  });
  const computedTypes = new Set(computed.map((c) => c.type));
  plan.checks = r.conditions.filter((c) => !['Ready', 'Reconciling', 'Stalled'].includes(c.type)).map((c) => plannedCheck(c, computedTypes.has(c.type) ? 'plan' : 'operator'));
  plan.ready = { status: r.ready.status, reason: r.ready.reason, severity: r.ready.severity, message: r.ready.message };
  plan.blockers = plan.checks.filter((c) => !isFine(c));
  if (pass.override && r.ready.status !== 'True') plan.blockers.unshift(plannedCheck({ type: 'Ready', status: r.ready.status, reason: r.ready.reason, message: r.ready.message }, 'plan'));
  plan.events = pass.events.map((e) => ({ type: e.type, reason: e.reason, note: e.note }));
  plan.needsHuman = plan.blockers.some((b) => b.severity === 'needsHuman');

  if (obs) {
    const failed = failedReads(obs);
    if (failed.length) plan.error = `plan could not read ${failed.map((f) => `${f.what} (${f.failure.message})`).join('; ')}`;
    plan.exists.azure = azureState(obs);
  }
  plan.next = describe(hsm, action, obs, pass, plan, i.live);
  plan.blocked = plan.needsHuman || plan.next.action === 'wait-for-gateway' || (action?.kind === 'none' && plan.blockers.length > 0 && obs?.preflight !== undefined);

  // A deploy this plan foresees holds its quota for the next HSM of the plan, as the deploy gate holds a PUT's.
  if (action?.kind === 'create') {
    const a = hsm.spec.azure;
    i.shared.gate.reserve(DeployGate.scope(a.subscriptionId, a.location), hsmId(a.subscriptionId, a.resourceGroup, name), quotaStampKey(hsm));
  }
  if (!az.ok) plan.notes.push(`Azure: not read (${az.message})`);
  if (az.ok && az.identity !== 'default') plan.notes.push(`Azure: read with the service principal of Secret ${hsm.spec.azure.credentialsRef?.name ?? ''}, as the operator would.`);
  return plan;
}

function azureState(obs: Observation): NonNullable<ObjectPlan['exists']['azure']> {
  if (obs.operation && !obs.resource) return { state: 'in-flight', detail: `a ${obs.operation.read.kind} operation is in flight` };
  const r = obs.resource;
  if (!r) return { state: 'unknown' };
  if (!r.ok) return { state: 'unknown', detail: r.failure.message };
  if (!r.value) return { state: 'missing' };
  return { state: 'exists', id: r.value.id, ...(r.value.provisioningState ? { provisioningState: r.value.provisioningState } : {}) };
}

/** The action in words: what decide chose, and for `none`, why nothing is done. */
function describe(hsm: DedicatedHsm, action: HsmAction | undefined, obs: Observation | undefined, pass: Pass, plan: ObjectPlan, live: DedicatedHsm | undefined): ObjectPlan['next'] {
  const name = armName(hsm);
  const a = hsm.spec.azure;
  const adopted = pass.events.find((e) => e.reason === 'Adopted');
  const adopt = adopted ? `adopt the existing Azure HSM ${obs?.resource?.ok ? (obs.resource.value?.id ?? name) : name} (no second one is created), then ` : '';
  const where = a.stampId ?? (a.zones?.length ? `zone ${a.zones.join(',')}` : 'a stamp Azure picks');
  if (!action) return { action: 'nothing', summary: `${pass.override?.reason === 'NotPermitted' ? 'not permitted' : 'waits for the Secret it needs'}: ${pass.override?.message ?? ''}` };
  switch (action.kind) {
    case 'create': {
      const attempt = action.round.attempts + 1;
      const again = action.failed ? ` again over the failed resource (attempt ${attempt} of ${hsm.spec.deployment.raceRetries + 1})` : '';
      return { action: 'deploy', summary: `deploy HSM ${name}${again} in ${a.location}, ${where}: one PUT, after the deploy gate reads the subnet, gateway and quota once more.` };
    }
    case 'deleteFailed':
      return {
        action: 'redeploy',
        summary: `delete the failed resource ${action.failed.id} (the race retries are used up), then deploy again (redeploy ${action.round.redeploys + 1} of ${hsm.spec.deployment.redeployAfter}).`,
      };
    case 'updateTags':
      return { action: 'update-tags', summary: `${adopt}set the tags of Azure HSM ${name} to the spec's and the ownership tags (${Object.entries(action.tags).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}); nothing else is written.` };
    case 'retry':
      return { action: 'nothing', summary: `could not read the HSM resource (${action.message}); the operator retries.` };
    case 'none': {
      const gw = pass.conditions.filter((c) => c.type === 'GatewayReady').at(-1);
      if (plan.needsHuman) {
        const first = plan.blockers.find((b) => b.severity === 'needsHuman');
        return { action: adopted ? 'adopt' : 'nothing', summary: `${adopt}stopped until a human acts: ${first ? `${first.reason}: ${first.message}` : (plan.ready?.message ?? '')}` };
      }
      if (hsm.metadata.annotations?.[Annotations.reconcile] === 'observe') return { action: 'report-only', summary: `${Annotations.reconcile}=observe: Azure and the appliance are read and reported; nothing is written.` };
      if (obs?.preflight && gw?.reason === 'WaitingForGateway') {
        return { action: 'wait-for-gateway', summary: `no deployment until ExpressRoute gateway ${shortName(a.expressRouteGatewayId)} is Succeeded (it is ${pass.set.gateway?.state ?? 'not Succeeded'}); the operator looks again with a growing interval.` };
      }
      if (obs?.operation || (obs?.resource?.ok && obs.resource.value && !['Succeeded', 'Failed'].includes(obs.resource.value.provisioningState ?? ''))) {
        return { action: 'watch', summary: `${adopt}watch the operation in flight on Azure HSM ${name}: ${pass.conditions.filter((c) => c.type === 'Provisioned').at(-1)?.message ?? ''}` };
      }
      const wait = pass.logs.find((l) => l.message === 'deployment waits');
      if (wait) {
        const ms = Number(wait.fields.waitMs ?? 0);
        return { action: 'wait', summary: `wait ${formatDuration(ms)} before the next deployment attempt (${String(wait.fields.why ?? '')}): ${plan.ready?.message ?? ''}` };
      }
      if (adopted) return { action: 'adopt', summary: `${adopt}report it; nothing else is written.` };
      if (obs?.preflight) return { action: 'nothing', summary: `not deployed: ${plan.ready?.message ?? ''}` };
      return { action: 'nothing', summary: `nothing to do${live ? '' : ' yet'}: ${plan.ready?.reason === 'Ready' ? 'in sync with the spec' : (plan.ready?.message ?? '')}; the operator looks again in ${formatDuration(action.requeueAfter)}.` };
    }
  }
}
