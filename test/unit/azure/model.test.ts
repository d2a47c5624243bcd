import { describe, expect, it } from 'vitest';
import { rootCertificates } from 'node:tls';
import {
  AzurePlaneCache,
  AzurePlaneError,
  CLOUDS,
  InvalidArmIdError,
  computeQuotaView,
  connectionFor,
  credentialKey,
  formatArmId,
  hsmClientOptions,
  hsmId,
  immutableDrift,
  networkClientOptions,
  normalizeLocation,
  parentArmId,
  parseArmId,
  parseArmIdOfType,
  quotaRoomFor,
  sameArmId,
  subnetId,
  vnetOfSubnet,
} from '../../../src/azure/index.js';
import type { HsmSpec, HsmState } from '../../../src/azure/index.js';
import { decodeToken, encodeToken, judgePoll, pollStateOf, resumeStateAfterAccepted } from '../../../src/azure/lro.js';
import { fromSdkHsm, fromWireHsm, toSdkHsm } from '../../../src/azure/wire.js';

const SUB = '00000000-0000-0000-0000-000000000001';

describe('ARM IDs', () => {
  it('parses nested resources case-insensitively and formats them back', () => {
    const id = `/subscriptions/${SUB}/resourcegroups/rg-hsm/providers/Microsoft.Network/virtualNetworks/vnet-1/subnets/hsm-subnet`;
    const p = parseArmIdOfType(id, 'microsoft.network/VIRTUALNETWORKS/subnets');
    expect(p).toMatchObject({ subscriptionId: SUB, resourceGroup: 'rg-hsm', provider: 'Microsoft.Network', types: ['virtualNetworks', 'subnets'], names: ['vnet-1', 'hsm-subnet'], name: 'hsm-subnet' });
    expect(vnetOfSubnet(id)).toBe(`/subscriptions/${SUB}/resourceGroups/rg-hsm/providers/Microsoft.Network/virtualNetworks/vnet-1`);
    expect(parentArmId(id)).toBe(vnetOfSubnet(id));
    expect(sameArmId(formatArmId(p), id)).toBe(true);
    expect(subnetId(SUB, 'rg-hsm', 'vnet-1', 'hsm-subnet').toLowerCase()).toBe(id.toLowerCase());
    expect(parseArmId(`/subscriptions/${SUB}`)).toMatchObject({ subscriptionId: SUB, types: [] });
    expect(parseArmId(hsmId(SUB, 'rg', 'hsm1'))).toMatchObject({ provider: 'Microsoft.HardwareSecurityModules', types: ['dedicatedHSMs'], name: 'hsm1' });
  });

  it('rejects malformed IDs and IDs of the wrong type', () => {
    for (const bad of ['', 'subscriptions/x', '/subscriptions/', `/subscriptions/${SUB}/resourceGroups`, `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks`]) {
      expect(() => parseArmId(bad), bad).toThrow(InvalidArmIdError);
    }
    expect(() => parseArmIdOfType(hsmId(SUB, 'rg', 'h'), 'Microsoft.Network/virtualNetworkGateways')).toThrow(/expected a Microsoft.Network\/virtualNetworkGateways ID/);
  });

  it('normalises locations', () => {
    expect(normalizeLocation('West Europe')).toBe('westeurope');
  });
});

describe('HSM wire mapping (2021-11-30)', () => {
  const spec: HsmSpec = {
    subscriptionId: SUB,
    resourceGroup: 'rg',
    name: 'hsm1',
    location: 'westeurope',
    sku: 'SafeNet Luna Network HSM A790',
    stampId: 'stamp2',
    subnetId: subnetId(SUB, 'rg', 'vnet', 'hsm'),
    privateIpAddress: '10.0.2.10',
    tags: { team: 'pki' },
  };

  it('maps a spec to the SDK model and the SDK model to plain state', () => {
    expect(toSdkHsm(spec)).toEqual({
      location: 'westeurope',
      sku: { name: 'SafeNet Luna Network HSM A790' },
      stampId: 'stamp2',
      networkProfile: { subnet: { id: spec.subnetId }, networkInterfaces: [{ privateIpAddress: '10.0.2.10' }] },
      tags: { team: 'pki' },
    });
    const state = fromSdkHsm({
      ...toSdkHsm(spec),
      id: hsmId(SUB, 'rg', 'hsm1'),
      name: 'hsm1',
      networkProfile: { subnet: { id: spec.subnetId }, networkInterfaces: [{ id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/hsm1_HSMnic', privateIpAddress: '10.0.2.10' }] },
      provisioningState: 'Succeeded',
      statusMessage: 'DedicatedHsm device is functional.',
    } as Parameters<typeof fromSdkHsm>[0]);
    expect(state).toMatchObject({ name: 'hsm1', resourceGroup: 'rg', stampId: 'stamp2', privateIpAddress: '10.0.2.10', provisioningState: 'Succeeded', tags: { team: 'pki' } });
    expect(state.nicId).toContain('hsm1_HSMnic');
  });

  it('reports drift of immutable properties only, ignoring what the spec leaves open', () => {
    const existing: HsmState = { id: hsmId(SUB, 'rg', 'hsm1'), name: 'hsm1', resourceGroup: 'rg', location: 'West Europe', sku: spec.sku, stampId: 'stamp2', subnetId: spec.subnetId.toUpperCase(), privateIpAddress: '10.0.2.10', tags: { other: 'x' } };
    expect(immutableDrift(spec, existing)).toEqual([]);
    expect(immutableDrift({ ...spec, stampId: undefined, privateIpAddress: undefined }, { ...existing, privateIpAddress: '10.0.2.4' })).toEqual([]);
    expect(immutableDrift({ ...spec, subnetId: subnetId(SUB, 'rg', 'vnet', 'other'), stampId: 'stamp1' }, existing)).toEqual(['subnetId', 'stampId']);
  });
});

describe('quota view', () => {
  const h = (name: string, stampId: string | undefined, state: string, location = 'westeurope'): HsmState => ({
    id: hsmId(SUB, 'rg', name),
    name,
    resourceGroup: 'rg',
    location,
    ...(stampId ? { stampId } : {}),
    provisioningState: state,
    tags: {},
  });

  it('counts per stamp and region, failed leftovers included and named, other regions excluded', () => {
    const view = computeQuotaView([h('a', 'stamp1', 'Succeeded'), h('b', 'stamp1', 'Failed'), h('c', 'stamp2', 'Provisioning'), h('d', 'stamp1', 'Succeeded', 'northeurope')], 'West Europe');
    expect(view.byStamp).toEqual({ stamp1: 2, stamp2: 1 });
    expect(view.region).toBe(3);
    expect(view.failedLeftovers).toEqual([{ name: 'b', id: hsmId(SUB, 'rg', 'b'), stampId: 'stamp1' }]);
    expect(quotaRoomFor(view, 'stamp1')).toEqual({ fits: false, reason: 'stamp1 holds 2 of 2 HSMs' });
    expect(quotaRoomFor(view, 'stamp2').fits).toBe(true);
    expect(quotaRoomFor(computeQuotaView([h('a', 'stamp1', 'Failed'), h('b', 'stamp1', 'Failed'), h('c', 'stamp2', 'Failed'), h('d', 'stamp2', 'Failed')], 'westeurope')).fits).toBe(false);
  });
});

describe('client options and credentials', () => {
  it('points both SDKs at the endpoint and scopes given, trusts an extra CA on top of the public roots, and disables SDK retries', () => {
    const conn = connectionFor({ endpoint: 'https://127.0.0.1:8443', credentialScopes: ['https://management.azure.com/.default'] }, { caPem: 'PEM' });
    const hsm = hsmClientOptions(conn);
    expect(hsm).toMatchObject({ endpoint: 'https://127.0.0.1:8443', $host: 'https://127.0.0.1:8443', credentialScopes: ['https://management.azure.com/.default'], retryOptions: { maxRetries: 0 } });
    expect(hsm.tlsOptions?.ca).toEqual([...rootCertificates, 'PEM']);
    const net = networkClientOptions(conn);
    expect(net).toMatchObject({ endpoint: 'https://127.0.0.1:8443', credentials: { scopes: ['https://management.azure.com/.default'] } });
    expect(net.tlsOptions?.ca).toHaveLength(rootCertificates.length + 1);
    expect(hsmClientOptions(connectionFor('AzurePublicCloud')).tlsOptions).toBeUndefined();
  });

  it('knows the sovereign clouds', () => {
    const gov = hsmClientOptions(connectionFor('AzureUSGovernment'));
    expect(gov.endpoint).toBe('https://management.usgovcloudapi.net');
    expect(gov.credentialScopes).toEqual(['https://management.usgovcloudapi.net/.default']);
    expect(CLOUDS.AzureChinaCloud.authorityHost).toBe('https://login.chinacloudapi.cn');
  });

  it('keys cached planes by credential without revealing the secret, and rotates on a new secret', () => {
    const a = credentialKey({ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 'first-secret-value' });
    const b = credentialKey({ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 'second-secret-value' });
    expect(a).not.toBe(b);
    expect(a).not.toContain('first-secret-value');
    const cache = new AzurePlaneCache(connectionFor('AzurePublicCloud'));
    const p1 = cache.get({ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 'first-secret-value' });
    expect(cache.get({ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 'first-secret-value' })).toBe(p1);
    expect(cache.get({ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 'second-secret-value' })).not.toBe(p1);
    expect(cache.size).toBe(2);
    cache.retain([{ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 'second-secret-value' }]);
    expect(cache.size).toBe(1);
  });
});

describe('resume tokens', () => {
  it('round-trip and refuse foreign or mismatched tokens', () => {
    const token = encodeToken({ kind: 'create', subscriptionId: SUB, resourceGroup: 'rg', name: 'hsm1', poller: '{"state":{}}' });
    expect(decodeToken(token, 'create')).toMatchObject({ v: 1, name: 'hsm1', poller: '{"state":{}}' });
    expect(() => decodeToken(token, 'delete')).toThrow(AzurePlaneError);
    expect(() => decodeToken('garbage', 'create')).toThrow(/not a create resume token/);
  });

  it('rebuild the poller state of an accepted request from its headers', () => {
    expect(JSON.parse(resumeStateAfterAccepted('DELETE', { status: 202, headers: { Location: 'https://x/op' } }) ?? '')).toEqual({
      state: { config: { metadata: { mode: 'ResourceLocation' }, operationLocation: 'https://x/op' }, isStarted: true },
    });
    expect(resumeStateAfterAccepted('PUT', { status: 400, headers: {} })).toBeUndefined();
    expect(resumeStateAfterAccepted('DELETE', { status: 200, headers: {} })).toBeUndefined();
    expect(JSON.parse(resumeStateAfterAccepted('PUT', { status: 201, headers: {} }) ?? '').state.config.metadata.mode).toBe('Body');
  });

  it('read delete tokens of the older form (an SDK poller state) as what to poll', () => {
    const poller = resumeStateAfterAccepted('DELETE', { status: 202, headers: { Location: 'https://x/hsm1/' } }) ?? '';
    const token = encodeToken({ kind: 'delete', subscriptionId: SUB, resourceGroup: 'rg', name: 'hsm1', poller });
    expect(decodeToken(token, 'delete').poll).toEqual({ url: 'https://x/hsm1/', via: 'location' });
    const fresh = encodeToken({ kind: 'delete', subscriptionId: SUB, resourceGroup: 'rg', name: 'hsm1', poll: { url: 'https://x/op', via: 'asyncOperation' } });
    expect(decodeToken(fresh, 'delete').poll).toEqual({ url: 'https://x/op', via: 'asyncOperation' });
    expect(() => decodeToken(encodeToken({ kind: 'delete', subscriptionId: SUB, resourceGroup: 'rg', name: 'hsm1' }), 'delete')).toThrow(AzurePlaneError);
  });
});

describe('asynchronous operation answers', () => {
  it('prefer the operation-status URL to the Location', () => {
    expect(pollStateOf({ Location: 'https://x/l', 'Azure-AsyncOperation': 'https://x/a' })).toEqual({ url: 'https://x/a', via: 'asyncOperation' });
    expect(pollStateOf({ location: 'https://x/l' })).toEqual({ url: 'https://x/l', via: 'location' });
    expect(pollStateOf({})).toBeUndefined();
  });

  it('judge a poll by what it answers, not by its status code alone', () => {
    const hsmBody = { id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs/h', properties: { provisioningState: 'Deleting' } };
    // 200 from the resource's own URL: it still exists.
    expect(judgePoll(200, hsmBody, true)).toEqual({ kind: 'resource', body: hsmBody });
    expect(judgePoll(404, undefined, true)).toEqual({ kind: 'gone' });
    expect(judgePoll(404, undefined, false)).toEqual({ kind: 'unknown' });
    expect(judgePoll(202, undefined, true)).toEqual({ kind: 'running' });
    expect(judgePoll(204, undefined, false)).toEqual({ kind: 'unknown' });
    expect(judgePoll(200, { status: 'InProgress' }, false)).toEqual({ kind: 'running' });
    expect(judgePoll(200, { status: 'Succeeded' }, false)).toEqual({ kind: 'succeeded' });
    expect(judgePoll(200, { status: 'Canceled' }, false)).toEqual({ kind: 'canceled' });
    expect(judgePoll(200, { status: 'Failed', error: { code: 'X', message: 'y' } }, false)).toEqual({ kind: 'failed', error: { code: 'X', message: 'y' } });
    expect(judgePoll(500, undefined, false)).toEqual({ kind: 'error' });
  });
});

describe('wire reading', () => {
  it('reads an HSM from wire JSON of 2021-11-30 (id) and of later api-versions (resourceId)', () => {
    const id = hsmId(SUB, 'rg', 'hsm1');
    const nic = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/hsm1_HSMnic`;
    const subnet = subnetId(SUB, 'rg', 'vnet', 'hsmsubnet');
    const props = (field: 'id' | 'resourceId') => ({
      stampId: 'stamp2',
      provisioningState: 'Succeeded',
      statusMessage: 'functional',
      networkProfile: { subnet: { [field]: subnet }, networkInterfaces: [{ [field]: nic, privateIpAddress: '10.0.2.5' }] },
    });
    for (const field of ['id', 'resourceId'] as const) {
      expect(fromWireHsm({ id, name: 'hsm1', location: 'westeurope', sku: { name: 'SafeNet Luna Network HSM A790' }, tags: { a: 'b' }, properties: props(field) })).toEqual({
        id,
        name: 'hsm1',
        resourceGroup: 'rg',
        location: 'westeurope',
        sku: 'SafeNet Luna Network HSM A790',
        stampId: 'stamp2',
        subnetId: subnet,
        provisioningState: 'Succeeded',
        statusMessage: 'functional',
        nicId: nic,
        privateIpAddress: '10.0.2.5',
        tags: { a: 'b' },
      });
    }
  });
});
