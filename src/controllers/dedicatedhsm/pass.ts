/**
 * A DedicatedHsm pass: the shared collector (controllers/shared/pass.ts) over this kind's status, plus what only
 * this kind carries between its phases: the conditions of a failure recorded in this pass (re-asserted after
 * preflight, which cannot see it), the metric changes decide makes (applied at the edge, reconciler.ts) and the
 * log lines it asks for. decide fills it and does no I/O.
 */
import type { ConditionLike, DedicatedHsmStatus } from '../../api/index.js';
import type { DeploymentAttemptClass } from '../../observability/hsm-metrics.js';
import { Pass as SharedPass } from '../shared/pass.js';

export type HsmStatus = DedicatedHsmStatus;

/** Metric changes of one pass; `null` clears a series. */
export interface MetricNotes {
  provisioningState?: string | null;
  gatewayWaitSince?: Date | null;
  applianceReachable?: boolean;
  rebootPatchInstalled?: boolean | null;
  /** deploymentAttempts{class} increments. */
  attempts: DeploymentAttemptClass[];
}

export interface LogNote {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  message: string;
}

export class Pass extends SharedPass<HsmStatus> {
  failure: ConditionLike[] | undefined;
  readonly metrics: MetricNotes = { attempts: [] };
  readonly logs: LogNote[] = [];

  log(level: LogNote['level'], fields: Record<string, unknown>, message: string): void {
    this.logs.push({ level, fields, message });
  }
}
