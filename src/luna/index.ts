/** Device plane: SSH to Luna appliances and LunaCM hosts, command builders, parsers, the credential guard. */
export * from './errors.js';
export * from './args.js';
export * from './command.js';
export * from './parse/index.js';
export * as lunash from './lunash.js';
export * as lunacm from './lunacm.js';
export type { ClientIdentity } from './lunash.js';
export type { LunaCmOutcome } from './lunacm.js';
export { STATE_CHANGING_LUNASH } from './lunash.js';
export { STATE_CHANGING_LUNACM } from './lunacm.js';
export * from './guard.js';
export * from './ssh-pool.js';
export * from './scp.js';
export * from './appliance.js';
export * from './lunacm-host.js';
export * from './ntls.js';
export { zeroizeByFailedLogins, type ZeroizeConfirmation, type ZeroizeReport } from './zeroize.js';
export * from './tcp.js';
