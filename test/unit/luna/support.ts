/** Helpers shared by the device-plane tests. */
import type { SshEndpoint } from '../../../src/luna/index.js';
import type { ApplianceSimulator, LunaCmSimulator } from '../../../src/sandbox/luna/index.js';

export function applianceEndpoint(sim: ApplianceSimulator, over: Partial<SshEndpoint> & { password?: string; resourceVersion?: string } = {}): SshEndpoint {
  const { password, resourceVersion, ...rest } = over;
  return {
    host: sim.host,
    port: sim.port,
    username: sim.username,
    credential: { password: password ?? 'PASSWORD', secret: { uid: 'secret-uid-1', resourceVersion: resourceVersion ?? '1', name: 'hsm-system/hsm1-ssh' } },
    hostKey: { pinned: sim.hostKeyFingerprint },
    role: 'appliance-ssh',
    ...rest,
  };
}

export function lunacmEndpoint(sim: LunaCmSimulator, password = 'lunacm-password'): SshEndpoint {
  return {
    host: sim.host,
    port: sim.port,
    username: sim.username,
    credential: { password, secret: { uid: 'lunacm-uid', resourceVersion: '1', name: 'hsm-system/lunacm-ssh' } },
    hostKey: { pinned: sim.hostKeyFingerprint },
    role: 'lunacm-ssh',
  };
}

/** The rejection of a promise (fails the test if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Invariant 1: outside the confirmed zeroize path, no HSM SO login is ever attempted. */
export function expectSoUntouched(sim: ApplianceSimulator): void {
  if (sim.counters.hsmLogins.failure !== 0 || sim.counters.hsmLogins.success !== 0 || (!sim.state.zeroized && sim.state.soAttemptsLeft < 3)) {
    throw new Error(`HSM SO login attempted: ${JSON.stringify(sim.counters.hsmLogins)}, attempts left ${sim.state.soAttemptsLeft}`);
  }
}
