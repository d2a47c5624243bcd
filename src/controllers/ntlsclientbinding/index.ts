import type { OperatorContext } from '../shared/index.js';

/** Registers the NtlsClientBinding controller with the manager (being written: this placeholder registers nothing yet). */
export function registerNtlsClientBindingController(_ctx: OperatorContext): void {}
