/**
 * Manifests for a world: what a platform team would apply, with the world's real host keys pinned. Used by the
 * sandbox (which applies config/samples/ with these substitutions) and by the integration tests.
 */
import type { World } from './world.js';
import { WORLD_PASSWORDS } from './world.js';
import { Annotations } from '../api/index.js';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; [k: string]: unknown };

export function applianceSecret(name: string, password: string = WORLD_PASSWORDS.appliance, credentialFor = 'DedicatedHsm/*'): Manifest {
  // Opted in as a device credential (dedicatedhsm.io/credential-for): without it the operator refuses the Secret.
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, annotations: { [Annotations.credentialFor]: credentialFor } }, type: 'Opaque', stringData: { password } };
}

export interface DedicatedHsmOptions {
  stampId?: 'stamp1' | 'stamp2';
  deletionPolicy?: 'Orphan' | 'Delete';
  annotations?: Record<string, string>;
  credentialsSecret?: string;
  resyncInterval?: string;
  raceRetries?: number;
  redeployAfter?: number;
  privateIpAddress?: string;
}

/** A DedicatedHsm for one of the world's HSMs, its appliance host key pinned. */
export function dedicatedHsm(world: World, name: string, o: DedicatedHsmOptions = {}): Manifest {
  const sim = world.appliances.get(name);
  if (!sim) throw new Error(`the world has no appliance ${name}`);
  const { subscriptionId, resourceGroup, location, subnetId, gatewayId } = world.ids;
  return {
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'DedicatedHsm',
    metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      azure: {
        subscriptionId,
        resourceGroup,
        location,
        stampId: o.stampId ?? 'stamp1',
        subnetId,
        expressRouteGatewayId: gatewayId,
        ...(o.privateIpAddress ? { privateIpAddress: o.privateIpAddress } : {}),
      },
      appliance: { credentialsRef: { name: o.credentialsSecret ?? `${name}-appliance` }, hostKey: sim.hostKeyFingerprint },
      deployment: { raceRetries: o.raceRetries ?? 3, redeployAfter: o.redeployAfter ?? 2 },
      deletionPolicy: o.deletionPolicy ?? 'Orphan',
      ...(o.resyncInterval ? { resyncInterval: o.resyncInterval } : {}),
    },
  };
}
