export * from './types.js';
export * from './ids.js';
export * from './errors.js';
export * from './credentials.js';
export * from './quota.js';
export { bindAzureSignal, throwIfAzureAborted } from './signal.js';
export { ArmAzurePlane, AzurePlaneCache, createAzurePlane, FEATURES_API_VERSION } from './client.js';
export { immutableDrift, HSM_API_VERSION } from './wire.js';
