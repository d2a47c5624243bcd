/**
 * Makes sure the API server serves exactly the CRDs in crds/ (defaults, enums and CEL rules included) before the
 * API tests run: applied over raw HTTP with server-side apply, then probed with a dry-run of an object only the
 * CEL rules reject.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { call, type Endpoint } from '../../support/http.js';
import { installCrds, loadCrdFiles } from '../../support/crds.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const NET = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network`;

/** Per kind: an object only a CEL rule refuses, and the message that proves the rule is in force. */
const CEL_PROBES: { plural: string; message: string; body: Record<string, unknown> }[] = [
  {
    plural: 'dedicatedhsms',
    message: 'set exactly one of stampId',
    body: {
      apiVersion: 'dedicatedhsm.io/v1alpha1',
      kind: 'DedicatedHsm',
      metadata: { name: 'cel-probe' },
      spec: {
        azure: {
          subscriptionId: SUB,
          resourceGroup: 'rg',
          location: 'eastus',
          stampId: 'stamp1',
          zones: ['1'],
          subnetId: `${NET}/virtualNetworks/vnet/subnets/s`,
          expressRouteGatewayId: `${NET}/virtualNetworkGateways/g`,
        },
        appliance: { credentialsRef: { name: 's' }, insecureTrustOnFirstUse: true },
      },
    },
  },
  {
    plural: 'ntlsclientbindings',
    message: 'set exactly one of hostname or ip',
    body: {
      apiVersion: 'dedicatedhsm.io/v1alpha1',
      kind: 'NtlsClientBinding',
      metadata: { name: 'cel-probe' },
      spec: { clientName: 'c', identity: {}, certificate: { generate: {} }, targets: [{ dedicatedHsmRef: { name: 'h' }, partitions: ['p'] }] },
    },
  },
  {
    plural: 'hsmhagroups',
    message: 'set exactly one of partitionSerial or partitionLabel',
    body: {
      apiVersion: 'dedicatedhsm.io/v1alpha1',
      kind: 'HsmHaGroup',
      metadata: { name: 'cel-probe' },
      spec: {
        label: 'g',
        members: [{ dedicatedHsmRef: { name: 'h' } }],
        client: { host: 'c', username: 'u', credentialsRef: { name: 's' }, insecureTrustOnFirstUse: true },
        passwordSecretRef: { name: 'p' },
      },
    },
  },
];

export async function ensureGeneratedCrds(ep: Endpoint, namespace: string): Promise<void> {
  await installCrds(ep, loadCrdFiles());
  const deadline = Date.now() + 60_000;
  // Handlers pick a new schema up asynchronously: wait until every kind's CEL rules are in force.
  for (const probe of CEL_PROBES) {
    for (;;) {
      const r = await call(ep, 'POST', `/apis/dedicatedhsm.io/v1alpha1/namespaces/${namespace}/${probe.plural}?dryRun=All`, probe.body);
      if (r.status === 422 && r.text.includes(probe.message)) break;
      if (Date.now() > deadline) throw new Error(`CEL rules of ${probe.plural} not in force: ${r.status} ${r.text.slice(0, 500)}`);
      await sleep(200);
    }
  }
}
