export * from './appliance.js';
export * from './context.js';
export * from './device-errors.js';
export * from './endpoints.js';
export * from './guard-status.js';
export * from './report.js';
export * from './secrets.js';
export * from './ssh-endpoint.js';
