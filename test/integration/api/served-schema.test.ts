/**
 * What the API server serves from the CRDs: every spec and status field has a description in the published OpenAPI
 * (kubectl explain), nothing was dropped on the way, kubectl columns are the ones documented, and the status schema
 * holds everything the controllers will write.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GROUP,
  KINDS,
  SKU_A790,
  VERSION,
  type DedicatedHsmStatus,
  type HsmHaGroupStatus,
  type NtlsClientBindingStatus,
} from '../../../src/api/index.js';
import { missingDescriptions, rootSchema, type JsonObject, type JsonValue } from '../../../src/api/crd.js';
import { createNamespace } from '../../support/kube.js';
import { ensureGeneratedCrds } from './crds.js';
import { adminEndpoint, call, type Endpoint } from '../../support/http.js';
import { create, objectPath, type Manifest } from './objects.js';

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every property path under a schema node. */
function fieldPaths(node: JsonValue | undefined, path = ''): string[] {
  if (!isObject(node)) return [];
  const out: string[] = [];
  if (isObject(node.properties)) {
    for (const [k, v] of Object.entries(node.properties)) {
      const p = path ? `${path}.${k}` : k;
      out.push(p, ...fieldPaths(v, p));
    }
  }
  if (isObject(node.items)) out.push(...fieldPaths(node.items, `${path}[]`));
  return out;
}

const SUB = '00000000-0000-0000-0000-000000000001';
const NET = `/subscriptions/${SUB}/resourceGroups/hsm-rg/providers/Microsoft.Network`;
const T = '2026-01-02T03:04:05Z';
const FP = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

describe('schema as served by the API server', () => {
  let ns: string;
  let ep: Endpoint;
  let served: Record<string, JsonObject>;

  beforeAll(async () => {
    ep = adminEndpoint();
    ns = await createNamespace('api-served');
    await ensureGeneratedCrds(ep, ns);
    const r = await call(ep, 'GET', `/openapi/v3/apis/${GROUP}/${VERSION}`);
    expect(r.status, r.text).toBe(200);
    served = (r.body.components as { schemas: Record<string, JsonObject> }).schemas;
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s: every spec and status field has a description', (kind, def) => {
    const schema = served[`io.dedicatedhsm.${VERSION}.${kind}`];
    expect(schema, Object.keys(served).join(', ')).toBeDefined();
    const props = schema!.properties as JsonObject;
    const specPaths = fieldPaths(props.spec);
    expect(specPaths.length).toBeGreaterThan(10);
    expect(missingDescriptions(props.spec, 'spec')).toEqual([]);
    expect(missingDescriptions(props.status, 'status')).toEqual([]);
    // The served schema has exactly the fields generated from src/api (nothing dropped, nothing extra).
    const local = rootSchema(def).properties as JsonObject;
    expect(specPaths.sort()).toEqual(fieldPaths(local.spec).sort());
    expect(fieldPaths(props.status).sort()).toEqual(fieldPaths(local.status).sort());
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s: kubectl get shows the documented columns', async (_kind, def) => {
    const t = await tableColumns(ep, `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${def.plural}`);
    expect(t).toEqual(['Name', ...def.printerColumns.map((c) => c.name)]);
    // Reconciled kinds say whether they are Ready; a grant (no status) shows its bounds.
    expect(t.map((c) => c.toUpperCase())).toEqual(expect.arrayContaining(def.status ? ['READY', 'REASON', 'AGE'] : ['HSMS', 'NAMESPACES', 'AGE']));
  });

  it('short names and the hsm category are served', async () => {
    const r = await call(ep, 'GET', `/apis/${GROUP}/${VERSION}`);
    const resources = (r.body.resources as { name: string; shortNames?: string[]; categories?: string[] }[]).filter((x) => !x.name.includes('/'));
    expect(Object.fromEntries(resources.map((x) => [x.name, x.shortNames]))).toEqual({ dedicatedhsms: ['dhsm'], ntlsclientbindings: ['ntlsb'], hsmhagroups: ['hsmha'], hsmgrants: ['hsmg'] });
    for (const x of resources) expect(x.categories).toEqual(['hsm']);
  });

  it('a full status round-trips through the status subresource of each kind', async () => {
    const hsm: Manifest = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'DedicatedHsm',
      metadata: { name: 'status-hsm' },
      spec: {
        azure: { subscriptionId: SUB, resourceGroup: 'hsm-rg', location: 'eastus', stampId: 'stamp1', subnetId: `${NET}/virtualNetworks/hsm-vnet/subnets/hsmsubnet`, expressRouteGatewayId: `${NET}/virtualNetworkGateways/hsm-ergw` },
        appliance: { credentialsRef: { name: 'a' }, insecureTrustOnFirstUse: true },
      },
    };
    const condition = { type: 'Ready', status: 'False' as const, observedGeneration: 1, lastTransitionTime: T, reason: 'WaitingForGateway', message: 'The gateway is Updating.' };
    const guard = [{ key: 'appliance-ssh@10.0.2.4:22/0b6d6c1e-0000-4000-8000-000000000001', host: '10.0.2.4:22', role: 'appliance-ssh', secretUid: '0b6d6c1e-0000-4000-8000-000000000001', secretResourceVersion: '42', rejectedAt: T, message: 'login rejected', secretName: 'ns/hsm1-appliance' }];
    const hsmStatus: DedicatedHsmStatus = {
      observedGeneration: 1,
      conditions: [condition, { ...condition, type: 'Reconciling', status: 'True' }],
      resourceId: `/subscriptions/${SUB}/resourceGroups/hsm-rg/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs/status-hsm`,
      provisioningState: 'Provisioning',
      statusMessage: 'DedicatedHsm device is being provisioned.',
      privateIpAddress: '10.0.2.4',
      nicId: `${NET}/networkInterfaces/status-hsm_HSMnic`,
      attempts: 2,
      redeploys: 1,
      lastFailure: { class: 'DeploymentRace', code: 'InternalServerError', message: 'The gateway is not ready.', time: T },
      pendingOperation: { kind: 'create', token: '{"state":{"config":{}}}', startedAt: T },
      gateway: { state: 'Updating', since: T },
      appliance: {
        softwareVersion: '7.2.0-220',
        firmwareVersion: '7.0.3',
        serial: '572413',
        model: 'Luna K7',
        zeroized: true,
        soAttemptsLeft: 3,
        rebootPatchInstalled: false,
        ntlsServerCertFingerprint: FP,
        ntlsServerCertNotAfter: T,
        hostKeyFingerprint: 'SHA256:PLACEHOLDERhsm1hostkeyReplaceMe000000000000',
        observedAt: T,
      },
      credentialGuard: guard,
    };
    await roundTrip(hsm, hsmStatus);

    const binding: Manifest = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NtlsClientBinding',
      metadata: { name: 'status-binding' },
      spec: { clientName: 'c', identity: { ip: '10.1.1.1' }, certificate: { generate: {} }, targets: [{ dedicatedHsmRef: { name: 'status-hsm' }, partitions: ['par0'] }] },
    };
    const bindingStatus: NtlsClientBindingStatus = {
      observedGeneration: 1,
      conditions: [{ ...condition, reason: 'Drifted', message: 'Fingerprint on the HSM differs.' }],
      certificate: { fingerprint: FP, notBefore: T, notAfter: T, renewalTime: T, secretName: 'status-binding-ntls' },
      targets: [
        {
          dedicatedHsm: 'status-hsm',
          host: '10.0.2.4',
          registered: true,
          expectedFingerprint: FP,
          fingerprintOnHsm: FP,
          partitions: ['par0'],
          serverCertFingerprint: FP,
          lastPushedAt: T,
          pushes: 3,
          lastDrift: { at: T, reason: 'FingerprintMismatch', message: 'client fingerprint differs' },
        },
      ],
      outputSecretName: 'status-binding-ntls',
      lastCheckedAt: T,
    };
    await roundTrip(binding, bindingStatus);

    const group: Manifest = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'HsmHaGroup',
      metadata: { name: 'status-group' },
      spec: {
        label: 'g',
        members: [{ dedicatedHsmRef: { name: 'status-hsm' }, partitionSerial: '154438865287' }],
        client: { host: 'client.example.internal', username: 'u', credentialsRef: { name: 'c' }, insecureTrustOnFirstUse: true },
        passwordSecretRef: { name: 'p' },
      },
    };
    const groupStatus: HsmHaGroupStatus = {
      observedGeneration: 1,
      conditions: [{ ...condition, reason: 'MemberDown', message: 'Member 1238700701509 is down.' }],
      groupNumber: '1154438865287',
      slot: 5,
      members: [{ serial: '154438865287', label: 'par0', dedicatedHsm: 'status-hsm', state: 'down', lastRecoveryAt: T, recoveries: 1, failedRecoveries: 2 }],
      aliveMembers: 0,
      needsSync: false,
      recoveryAttempts: [{ at: T, serial: '154438865287', outcome: 'Failed' }],
      credentialGuard: guard,
    };
    await roundTrip(group, groupStatus);
  });

  it('conditions are a map keyed by type: a second condition of one type is refused', async () => {
    const m: Manifest = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NtlsClientBinding',
      metadata: { name: 'dup-conditions' },
      spec: { clientName: 'c', identity: { ip: '10.1.1.1' }, certificate: { generate: {} }, targets: [{ dedicatedHsmRef: { name: 'x' }, partitions: ['par0'] }] },
    };
    expect((await create(ep, ns, m)).status).toBe(201);
    const c = { type: 'Ready', status: 'True', lastTransitionTime: T, reason: 'Ready', message: 'ok' };
    const r = await call(ep, 'PATCH', `${objectPath(ns, m)}/status`, { status: { conditions: [c, { ...c, status: 'False' }] } }, 'application/merge-patch+json');
    expect(r.status, r.text).toBe(422);
    expect(String(r.body.message)).toContain('status.conditions[1]');
  });

  async function roundTrip(m: Manifest, status: object): Promise<void> {
    const created = await create(ep, ns, m);
    expect(created.status, created.text).toBe(201);
    const r = await call(ep, 'PATCH', `${objectPath(ns, m)}/status?fieldValidation=Strict`, { status }, 'application/merge-patch+json');
    expect(r.status, r.text).toBe(200);
    expect(r.body.status).toEqual(status);
    // The spec did not move: status writes go through the subresource only.
    expect((r.body.spec as { azure?: { sku?: string } }).azure?.sku ?? SKU_A790).toBe(SKU_A790);
  }
});

async function tableColumns(ep: Endpoint, path: string): Promise<string[]> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(`${ep.server}${path}`, { ca: ep.ca, headers: { Authorization: `Bearer ${ep.token}`, Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        const body = JSON.parse(text) as { columnDefinitions?: { name: string }[] };
        resolve((body.columnDefinitions ?? []).map((c) => c.name));
      });
    });
    req.on('error', reject);
    req.end();
  });
}
