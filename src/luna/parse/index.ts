export * from './output.js';
export * from './hsm.js';
export * from './packages.js';
export * from './partitions.js';
export * from './clients.js';
export * from './ntls.js';
export * from './hagroup.js';
export * from './dialog.js';
