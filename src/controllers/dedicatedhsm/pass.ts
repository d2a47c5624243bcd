/**
 * A DedicatedHsm pass: the shared collector (controllers/shared/pass.ts) over this kind's status, plus the one
 * thing only this kind carries between its steps: the conditions of a failure recorded in this pass (re-asserted
 * after preflight, which cannot see it).
 */
import type { ConditionLike, DedicatedHsmStatus } from '../../api/index.js';
import { Pass as SharedPass } from '../shared/pass.js';

export type HsmStatus = DedicatedHsmStatus;

export class Pass extends SharedPass<HsmStatus> {
  failure: ConditionLike[] | undefined;
}
