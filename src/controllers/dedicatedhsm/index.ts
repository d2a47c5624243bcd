import type { OperatorContext } from '../shared/index.js';

/** Registers the DedicatedHsm controller with the manager (being written: this placeholder registers nothing yet). */
export function registerDedicatedHsmController(_ctx: OperatorContext): void {}
