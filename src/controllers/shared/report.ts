/**
 * The report step every controller ends with: the plane-specific conditions it computed, plus Ready rolled up from
 * them in the kind's order (cert-manager style) and the kstatus pair Reconciling/Stalled derived from Ready's
 * severity. Pure; `lastTransitionTime` only moves when a status flips, so an unchanged report costs no write.
 */
import { deriveKstatus, READY_CHECKS, rollUpReady, type ConditionKind, type ConditionLike, type Verdict } from '../../api/index.js';
import { setCondition, type Condition } from '../../runtime/index.js';

export interface Report {
  conditions: Condition[];
  ready: Verdict;
}

export interface ReportOptions {
  /** Overrides the roll-up (paused, observe-only, deleting, invalid spec): Ready says this instead. */
  override?: Omit<Verdict, 'status'> & { status?: Verdict['status'] };
  /** Happy Ready reason and message. */
  happy?: { reason: string; message: string };
}

export function report(kind: ConditionKind, previous: readonly Condition[] | undefined, computed: readonly ConditionLike[], generation: number | undefined, now: Date, opts: ReportOptions = {}): Report {
  let list: Condition[] = [...(previous ?? [])];
  for (const c of computed) list = setCondition(list, c, generation, now);
  const rolled = rollUpReady(list, READY_CHECKS[kind], opts.happy);
  const ready: Verdict = opts.override ? { status: opts.override.status ?? 'False', reason: opts.override.reason, message: opts.override.message, severity: opts.override.severity } : rolled;
  const k = deriveKstatus(ready);
  list = setCondition(list, { type: 'Ready', status: ready.status, reason: ready.reason, message: ready.message }, generation, now);
  list = setCondition(list, k.reconciling, generation, now);
  list = setCondition(list, k.stalled, generation, now);
  // Stable order: the kind's checks as the roll-up walks them, then the summary conditions, then anything else.
  const order = [...READY_CHECKS[kind].map((c) => c.type), 'Ready', 'Reconciling', 'Stalled'];
  list.sort((a, b) => rank(order, a.type) - rank(order, b.type));
  return { conditions: list, ready };
}

function rank(order: string[], type: string): number {
  const i = order.indexOf(type);
  return i === -1 ? order.length : i;
}
