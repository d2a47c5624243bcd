/**
 * The one reconcile skeleton all three kinds run, in one order (controller-runtime's contract, kube-rs' finalizer
 * helper):
 *
 *   lookup   the cached object, resolved past this process's own writes (gone: forget it)
 *   mode     reconcileMode (src/api): invalid or paused -> report that, touch nothing else
 *   dispatch deleting -> cleanup (when the kind holds a finalizer) | else:
 *   finalize the finalizer added (manage mode) before anything exists that deleting could lose
 *   first    a first status (every check Pending), so kstatus and a human see InProgress at once
 *   triggers each trigger annotation whose non-empty value differs from the one recorded in status fires: the value is
 *            recorded first (a write-ahead checkpoint), then apply acts on it. The annotation is never edited, so a
 *            GitOps tool re-applying it from Git changes nothing and a crash costs the action, never repeats it
 *   apply    the kind's observe -> decide -> act, collected into one Pass
 *   report   one status write (skipped when nothing changed) and one Event flush
 *
 * Write-ahead checkpoints (the trigger record, the attempt count before a PUT, the zeroize record) are the only other
 * writes of a pass: named, explicit calls; plus one outside any pass, by design: a credential an appliance
 * rejected is merged into that DedicatedHsm's status.credentialGuard the moment it is rejected (persistGuard in
 * appliance.ts, invariant 1), whichever kind's pass was using it, so no restart can spend it again. Error policy: a RetryableError is thrown after the pass's report is
 * written (the status says why it retries); any other error skips the report (the pass did not finish) but still
 * sends the Events of what already happened. A pass whose signal aborted (shutdown, loss of the lease) reports
 * nothing either: what it saw was cut short, and an interrupted read must not be written as an unreachable device.
 * Outside status the skeleton writes one thing: its finalizer (docs/gitops.md lists what the operator owns).
 */
import {
  FINALIZER,
  TRIGGERS,
  reconcileMode,
  requestedTrigger,
  type ConditionKind,
  type ReconcileMode,
  type TriggerAnnotation,
  type Verdict,
} from '../../api/index.js';
import type { ResourceKind } from '../../observability/hsm-metrics.js';
import {
  addFinalizer,
  getCondition,
  hasFinalizer,
  removeFinalizer,
  AbortedError,
  RetryableError,
  type CacheReader,
  type OwnWrites,
  type Condition,
  refOf,
  type KubeObject,
  type ObjectRef,
  type ReconcileContext,
  type ReconcileOutcome,
  type ResourceType,
} from '../../runtime/index.js';
import type { OperatorContext } from './context.js';
import { Pass } from './pass.js';
import { report } from './report.js';

/** The status every kind shares: conditions and the generation they describe. */
export interface StatusBase {
  conditions?: Condition[];
  observedGeneration?: number;
}

export type KindObject<S extends StatusBase> = KubeObject & { metadata: NonNullable<KubeObject['metadata']>; status?: S };

/** A trigger annotation (src/api TRIGGERS: its value is a request, its status field the last one handled) and the modes in which it is honoured. */
export interface Trigger {
  annotation: TriggerAnnotation;
  modes: readonly Exclude<ReconcileMode, 'paused'>[];
}

const statusFieldOf = (annotation: TriggerAnnotation): string => TRIGGERS.find((t) => t.annotation === annotation)?.statusField ?? annotation;

/** What the skeleton hands the kind's apply and cleanup. */
export interface Step<T> {
  mode: Exclude<ReconcileMode, 'paused'>;
  /** Triggers that fired in this pass: annotation -> the value asked for (already recorded in status). */
  fired: ReadonlyMap<string, string>;
  rc: ReconcileContext;
  /** The object as last written in this pass. */
  readonly object: T;
  /**
   * A write-ahead checkpoint: `pass` (status and Events so far) is written now, before an act that must be on
   * record first. Returns the object as written; the pass goes on and its final report repeats what it set.
   */
  checkpoint(pass: Pass<NonNullable<T extends { status?: infer S } ? S : never>>): Promise<T>;
}

/** What cleanup decided: the finalizer goes (the external state is gone or left on purpose), or it stays. */
export type CleanupOutcome = { release: true } | { release?: false; outcome?: ReconcileOutcome };

export interface KindSpec<S extends StatusBase, T extends KindObject<S>> {
  kind: ConditionKind & ResourceKind;
  controller: string;
  type: ResourceType;
  cache: CacheReader<T>;
  /** Whether deletion waits for `cleanup` (DedicatedHsm, binding). The HA group holds none (see its reconciler). */
  finalizer: boolean;
  triggers: readonly Trigger[];
  /** Whether a change of Ready is told by an Event of its reason (unless the pass already told it). */
  readyEvents: boolean;
  /** Ready's message while paused (`deleting`: the object waits for deletion). */
  pausedMessage(deleting: boolean): string;
  /** A kind's own collector (a subclass carrying what only it needs between steps); default: Pass. */
  newPass?(now: Date): Pass<S>;
  /** Fills the first status (every check Pending, where the output will be); default: the roll-up alone. */
  first?(obj: T, pass: Pass<S>): void;
  /** The object left the cache: drop its Secret dependencies and metric series. */
  forget(key: string, ref: ObjectRef): void;
  /**
   * A kind without a finalizer leaves what it manages behind when its object is deleted: the note of the `Orphaned`
   * Event that says so, built from the object as last seen (a deletion while the operator was down goes untold).
   */
  orphaned?(last: T): string;
  apply(obj: T, pass: Pass<S>, step: Step<T>): Promise<ReconcileOutcome>;
  cleanup?(obj: T, pass: Pass<S>, step: Step<T>): Promise<CleanupOutcome>;
}

/** Builds the reconcile function of one kind. */
export function reconcilerFor<S extends StatusBase, T extends KindObject<S>>(ctx: OperatorContext, spec: KindSpec<S, T>): (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome> {
  const own = ctx.manager.ownWrites as OwnWrites<KubeObject> as unknown as OwnWrites<T>;

  /** The pass written: status (when it changed), the Ready Event, the pass's Events, the Ready metric. */
  const write = async (obj: T, pass: Pass<S>): Promise<T> => {
    let verdict: Verdict | undefined;
    try {
      const res = await ctx.manager.status.update<T>(spec.type, obj, (s) => {
        const status = s as unknown as S;
        if (pass.compose) {
          const c = pass.compose(status);
          verdict = c.ready;
          // A kind that shapes its whole status keeps the trigger record it does not write itself.
          const prev = status as Record<string, unknown>;
          const next = c.status as Record<string, unknown>;
          for (const t of TRIGGERS) if (prev[t.statusField] !== undefined && next[t.statusField] === undefined) next[t.statusField] = prev[t.statusField];
          return c.status as never;
        }
        Object.assign(status, structuredClone(pass.set));
        for (const k of pass.drop) delete (status as Record<PropertyKey, unknown>)[k];
        const r = report(spec.kind, status.conditions, pass.conditions, obj.metadata.generation, pass.now, {
          ...(pass.override ? { override: pass.override } : {}),
          ...(pass.happy ? { happy: pass.happy } : {}),
        });
        status.conditions = r.conditions;
        verdict = r.ready;
        return undefined;
      });
      if (res.written) own.record(obj, res.object);
      if (verdict) readyTold(obj, res.object, pass, verdict);
      return res.object;
    } finally {
      flush(obj, pass);
    }
  };

  const readyTold = (before: T, after: T, pass: Pass<S>, verdict: Verdict): void => {
    ctx.metrics.setReady(spec.kind, refOf(before), verdict.status === 'True');
    if (!spec.readyEvents) return;
    const was = getCondition(before.status?.conditions, 'Ready');
    const changed = !was || was.status !== verdict.status || was.reason !== verdict.reason;
    if (changed && verdict.reason !== 'Pending' && !pass.announced.has(verdict.reason)) {
      const type = verdict.severity === 'needsHuman' || verdict.severity === 'retrying' ? 'warning' : 'normal';
      ctx.manager.events[type](after, verdict.reason, verdict.message, 'Reconcile');
    }
  };

  // Regarding the object by its type: a cached list item carries no apiVersion or kind of its own.
  const regardingOf = (obj: KubeObject): KubeObject => ({ apiVersion: spec.type.group ? `${spec.type.group}/${spec.type.version}` : spec.type.version, kind: spec.type.kind, metadata: obj.metadata });

  const flush = (obj: KubeObject, pass: Pass<S>): void => {
    const regarding = regardingOf(obj);
    for (const e of pass.events.splice(0)) ctx.manager.events.event(regarding, e.type, e.reason, e.note, e.action);
  };

  /** The trigger values a pass handles, merged into status (nothing else: conditions and observedGeneration wait for the report). */
  const recordTriggers = async (obj: T, values: Record<string, string>): Promise<T> => {
    const res = await ctx.manager.status.update<T>(spec.type, obj, (s) => void Object.assign(s, values), { strategy: 'merge', observedGeneration: false });
    if (res.written) own.record(obj, res.object);
    return res.object;
  };

  /** Ready says `override`; nothing else is read or written. */
  const reportOnly = async (obj: T, now: Date, override: NonNullable<Pass<S>['override']>): Promise<ReconcileOutcome> => {
    const pass = new Pass<S>(now);
    pass.override = override;
    await write(obj, pass);
    return undefined;
  };

  /** The objects of a kind that tells its deletion, as last seen (what the Orphaned Event is about). */
  const lastSeen = new Map<string, T>();

  return async (key, rc) => {
    const cached = spec.cache.get(key);
    if (!cached) {
      const last = lastSeen.get(key);
      lastSeen.delete(key);
      if (last && spec.orphaned) ctx.manager.events.event(regardingOf(last), 'Normal', 'Orphaned', spec.orphaned(last), 'Delete');
      spec.forget(key, { namespace: rc.namespace ?? '', name: rc.name });
      return;
    }
    if (spec.orphaned) lastSeen.set(key, cached);
    // Start from the newest state this process knows: the cache may not have seen our last write yet.
    let obj = own.resolve(cached);
    const now = new Date(ctx.clock.now());
    const deleting = Boolean(obj.metadata.deletionTimestamp);
    if (deleting && (!spec.finalizer || !hasFinalizer(obj, FINALIZER))) return; // nothing of ours waits on it

    const m = reconcileMode(obj.metadata.annotations);
    if ('error' in m) return reportOnly(obj, now, { reason: 'InvalidSpec', severity: 'needsHuman', message: `${m.error}. Nothing is done until it is corrected.` });
    if (m.mode === 'paused') return reportOnly(obj, now, { reason: 'Paused', severity: 'needsHuman', message: spec.pausedMessage(deleting) });
    const mode = m.mode;

    if (!deleting) {
      if (spec.finalizer && mode === 'manage' && !hasFinalizer(obj, FINALIZER)) {
        const updated = await addFinalizer(ctx.manager.client, spec.type, obj, FINALIZER);
        if (!updated) return;
        own.record(obj, updated);
        obj = updated;
      }
      if (!obj.status?.conditions?.length) {
        const first = new Pass<S>(now);
        spec.first?.(obj, first);
        obj = await write(obj, first);
      }
    }

    const pass = spec.newPass ? spec.newPass(now) : new Pass<S>(now);
    const fired = new Map<string, string>();
    if (!deleting) {
      const handled = (obj.status ?? {}) as Record<string, unknown>;
      const record: Record<string, string> = {};
      for (const t of spec.triggers) {
        if (!t.modes.includes(mode)) continue;
        const field = statusFieldOf(t.annotation);
        const last = handled[field];
        const asked = requestedTrigger(obj.metadata.annotations, t.annotation, typeof last === 'string' ? last : undefined);
        if (!asked) continue;
        if ('refused' in asked) {
          pass.event('Warning', 'TriggerRefused', asked.refused);
          continue;
        }
        fired.set(t.annotation, asked.fire);
        record[field] = asked.fire;
      }
      // Write-ahead: the values are on record before anything acts on them.
      if (fired.size) obj = await recordTriggers(obj, record);
    }

    const step: Step<T> = {
      mode,
      fired,
      rc,
      get object() {
        return obj;
      },
      checkpoint: async (p) => {
        obj = await write(obj, p as unknown as Pass<S>);
        return obj;
      },
    };
    if (deleting) {
      let done: CleanupOutcome;
      try {
        done = spec.cleanup ? await spec.cleanup(obj, pass, step) : { release: true };
      } catch (e) {
        await settle(e, step.object, pass, rc.signal);
        throw e;
      }
      cutShort(step.object, pass, rc.signal);
      if (done.release) {
        obj = step.object;
        flush(obj, pass);
        await removeFinalizer(ctx.manager.client, spec.type, obj, FINALIZER);
        own.forget(obj.metadata.uid);
        spec.forget(key, refOf(obj));
        return;
      }
      await write(obj, pass);
      return done.outcome;
    }
    let outcome: ReconcileOutcome;
    try {
      outcome = await spec.apply(obj, pass, step);
    } catch (e) {
      await settle(e, step.object, pass, rc.signal);
      throw e;
    }
    cutShort(step.object, pass, rc.signal);
    await write(step.object, pass);
    return outcome;
  };

  /** A pass that threw: a RetryableError is reported first; any other error only sends the pass's Events. */
  async function settle(e: unknown, obj: T, pass: Pass<S>, signal: AbortSignal): Promise<void> {
    if (e instanceof RetryableError && !signal.aborted) await write(obj, pass);
    else flush(obj, pass);
  }

  /** An aborted pass: its Events (what did happen) go out, its report does not. */
  function cutShort(obj: T, pass: Pass<S>, signal: AbortSignal): void {
    if (!signal.aborted) return;
    flush(obj, pass);
    throw signal.reason instanceof Error ? signal.reason : new AbortedError('reconcile aborted');
  }
}
