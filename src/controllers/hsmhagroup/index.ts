import type { OperatorContext } from '../shared/index.js';

/** Registers the HsmHaGroup controller with the manager (being written: this placeholder registers nothing yet). */
export function registerHsmHaGroupController(_ctx: OperatorContext): void {}
