/**
 * One pass over an HsmHaGroup: read (cache, Secrets, `hagroup listgroups`, member appliances) -> decide (members.ts,
 * settings.ts, recovery.ts: pure) -> act (only the decided LunaCM commands) -> report (conditions.ts, status, Events,
 * metrics). Re-run every spec.pollInterval.
 *
 * Deleting the HsmHaGroup leaves the group on the client host as it is (no finalizer): deleting an HA group is a
 * decision about key availability that belongs to a human, not to `kubectl delete` or a GitOps prune.
 */
import {
  Annotations,
  parseDuration,
  type ConditionLike,
  type DedicatedHsm,
  type HsmHaGroup,
  type HsmHaGroupStatus,
} from '../../api/index.js';
import {
  AuthenticationRejectedError,
  CredentialBudgetExhaustedError,
  CredentialRefusedError,
  HostKeyMismatchError,
  LunaCommandError,
  type HaGroupInfo,
  type HaGroupList,
  type LunaCmOps as LunaCmHost,
  type SecretVersion,
  type SshEndpoint,
} from '../../luna/index.js';
import { RetryableError, type ReconcileContext, type ReconcileOutcome } from '../../runtime/index.js';
import { describeDeviceError, reconcilerFor, report, SecretReads, spreadBelow, type OperatorContext, type Pass, type SecretRead, type Step } from '../shared/index.js';
import { hsmAddressOfStatusKey } from '../shared/grants.js';
import { clientEndpoint, groupGuardRecords, lunaCm, persistGroupGuard } from './client-host.js';
import { groupConditions, type ClientProblem, type DownMember, type Observation, type ShapeProblem } from './conditions.js';
import { cloningConflicts, conflictsFromOutput, describeMember, findGroup, isServing, memberStatuses, type CloningConflict, type MemberStatus } from './health.js';
import { needsPassword, planShape, shapeNeedsReachability, type Reachability, type ShapeAction } from './members.js';
import { applianceReach, type Reach } from './reachability.js';
import { breakerState, countOutcome, decideRecovery, recordAttempts, recordSkipped, type RecoveryAttempt, type RecoveryPolicy } from './recovery.js';
import { resolveMembers, type LabelCache } from './resolve.js';
import { clientHostKey, conflictingClaims, describeRetries, planIsEmpty, planSettings, type DesiredSettings, type SettingsClaim } from './settings.js';
import { CONTROLLER_NAME, HsmHaGroupType } from './types.js';

/** What the controller remembers between passes (lost on restart; status carries what must survive). */
export interface ControllerMemory {
  labels: LabelCache;
  /** Cloning conflicts seen (listing or command output), by group uid, kept while both members stay in the group. */
  conflicts: Map<string, CloningConflict[]>;
}

export function newMemory(): ControllerMemory {
  return { labels: new Map(), conflicts: new Map() };
}

const KIND = 'HsmHaGroup' as const;

export function createReconciler(ctx: OperatorContext, memory: ControllerMemory = newMemory()) {
  return reconcilerFor<HsmHaGroupStatus, HsmHaGroup>(ctx, {
    kind: KIND,
    controller: CONTROLLER_NAME,
    type: HsmHaGroupType,
    cache: ctx.caches.haGroups,
    // No finalizer of ours: a deleted group is left on the client host (see the file comment).
    finalizer: false,
    triggers: [
      { annotation: Annotations.recoverNow, modes: ['manage'] },
      { annotation: Annotations.resyncNow, modes: ['manage', 'observe'] },
    ],
    readyEvents: false,
    pausedMessage: () => `${Annotations.reconcile}=paused: nothing is done until the annotation is removed.`,
    forget: (key, ref) => forget(ctx, key, ref),
    orphaned: (g) =>
      `HsmHaGroup deleted: HA group ${g.spec.label} stays on LunaCM client host ${g.spec.client.host} as it is (members, recovery settings); nothing was sent to the client host. To remove the group too, run "lunacm -q hagroup deletegroup -label ${g.spec.label}" there.`,
    apply: (obj, pass, step) => new GroupPass(ctx, memory, obj, pass, step).run(),
  });
}

/** The object is gone: drop its Secret dependencies and metric series (the group on the client host stays). */
function forget(ctx: OperatorContext, key: string, ref: { namespace: string; name: string }): void {
  // An empty declaration untracks every Secret and forgets the owner's last declaration.
  new SecretReads(ctx.secrets, CONTROLLER_NAME, key).done();
  ctx.metrics.forget(KIND, ref);
}

class GroupPass {
  private group: HsmHaGroup;
  private readonly ref: { namespace: string; name: string };
  private readonly rctx: ReconcileContext;
  private readonly probes = new Map<string, Promise<Reach>>();
  /** The client host endpoint and the uids of the group's two Secrets, once known (guard records are kept for them). */
  private endpoint: SshEndpoint | undefined;
  private readonly secretUids = new Set<string>();

  constructor(
    private readonly ctx: OperatorContext,
    private readonly memory: ControllerMemory,
    obj: HsmHaGroup,
    private readonly pass: Pass<HsmHaGroupStatus>,
    private readonly step: Step<HsmHaGroup>,
  ) {
    this.group = obj;
    this.rctx = step.rc;
    this.ref = { namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name ?? '' };
  }

  private now(): Date {
    return new Date(this.ctx.clock.now());
  }

  async run(): Promise<ReconcileOutcome> {
    const manage = this.step.mode === 'manage';
    const asked = this.step.fired.get(Annotations.recoverNow);
    const trigger = asked !== undefined;
    let recovered = false;
    const resync = this.step.fired.get(Annotations.resyncNow);
    if (resync !== undefined) this.event('Normal', 'ResyncRequested', `${Annotations.resyncNow}=${JSON.stringify(resync)}: the group is read again now.`);

    const spec = this.group.spec;
    const pollMs = parseDuration(spec.pollInterval);
    const policy: RecoveryPolicy = {
      operatorRecovery: spec.recovery.operatorRecovery,
      maxFailures: spec.recovery.maxAttemptsPerWindow,
      windowMs: parseDuration(spec.recovery.window),
      minGapMs: pollMs,
    };
    const desired: DesiredSettings = { retries: spec.recovery.autoRecoveryRetries, intervalSeconds: spec.recovery.autoRecoveryInterval, synchronize: spec.synchronize };
    const secrets = new SecretReads(this.ctx.secrets, CONTROLLER_NAME, `${this.ref.namespace}/${this.ref.name}`, this.ctx.digest);
    const previous = this.group.status ?? {};

    const endpoint = await clientEndpoint(this.ctx, this.group, secrets);
    const password = await secrets.credential(this.ref.namespace, spec.passwordSecretRef.name, spec.passwordSecretRef.key, { kind: 'HsmHaGroup', name: this.ref.name });
    const { declared, hsms } = await resolveMembers(this.ctx, this.group, secrets, this.memory.labels, this.rctx.signal);
    secrets.done();

    const obs: Observation = {
      mode: manage ? 'manage' : 'observe',
      label: spec.label,
      clientHost: spec.client.host,
      members: memberStatuses(declared, undefined, previous.members),
      waiting: [],
      pending: [],
      down: [],
      breaker: breakerState(previous.recoveryAttempts ?? [], this.now().getTime(), policy),
      operatorRecovery: policy.operatorRecovery,
      window: spec.recovery.window,
      desired,
      settingsConflicts: [],
      settingsUnreadable: [],
      cloning: [],
    };
    let attempts: RecoveryAttempt[] = [...(previous.recoveryAttempts ?? [])];
    let members: MemberStatus[] = previous.members ?? obs.members;
    let info: HaGroupInfo | undefined;
    let requeueMs = pollMs;
    let guardRecords = previous.credentialGuard;

    if (!endpoint.ok) {
      obs.clientProblem = { reason: endpoint.reason, message: endpoint.message };
    } else {
      this.endpoint = endpoint.endpoint;
      this.secretUids.add(endpoint.endpoint.credential.secret.uid);
      if (password.ok) this.secretUids.add(password.version.uid);
      const lunacm = lunaCm(this.ctx, endpoint.endpoint, this.rctx.signal);
      try {
        let list = await lunacm.listGroups();
        info = findGroup(list, spec.label);
        const seen: CloningConflict[] = [];

        // 1. Shape: creategroup / addmember / removemember.
        const reach = new Map<string, Reach>();
        for (const h of shapeNeedsReachability(declared, info)) reach.set(h, await this.probe(h, hsms));
        const plan = planShape(declared, info, reach as Reachability);
        obs.waiting = plan.waiting;
        if (plan.actions.length && manage) {
          const res = await this.applyShape(lunacm, plan.actions, password, info?.members.map((m) => m.serial) ?? [], seen);
          obs.pending = res.remaining;
          if (res.problem) obs.shapeProblem = res.problem;
          if (res.done) {
            list = await lunacm.listGroups();
            info = findGroup(list, spec.label);
          }
        } else {
          obs.pending = plan.actions;
        }

        // 2. Cloning domain (before settings: synchronisation is not enabled across a conflict).
        let conflicts = this.conflicts(list, info, seen);

        // 3. Client-wide auto recovery settings and the group's synchronisation.
        obs.settingsConflicts = conflictingClaims(claimOf(this.group), this.ctx.caches.haGroups.list().filter((g) => !g.metadata.deletionTimestamp).map(claimOf));
        const settings = planSettings(list.settings, info, desired, { cloningConflict: conflicts.length > 0, clientWideConflict: obs.settingsConflicts.length > 0 });
        if (manage && !planIsEmpty(settings)) {
          await this.applySettings(lunacm, settings, desired, info?.members.map((m) => m.serial) ?? [], seen);
          list = await lunacm.listGroups();
          info = findGroup(list, spec.label);
          conflicts = this.conflicts(list, info, seen);
        }
        obs.settingsUnreadable = settings.unreadable;
        if (settings.synchronizeHeld) obs.synchronizeHeld = settings.synchronizeHeld;

        // 4. Health and recovery.
        members = memberStatuses(declared, info, previous.members);
        const downs = await this.downMembers(members, hsms);
        obs.down = downs;
        const candidates = downs.filter((d) => d.applianceReachable === true);
        const decision = manage ? decideRecovery({ candidates: candidates.length, attempts, now: this.now().getTime(), policy, trigger }) : undefined;
        if (decision?.action === 'recover') {
          recovered = true;
          const outcome = await this.recover(lunacm, spec.label, candidates, decision.forced, members);
          list = outcome.list ?? list;
          info = findGroup(list, spec.label);
          attempts = recordAttempts(attempts, outcome.entries);
          members = memberStatuses(declared, info, members).map((m) => {
            const e = outcome.entries.find((x) => x.serial === m.serial);
            return e ? countOutcome(m, { ok: e.outcome === 'Succeeded', at: e.at }) : m;
          });
          obs.down = (await this.downMembers(members, hsms)).map((d) => ({ ...d }));
          conflicts = this.conflicts(list, info, seen);
        } else if (decision?.action === 'hold' && (decision.why === 'rateLimited' || decision.why === 'circuitOpen')) {
          this.ctx.metrics.haRecoveries.inc({ outcome: decision.why });
          if (decision.why === 'circuitOpen') for (const c of candidates) attempts = recordSkipped(attempts, c.serial, 'circuit open: too many failed recoveries in the window', this.stamp());
          if (decision.retryInMs !== undefined) requeueMs = Math.min(requeueMs, Math.max(1_000, decision.retryInMs));
        }
        // The record is of the operator's recovery decisions: none are made in observe mode or with recovery off.
        if (manage && policy.operatorRecovery) {
          for (const d of downs.filter((x) => x.applianceReachable === false)) {
            attempts = recordSkipped(attempts, d.serial, `appliance unreachable${d.reachMessage ? ` (${d.reachMessage})` : ''}`, this.stamp());
          }
        }
        obs.breaker = breakerState(attempts, this.now().getTime(), policy);
        obs.cloning = conflicts;
        obs.settings = list.settings;
        if (info) obs.group = info;
      } catch (e) {
        obs.clientProblem = await this.clientProblem(e);
      }
      guardRecords = groupGuardRecords(this.ctx, endpoint.endpoint, this.secretUids);
    }
    obs.members = members;
    // Every recover-now value handled is told: acted on (MemberRecovered / RecoveryFailed), or why not.
    if (trigger && !recovered) {
      const why = obs.clientProblem ? `the LunaCM client host could not be used (${obs.clientProblem.message})` : 'no member is down on a reachable appliance; nothing to recover';
      this.event('Normal', 'RecoverNowIgnored', `${Annotations.recoverNow}=${JSON.stringify(asked)} was handled but ${why}. Set a new value to ask again.`);
    }

    this.report(obs, { members, attempts, info, guardRecords, previous });
    this.ctx.metrics.setHaMembers(this.ref, members.filter((m) => m.serial !== undefined && m.state !== 'unknown').map((m) => ({ serial: m.serial ?? '', up: isServing(m.state) })));

    if (obs.clientProblem?.reason === 'ClientHostUnreachable') {
      throw new RetryableError(obs.clientProblem.message, { retryAfterMs: pollMs });
    }
    if (obs.clientProblem && obs.clientProblem.reason !== 'SecretNotFound' && obs.clientProblem.reason !== 'CredentialNotOptedIn') return { requeueAfter: Math.max(pollMs, this.ctx.settings.needsHumanRecheckMs) };
    return { requeueAfter: spreadBelow(requeueMs) };
  }

  // --- read helpers -------------------------------------------------------------------------------------------

  /** One TCP probe per DedicatedHsm per pass. */
  private probe(name: string, hsms: Map<string, DedicatedHsm | undefined>): Promise<Reach> {
    let p = this.probes.get(name);
    if (!p) {
      p = applianceReach(this.ctx, hsms.get(name) ?? this.ctx.caches.dedicatedHsms.get(hsmAddressOfStatusKey(this.ref.namespace, name).cacheKey), name, this.rctx.signal);
      this.probes.set(name, p);
    }
    return p;
  }

  /** Members LunaCM lists as down, with their appliance probed (undeclared members: not probed). */
  private async downMembers(members: readonly MemberStatus[], hsms: Map<string, DedicatedHsm | undefined>): Promise<DownMember[]> {
    const out: DownMember[] = [];
    for (const m of members) {
      if (m.serial === undefined || m.state !== 'down') continue;
      if (!m.dedicatedHsm) {
        out.push({ serial: m.serial });
        continue;
      }
      const r = await this.probe(m.dedicatedHsm, hsms);
      out.push({ serial: m.serial, applianceReachable: r.reachable, ...(r.message ? { reachMessage: r.message } : {}) });
    }
    return out;
  }

  /** Conflicts of the listing, of command output this pass, and remembered ones whose members are both still in. */
  private conflicts(list: HaGroupList, info: HaGroupInfo | undefined, seen: readonly CloningConflict[]): CloningConflict[] {
    const uid = this.group.metadata.uid ?? '';
    const merged = cloningConflicts(list, info, [...(this.memory.conflicts.get(uid) ?? []), ...seen]);
    if (merged.length) this.memory.conflicts.set(uid, merged);
    else this.memory.conflicts.delete(uid);
    return merged;
  }

  // --- act ----------------------------------------------------------------------------------------------------

  /**
   * Runs the shape commands in order; stops at the first failure. A rejected or refused group password stops only the
   * commands that need it: health and recovery go on.
   */
  private async applyShape(
    lunacm: LunaCmHost,
    actions: readonly ShapeAction[],
    password: SecretRead,
    before: readonly string[],
    seen: CloningConflict[],
  ): Promise<{ done: number; remaining: ShapeAction[]; problem?: ShapeProblem }> {
    const label = this.group.spec.label;
    // The member table as each command leaves it: the slots its warnings name.
    let layout = [...before];
    const members = this.group.status?.members ?? [];
    let done = 0;
    if (needsPassword(actions) && !password.ok) {
      const rest = actions.filter((a) => a.kind !== 'remove');
      return { done, remaining: rest, problem: { reason: password.reason, message: `The group password is needed to create the group or add members: ${password.message}` } };
    }
    for (const [i, a] of actions.entries()) {
      const pw = password.ok ? { value: password.value, secret: password.version } : undefined;
      try {
        if (a.kind === 'create' && pw) {
          const out = await lunacm.createGroup(label, a.serial, pw);
          layout = [a.serial];
          seen.push(...conflictsFromOutput(out.warnings, layout));
          this.event('Normal', 'GroupCreated', `Created HA group ${label} on the client host with primary member ${a.serial} (DedicatedHsm ${a.member.hsm}).`);
        } else if (a.kind === 'add' && pw) {
          const out = await lunacm.addMember(label, a.serial, pw);
          layout = [...layout, a.serial];
          seen.push(...conflictsFromOutput(out.warnings, layout));
          this.event('Normal', 'MemberAdded', `Added member ${a.serial} (DedicatedHsm ${a.member.hsm}) to HA group ${label}.`);
        } else if (a.kind === 'remove') {
          const out = await lunacm.removeMember(label, a.serial);
          layout = layout.filter((s) => s !== a.serial);
          seen.push(...conflictsFromOutput(out.warnings, layout));
          this.event('Normal', 'MemberRemoved', `Removed member ${describeMember(a.serial, members)} from HA group ${label}: it is not declared in spec.members.`);
        }
        done++;
      } catch (e) {
        const remaining = actions.slice(i);
        if ((e instanceof AuthenticationRejectedError || e instanceof CredentialRefusedError) && e.role === 'hagroup-password') {
          return { done, remaining, problem: await this.passwordProblem(e, password.ok ? password.version : undefined) };
        }
        if (e instanceof LunaCommandError) {
          // A partition LunaCM cannot find may have been re-created under its label: look the label up again next time.
          if (e.kind === 'not-found' && a.kind !== 'remove') this.forgetLabels(a.member.hsm);
          const hint = e.kind === 'not-found' ? ' Check that the client host is an NTLS client of the HSM with this partition assigned (NtlsClientBinding) and that LunaCM lists it (slot list).' : '';
          this.event('Warning', 'GroupCommandFailed', `${e.message}.${hint}`);
          return { done, remaining, problem: { reason: 'ConfiguringGroup', message: `${e.message}; retried at the next poll.${hint}` } };
        }
        throw e;
      }
    }
    return { done, remaining: [] };
  }

  private forgetLabels(hsm: string): void {
    const uid = this.ctx.caches.dedicatedHsms.get(`${this.ref.namespace}/${hsm}`)?.metadata.uid ?? hsm;
    for (const k of [...this.memory.labels.keys()]) if (k.startsWith(`${uid}/`)) this.memory.labels.delete(k);
  }

  private async passwordProblem(e: AuthenticationRejectedError | CredentialRefusedError, secret: SecretVersion | undefined): Promise<ShapeProblem> {
    const name = secret?.name ?? this.group.spec.passwordSecretRef.name;
    if (e instanceof AuthenticationRejectedError) {
      await this.persistGuard();
      this.event('Warning', 'CredentialRejected', `The group password from Secret ${name} was rejected by LunaCM; it is not used again until the Secret changes (Crypto Officer lockout is permanent by default).`);
    } else {
      this.ctx.metrics.credentialRefusals.inc({ role: 'hagroup-password' });
      if (e instanceof CredentialBudgetExhaustedError) return { reason: 'CredentialRejected', message: describeDeviceError(e, `group password from Secret ${name}`).message };
    }
    return {
      reason: 'CredentialRejected',
      message: `The group password from Secret ${name} was rejected (Crypto Officer login failed). The operator does not use it again until the Secret changes: put the partition's Crypto Officer password in the Secret.`,
    };
  }

  /** Writes the guard records at once: a crash before the final report must not let a new process retry a rejected credential. */
  private async persistGuard(): Promise<void> {
    if (!this.endpoint) return;
    // Recorded by the status writer: the skeleton's report continues from it.
    this.group = await persistGroupGuard(this.ctx, this.group, groupGuardRecords(this.ctx, this.endpoint, this.secretUids));
  }

  private async applySettings(lunacm: LunaCmHost, plan: ReturnType<typeof planSettings>, desired: DesiredSettings, layout: readonly string[], seen: CloningConflict[]): Promise<void> {
    const host = this.group.spec.client.host;
    const label = this.group.spec.label;
    if (plan.retries !== undefined || plan.intervalSeconds !== undefined) {
      if (plan.retries !== undefined) await lunacm.setAutoRecoveryRetries(plan.retries);
      if (plan.intervalSeconds !== undefined) await lunacm.setAutoRecoveryInterval(plan.intervalSeconds);
      this.event('Normal', 'AutoRecoveryConfigured', `Set LunaCM auto recovery on ${host}: retry count ${describeRetries(desired.retries)}, interval ${desired.intervalSeconds} s.`);
    }
    if (plan.synchronize !== undefined) {
      seen.push(...conflictsFromOutput((await lunacm.synchronize(label, plan.synchronize)).warnings, layout));
      this.event('Normal', plan.synchronize ? 'SynchronizationEnabled' : 'SynchronizationDisabled', `HA synchronization ${plan.synchronize ? 'enabled' : 'disabled'} for group ${label}.`);
    }
  }

  /**
   * One `hagroup recover` for the group, then a fresh listing tells per member whether it came back. A LunaCM failure
   * is the attempt's outcome, not a reconcile error.
   */
  private async recover(
    lunacm: LunaCmHost,
    label: string,
    candidates: readonly DownMember[],
    forced: boolean,
    members: readonly MemberStatus[],
  ): Promise<{ entries: RecoveryAttempt[]; list?: HaGroupList }> {
    const at = this.stamp();
    let detail: string | undefined;
    try {
      await lunacm.recover(label);
    } catch (e) {
      // Refused before anything was sent (host key, guard): not an attempt.
      if (e instanceof HostKeyMismatchError || e instanceof CredentialRefusedError) throw e;
      // Otherwise the command may have reached LunaCM (a timeout or a dropped channel after sending): the attempt
      // counts, and what the group looks like now decides its outcome.
      detail = e instanceof Error ? e.message : String(e);
      if (!(e instanceof LunaCommandError)) this.rctx.log.warn({ err: detail }, 'hagroup recover did not answer cleanly');
    }
    let list: HaGroupList | undefined;
    try {
      list = await lunacm.listGroups();
    } catch (e) {
      const why = `could not read the group after hagroup recover: ${e instanceof Error ? e.message : String(e)}`;
      return { entries: candidates.map((c) => ({ at, serial: c.serial, outcome: `Failed: ${why}`.slice(0, 250) })) };
    }
    const after = findGroup(list, label);
    const entries: RecoveryAttempt[] = [];
    for (const c of candidates) {
      const row = after?.members.find((m) => m.serial === c.serial);
      const ok = row !== undefined && isServing(row.status);
      const who = describeMember(c.serial, members);
      entries.push({ at, serial: c.serial, outcome: ok ? 'Succeeded' : `Failed: ${(detail ?? `still ${row?.status ?? 'missing'} after hagroup recover`).slice(0, 240)}` });
      this.ctx.metrics.haRecoveries.inc({ outcome: ok ? 'succeeded' : 'failed' });
      if (ok) this.event('Normal', 'MemberRecovered', `hagroup recover brought member ${who} of HA group ${label} back${forced ? ` (${Annotations.recoverNow})` : ''}.`);
      else this.event('Warning', 'RecoveryFailed', `hagroup recover did not bring member ${who} of HA group ${label} back: ${detail ?? `still ${row?.status ?? 'missing'}`}.`);
    }
    return { entries, list };
  }

  private async clientProblem(e: unknown): Promise<ClientProblem> {
    if (e instanceof AuthenticationRejectedError) {
      await this.persistGuard();
      this.event('Warning', 'CredentialRejected', `The SSH password of the LunaCM client host ${this.group.spec.client.host} was rejected; it is not used again until its Secret changes.`);
    }
    if (e instanceof CredentialRefusedError) this.ctx.metrics.credentialRefusals.inc({ role: e.role === 'hagroup-password' ? 'hagroup-password' : 'lunacm-ssh' });
    const p = describeDeviceError(e, `LunaCM client host ${this.group.spec.client.host}`);
    if (p.reason === 'HostKeyMismatch' || p.reason === 'CredentialRejected') return { reason: p.reason, message: p.message };
    this.rctx.log.warn({ err: p.message }, 'LunaCM client host not usable');
    return { reason: 'ClientHostUnreachable', message: p.reason === 'ApplianceUnreachable' ? p.message.replace('Check the ExpressRoute path and that TCP 22 is open from the operator.', 'Check that the client host is up and TCP 22 is open from the operator.') : p.message };
  }

  // --- report -------------------------------------------------------------------------------------------------

  private stamp(): string {
    return this.now().toISOString();
  }

  private event(type: 'Normal' | 'Warning', reason: string, note: string): void {
    this.pass.event(type, reason, note);
  }

  /** The pass's report: the group's conditions and fields, composed from the status as it is when written. */
  private report(
    obs: Observation,
    out: { members: MemberStatus[]; attempts: RecoveryAttempt[]; info: HaGroupInfo | undefined; guardRecords: HsmHaGroupStatus['credentialGuard']; previous: HsmHaGroupStatus },
  ): void {
    const computed: ConditionLike[] = groupConditions(obs);
    const generation = this.group.metadata.generation;
    const prevConditions = this.group.status?.conditions;
    const happy = { reason: 'Ready', message: `HA group ${obs.label}: all members alive, auto recovery retry count ${describeRetries(obs.desired.retries)}, interval ${obs.desired.intervalSeconds} s.` };
    const now = this.pass.now;
    const rollUp = (conditions: HsmHaGroupStatus['conditions']) => {
      let rep = report(KIND, conditions, computed, generation, now, { happy });
      if (obs.mode === 'observe') {
        const found = rep.ready.status === 'True' ? 'everything is as declared' : `found: ${rep.ready.message}`;
        rep = report(KIND, conditions, computed, generation, now, {
          override: { status: 'True', reason: 'Observing', message: `Observe mode (${Annotations.reconcile}=observe): nothing is changed on the client host; ${found}`, severity: 'ready' },
        });
      }
      return rep;
    };
    this.transitionEvents(prevConditions, rollUp(prevConditions).conditions, out.previous.members, out.members, obs);

    const { members, attempts, info, guardRecords } = out;
    this.pass.compose = (status) => {
      const rep = rollUp(status.conditions);
      const s: HsmHaGroupStatus = { ...status, conditions: rep.conditions };
      if (info?.number) s.groupNumber = info.number;
      if (info?.slotId !== undefined) s.slot = info.slotId;
      s.members = members;
      s.aliveMembers = members.filter((m) => isServing(m.state)).length;
      if (info?.needsSync !== undefined) s.needsSync = info.needsSync;
      if (attempts.length) s.recoveryAttempts = attempts;
      else delete s.recoveryAttempts;
      if (guardRecords?.length) s.credentialGuard = guardRecords;
      else delete s.credentialGuard;
      // Ready as a group needs it: the observe override reports True even when the roll-up does not.
      return { status: s, ready: rep.ready };
    };
  }

  /** Events for what changed since the last status: members going down or coming back, a circuit opening, a conflict. */
  private transitionEvents(prevConditions: HsmHaGroupStatus['conditions'], next: readonly ConditionLike[], prevMembers: readonly MemberStatus[] | undefined, members: readonly MemberStatus[], obs: Observation): void {
    const was = (type: string) => prevConditions?.find((c) => c.type === type);
    const now = (type: string) => next.find((c) => c.type === type);
    for (const m of members) {
      if (m.serial === undefined) continue;
      const before = prevMembers?.find((p) => p.serial === m.serial)?.state;
      if (m.state === 'down' && before !== 'down') {
        const d = obs.down.find((x) => x.serial === m.serial);
        this.event('Warning', 'MemberDown', `Member ${describeMember(m.serial, members)} of HA group ${obs.label} is down${d?.applianceReachable === false ? ': its appliance is unreachable' : ''}.`);
      } else if (before === 'down' && isServing(m.state) && !this.pass.events.some((e) => e.reason === 'MemberRecovered' && e.note.includes(m.serial ?? ''))) {
        this.event('Normal', 'MemberAlive', `Member ${describeMember(m.serial, members)} of HA group ${obs.label} is ${m.state} again.`);
      }
    }
    const mh = now('MembersHealthy');
    if (mh?.reason === 'RecoveryCircuitOpen' && was('MembersHealthy')?.reason !== 'RecoveryCircuitOpen') this.event('Warning', 'RecoveryCircuitOpen', mh.message);
    const cd = now('CloningDomainConsistent');
    if (cd?.status === 'False' && was('CloningDomainConsistent')?.status !== 'False') this.event('Warning', 'CloningDomainMismatch', cd.message);
  }
}

function claimOf(g: HsmHaGroup): SettingsClaim {
  return {
    key: `${g.metadata.namespace ?? ''}/${g.metadata.name ?? ''}`,
    clientHost: clientHostKey(g.spec.client.host, g.spec.client.port),
    retries: g.spec.recovery.autoRecoveryRetries,
    intervalSeconds: g.spec.recovery.autoRecoveryInterval,
  };
}
