/**
 * The pieces every object's plan is made of, whatever its kind: the plan as it starts (what exists, the spec diff)
 * and a condition as a planned check with the guide's advice.
 */
import { normalStatus, severityOf, type Condition } from '../api/index.js';
import { explainReason } from '../cli/guide.js';
import { specDiff } from './diff.js';
import type { NextAction, ObjectPlan, PlannedCheck } from './types.js';

export const isFine = (c: { type: string; status: string }): boolean => c.status === normalStatus(c.type);

/** A condition (computed by plan or read from the operator's status) with the guide's advice when it is not fine. */
export function plannedCheck(c: { type: string; status: string; reason: string; message: string }, from: PlannedCheck['from']): PlannedCheck {
  const advice = isFine(c) ? undefined : explainReason(c.reason).advice;
  return { type: c.type, status: c.status, reason: c.reason, message: c.message, severity: severityOf(c.reason) ?? 'unknown', ...(advice ? { guide: { ...advice } } : {}), from };
}

interface Live {
  metadata: { generation?: number };
  spec?: unknown;
  status?: { conditions?: Pick<Condition, 'type' | 'status' | 'reason'>[] };
}

/** An object's plan before anything is judged: what exists in the cluster and how the file's spec differs from it. */
export function startPlan(o: { kind: string; namespace: string; name: string; source: string; live: Live | undefined; spec: unknown; action: NextAction }): ObjectPlan {
  const live = o.live;
  const ready = live?.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    kind: o.kind,
    namespace: o.namespace,
    name: o.name,
    source: o.source,
    exists: { cluster: Boolean(live), ...(live?.metadata.generation !== undefined ? { generation: live.metadata.generation } : {}), ...(ready ? { ready: { status: ready.status, reason: ready.reason } } : {}) },
    next: { action: o.action, summary: '' },
    blocked: false,
    needsHuman: false,
    blockers: [],
    checks: [],
    refused: [],
    diff: live ? specDiff(live.spec, o.spec) : [],
    events: [],
    notes: [],
  };
}
