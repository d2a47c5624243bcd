/** Device-plane simulators for tests and the sandbox. Operator code never imports these. */
export { startApplianceSimulator, type ApplianceSimulator, type ApplianceSimulatorOptions, type ApplianceControls, type ApplianceCounters } from './appliance.js';
export type { ApplianceState, SimClient, SimPartition, SimPackage } from './appliance-state.js';
export { startLunaCmSimulator, type LunaCmSimulator, type LunaCmSimulatorOptions, type LunaCmControls, type LunaCmCounters, type LunaCmState, type HaGroupState, type HaMemberState } from './lunacm-host.js';
export type { CommandCounters, LoginCounters } from './counters.js';
export { generateSshKeyPair, type SshServerCounters } from './ssh-server.js';
