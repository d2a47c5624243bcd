/**
 * What a plan says about each object, in one shape for the text and the JSON output (`plan -o json`). The JSON form
 * is this structure as is: fields are only added, never renamed, within `apiVersion` plan.dedicatedhsm.io/v1alpha1.
 */
import type { Severity } from '../api/index.js';
import type { FieldChange } from './diff.js';
import type { RefusedWrite } from './read-only.js';

export const PLAN_API_VERSION = 'plan.dedicatedhsm.io/v1alpha1';

/**
 * The next thing the operator would do with the object:
 *   deploy            PUT the HSM (a new one, or again over a failed one after the race)
 *   redeploy          delete the failed resource, then deploy again (the guide's second step of the race)
 *   wait-for-gateway  nothing until the ExpressRoute gateway is Succeeded
 *   adopt             take the existing Azure HSM of that name as this object's (never a second one)
 *   update-tags       PATCH the tags, the one property Azure lets change
 *   watch             an operation in flight (a deployment, a deletion): poll it
 *   wait              a backoff or quiet period before the next attempt
 *   nothing           nothing to do (in sync), or stopped (see `blocked`)
 *   report-only       observe mode: read and report, never write
 *   refused           the API server refuses the manifest (an immutable change, a schema error): nothing changes
 *   not-planned       a kind plan reads only for existence, references and blockers
 */
export type NextAction = 'deploy' | 'redeploy' | 'wait-for-gateway' | 'adopt' | 'update-tags' | 'watch' | 'wait' | 'nothing' | 'report-only' | 'refused' | 'not-planned';

export interface PlannedCheck {
  type: string;
  status: string;
  reason: string;
  message: string;
  severity: Severity | 'unknown';
  /** The guide's section and what to do (src/cli/guide.ts), for a check that is not fine. */
  guide?: { section: string; action: string };
  /** `plan`: read now; `operator`: the operator's last reading in status (plan did not repeat it). */
  from: 'plan' | 'operator';
}

export interface ObjectPlan {
  kind: string;
  namespace: string;
  name: string;
  /** Where the manifest came from (`file`, `file#n`). */
  source: string;
  exists: {
    cluster: boolean;
    generation?: number;
    /** Ready as the cluster shows it now. */
    ready?: { status: string; reason: string };
    /** DedicatedHsm only: the Azure resource. */
    azure?: { state: 'exists' | 'missing' | 'in-flight' | 'unknown'; id?: string; provisioningState?: string; detail?: string };
  };
  next: { action: NextAction; summary: string };
  /** Ready as the operator would report it after this step. */
  ready?: { status: string; reason: string; severity: Severity; message: string };
  /** Something stops the next step (a failing check, a refusal). */
  blocked: boolean;
  /** What stops it needs a human (the reason's severity is needsHuman, or the API server refuses the manifest). */
  needsHuman: boolean;
  /** Every check that is not fine, with the guide's advice. */
  blockers: PlannedCheck[];
  /** Every check, fine or not. */
  checks: PlannedCheck[];
  /** What the API server would refuse: immutable changes and schema errors. */
  refused: { path: string; message: string }[];
  /** Spec in the cluster -> spec in the file (both defaulted); empty for a new object. */
  diff: FieldChange[];
  /** Events the operator would send in this step. */
  events: { type: string; reason: string; note: string }[];
  notes: string[];
  /** Plan could not finish this object (an Azure read failed, ...): its plan is incomplete. */
  error?: string;
}

export interface PlanResult {
  apiVersion: typeof PLAN_API_VERSION;
  objects: ObjectPlan[];
  /** Manifests of other kinds, not planned. */
  ignored: { source: string; kind: string; name: string }[];
  /** Writes the read-only planes refused (none, unless something tried). */
  refusedWrites: RefusedWrite[];
  /**
   * Status writes the operator's code asked for and plan did not make: the record of a password an appliance rejected
   * when plan logged in (--appliance). The operator makes its own record on its first attempt.
   */
  statusNotWritten: string[];
  /** 0 nothing needs a human, 2 something needs a human, 1 plan could not complete (or a plane refused a write). */
  exitCode: 0 | 1 | 2;
}
