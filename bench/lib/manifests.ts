/**
 * What the benchmarks apply: NtlsClientBindings, HsmHaGroups, and DedicatedHsms for a world (host keys pinned) or
 * for nowhere (paused objects that only fill a cache). Plain JSON, applied as written.
 */
import { randomBytes } from 'node:crypto';
import { API_VERSION, Annotations } from '../../src/api/index.js';
import type { KubeObject } from '../../src/runtime/index.js';
import type { Manifest } from '../../src/sandbox/manifests.js';
import { WORLD_PASSWORDS, type World } from '../../src/sandbox/world.js';

export const LUNACM_SECRET = 'lunacm-ssh';
export const GROUP_PASSWORD_SECRET = 'ha-password';

export const asObject = (m: Manifest, namespace: string): KubeObject => ({ ...m, metadata: { ...m.metadata, namespace } }) as KubeObject;

export interface BindingOptions {
  targets: { hsm: string; partitions: string[] }[];
  driftCheckInterval?: string;
  annotations?: Record<string, string>;
}

/** A binding with an operator-generated ECDSA certificate, registered by host name. */
export function binding(name: string, o: BindingOptions): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: 'NtlsClientBinding',
    metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      clientName: name,
      identity: { hostname: `${name}.apps.example.internal` },
      certificate: { generate: { keyAlgorithm: 'ECDSAP256' } },
      targets: o.targets.map((t) => ({ dedicatedHsmRef: { name: t.hsm }, partitions: t.partitions })),
      ...(o.driftCheckInterval ? { driftCheckInterval: o.driftCheckInterval } : {}),
    },
  };
}

export interface GroupOptions {
  label: string;
  members: { hsm: string; partitionLabel: string }[];
  pollInterval: string;
  maxAttemptsPerWindow?: number;
  window?: string;
}

/** An HA group on the world's LunaCM host; auto recovery off, so the operator's `hagroup recover` is what heals. */
export function haGroup(world: World, name: string, o: GroupOptions): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: 'HsmHaGroup',
    metadata: { name },
    spec: {
      label: o.label,
      members: o.members.map((m) => ({ dedicatedHsmRef: { name: m.hsm }, partitionLabel: m.partitionLabel })),
      client: { host: world.lunacmHostName, username: world.lunacm.username, credentialsRef: { name: LUNACM_SECRET }, hostKey: world.lunacm.hostKeyFingerprint },
      passwordSecretRef: { name: GROUP_PASSWORD_SECRET },
      recovery: {
        autoRecoveryRetries: 0,
        autoRecoveryInterval: 60,
        operatorRecovery: true,
        maxAttemptsPerWindow: o.maxAttemptsPerWindow ?? 100,
        window: o.window ?? '1m',
      },
      synchronize: true,
      pollInterval: o.pollInterval,
    },
  };
}

export function haSecrets(): Manifest[] {
  return [
    // Device credentials opt in (docs/security.md#a-device-credential-must-opt-in): every HA group of the fleet uses them.
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: LUNACM_SECRET, annotations: { [Annotations.credentialFor]: 'HsmHaGroup/*' } }, type: 'Opaque', stringData: { password: WORLD_PASSWORDS.lunacm } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: GROUP_PASSWORD_SECRET, annotations: { [Annotations.credentialFor]: 'HsmHaGroup/*' } }, type: 'Opaque', stringData: { password: WORLD_PASSWORDS.partition } },
  ];
}

const fakeHostKey = (): string => `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;

/** A paused DedicatedHsm that points at nothing: it only fills the operator's cache. */
export function pausedHsm(name: string): Manifest {
  const sub = '00000000-0000-0000-0000-00000000b001';
  const net = `/subscriptions/${sub}/resourceGroups/bench-net/providers/Microsoft.Network`;
  return {
    apiVersion: API_VERSION,
    kind: 'DedicatedHsm',
    metadata: { name, annotations: { [Annotations.reconcile]: 'paused' }, labels: { 'app.kubernetes.io/part-of': 'bench' } },
    spec: {
      azure: {
        subscriptionId: sub,
        resourceGroup: 'bench-hsms',
        location: 'eastus',
        stampId: 'stamp1',
        subnetId: `${net}/virtualNetworks/hsm-vnet/subnets/hsmsubnet`,
        expressRouteGatewayId: `${net}/virtualNetworkGateways/hsm-ergw`,
      },
      appliance: { credentialsRef: { name: `${name}-appliance` }, hostKey: fakeHostKey() },
    },
  };
}

/** A paused binding on two of the paused HSMs. */
export function pausedBinding(name: string, hsms: [string, string]): Manifest {
  return binding(name, {
    targets: [
      { hsm: hsms[0], partitions: ['par0', 'par1'] },
      { hsm: hsms[1], partitions: ['par0'] },
    ],
    annotations: { [Annotations.reconcile]: 'paused' },
  });
}
