/**
 * The real SDK clients (@azure/arm-hardwaresecuritymodules 1.0.0, @azure/arm-network 39) through src/azure,
 * against the HTTPS ARM simulator on 127.0.0.1 with its CA and a static TokenCredential.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import { AzureAbortedError, AzurePlaneError, connectionFor, createAzurePlane, nicId } from '../../../src/azure/index.js';
import type { AzureFailure, AzurePlane, HsmSpec, HsmState } from '../../../src/azure/index.js';
import { decodeToken, encodeToken, resumeStateAfterAccepted } from '../../../src/azure/lro.js';
import { LUNA_SKU, startArmSimulator } from '../../../src/sandbox/arm/index.js';
import type { ArmSimulator, GatewayTimeline, HsmEvent } from '../../../src/sandbox/arm/index.js';

const credential: TokenCredential = { getToken: async () => ({ token: 'x', expiresOnTimestamp: Date.now() + 3600e3 }) };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let sim: ArmSimulator;

beforeAll(async () => {
  sim = await startArmSimulator({ provisioningMs: 5 });
});
afterAll(async () => {
  await sim?.stop();
});

/** A fresh plane, as a restarted operator would build it. */
function newPlane(endpoint = sim.endpoint): AzurePlane {
  return createAzurePlane(credential, connectionFor({ endpoint, credentialScopes: ['https://management.azure.com/.default'] }, { caPem: sim.caPem }));
}

/** A subscription of its own (quota is per subscription) with a VNet, an HSM subnet and an ExpressRoute gateway. */
function scenario(opts: { delegated?: boolean; nsg?: boolean; gateway?: GatewayTimeline | false; location?: string } = {}) {
  const sub = randomUUID();
  const w = sim.world;
  const location = opts.location ?? 'westeurope';
  const vnet = w.addVnet({ subscriptionId: sub, resourceGroup: 'rg-net', name: 'vnet-hsm', location });
  const subnet = w.addSubnet({ vnetId: vnet, name: 'hsm-subnet', addressPrefix: '10.0.2.0/24', delegated: opts.delegated ?? true, nsg: opts.nsg ?? false });
  const gw = opts.gateway === false ? undefined : w.addGateway({ vnetId: vnet, name: 'ergw', ...(opts.gateway ? { timeline: opts.gateway } : {}) });
  const spec = (name: string, extra: Partial<HsmSpec> = {}): HsmSpec => ({ subscriptionId: sub, resourceGroup: 'rg-hsm', name, location, sku: LUNA_SKU, subnetId: subnet, ...extra });
  return { sub, vnet, subnet, gw, spec };
}

async function create(plane: AzurePlane, spec: HsmSpec): Promise<HsmState> {
  let p = await plane.beginCreateHsm(spec);
  for (let i = 0; !p.done; i++) {
    if (i > 400) throw new Error('create did not finish');
    await sleep(5);
    p = await plane.pollCreate(p.token);
  }
  return p.hsm;
}

async function failureOf(promise: Promise<unknown>): Promise<AzureFailure> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AzurePlaneError) return err.failure;
    throw err;
  }
  throw new Error('expected an AzurePlaneError');
}

const puts = (name: string): number => sim.count({ method: 'PUT', pathIncludes: `/dedicatedHSMs/${name}` });

describe('reads through the Network SDK and the Features API', () => {
  it('follows a gateway from Updating to Succeeded and reports its type and VNet', async () => {
    // Updating for longer than any loaded machine takes for the first read; then it is followed to Succeeded.
    const s = scenario({ gateway: [['Updating', 1_500], ['Succeeded']] });
    const plane = newPlane();
    const first = await plane.getGateway(s.gw ?? '');
    expect(first).toMatchObject({ gatewayType: 'ExpressRoute', provisioningState: 'Updating', vnetId: s.vnet });
    let state = first?.provisioningState;
    for (let i = 0; state !== 'Succeeded' && i < 500; i++) {
      await sleep(20);
      state = (await plane.getGateway(s.gw ?? ''))?.provisioningState;
    }
    expect(state).toBe('Succeeded');
    sim.world.setGatewayState('ergw', 'Failed');
    expect((await plane.getGateway(s.gw ?? ''))?.provisioningState).toBe('Failed');
    expect(await plane.getGateway(s.gw?.replace(/ergw$/, 'nope') ?? '')).toBeUndefined();
  });

  it('reads subnet delegation, NSG and route table, NIC IPs and feature registration', async () => {
    const s = scenario({ delegated: false, nsg: true });
    const plane = newPlane();
    expect(await plane.getSubnet(s.subnet)).toEqual({ id: s.subnet, vnetId: s.vnet, addressPrefix: '10.0.2.0/24', delegations: [], hasNsg: true, hasRouteTable: false });
    sim.world.setSubnetDelegated(s.subnet, true);
    expect((await plane.getSubnet(s.subnet))?.delegations).toEqual(['Microsoft.HardwareSecurityModules/dedicatedHSMs']);
    expect(await plane.getNic(nicId(s.sub, 'rg-hsm', 'missing_HSMnic'))).toBeUndefined();

    expect(await plane.getFeature(s.sub, 'Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM')).toEqual({ name: 'Microsoft.HardwareSecurityModules/AzureDedicatedHSM', state: 'Registered' });
    sim.world.unregisterFeature('Microsoft.Network', 'AllowBaremetalServers', { subscriptionId: s.sub });
    expect((await plane.getFeature(s.sub, 'Microsoft.Network', 'AllowBaremetalServers')).state).toBe('NotRegistered');
    expect(sim.count({ method: 'GET', pathIncludes: `/subscriptions/${s.sub}/providers/Microsoft.Features/` })).toBe(2);
  });
});

describe('create, adopt, resume, delete', () => {
  it('creates HSMs with an IP from the subnet and with an explicit IP, each with its NIC', async () => {
    const s = scenario();
    const plane = newPlane();
    const ready: HsmEvent[] = [];
    const off = sim.onHsmReady((e) => ready.push(e));
    try {
      const auto = await create(plane, s.spec('hsm-auto', { tags: { team: 'pki' } }));
      expect(auto).toMatchObject({ name: 'hsm-auto', provisioningState: 'Succeeded', statusMessage: 'DedicatedHsm device is functional.', privateIpAddress: '10.0.2.4', stampId: 'stamp1', tags: { team: 'pki' } });
      expect(auto.nicId).toBe(nicId(s.sub, 'rg-hsm', 'hsm-auto_HSMnic'));
      expect(await plane.getNic(auto.nicId ?? '')).toMatchObject({ privateIpAddress: '10.0.2.4', subnetId: s.subnet });

      const fixed = await create(plane, s.spec('hsm-fixed', { privateIpAddress: '10.0.2.10', stampId: 'stamp2' }));
      expect(fixed).toMatchObject({ privateIpAddress: '10.0.2.10', stampId: 'stamp2' });
      expect((await plane.getNic(fixed.nicId ?? ''))?.privateIpAddress).toBe('10.0.2.10');
      expect(ready.filter((e) => e.subscriptionId === s.sub).map((e) => [e.name, e.privateIpAddress])).toEqual([
        ['hsm-auto', '10.0.2.4'],
        ['hsm-fixed', '10.0.2.10'],
      ]);
      expect(puts('hsm-auto')).toBe(1);
      expect(puts('hsm-fixed')).toBe(1);

      // An IP outside the subnet or already taken is refused synchronously.
      expect((await failureOf(plane.beginCreateHsm(s.spec('hsm-out', { privateIpAddress: '10.9.9.9' })))).class).toBe('invalid');
      const taken = await failureOf(plane.beginCreateHsm(s.spec('hsm-dup', { privateIpAddress: '10.0.2.10' })));
      expect(taken).toMatchObject({ class: 'invalid', code: 'PrivateIPAddressInUse' });
    } finally {
      off();
    }
  });

  it('adopts an existing HSM instead of creating a second one, and keeps all but tags immutable', async () => {
    const s = scenario();
    sim.world.addHsm({ subscriptionId: s.sub, resourceGroup: 'rg-hsm', name: 'hsm-old', location: 'westeurope', subnetId: s.subnet, stampId: 'stamp1', tags: { owner: 'a' } });
    const plane = newPlane();
    expect(await plane.getHsm(s.sub, 'rg-hsm', 'hsm-nope')).toBeUndefined();
    const existing = await plane.getHsm(s.sub, 'rg-hsm', 'hsm-old');
    expect(existing).toMatchObject({ provisioningState: 'Succeeded', privateIpAddress: '10.0.2.4', stampId: 'stamp1', tags: { owner: 'a' } });

    // A PUT with the same properties answers synchronously: nothing is provisioned again.
    const again = await plane.beginCreateHsm(s.spec('hsm-old', { tags: { owner: 'b' } }));
    expect(again.done).toBe(true);
    expect(again.done && again.hsm.tags).toEqual({ owner: 'b' });
    expect(sim.count({ method: 'GET', pathIncludes: `/subscriptions/${s.sub}/providers/Microsoft.HardwareSecurityModules/locations/` })).toBe(0);

    const moved = await failureOf(plane.beginCreateHsm(s.spec('hsm-old', { subnetId: s.subnet.replace('hsm-subnet', 'other') })));
    expect(moved).toMatchObject({ class: 'invalid', retryable: false, code: 'PropertyChangeNotAllowed' });
    expect(moved.action).toContain('immutable');

    expect((await plane.updateTags(s.sub, 'rg-hsm', 'hsm-old', { owner: 'c' })).tags).toEqual({ owner: 'c' });
    expect(sim.world.hsm('hsm-old')?.tags).toEqual({ owner: 'c' });
  });

  it('resumes a create from its token in a new client instance without sending a second PUT', async () => {
    const s = scenario();
    sim.world.lroNeverFinishes('hsm-resume');
    const before = await newPlane().beginCreateHsm(s.spec('hsm-resume'));
    expect(before.done).toBe(false);
    const token = before.done ? '' : before.token;

    // The token holds the SDK's own poller state; rebuilding it from the PUT's headers gives the same state.
    const state = JSON.parse(decodeToken(token, 'create').poller ?? '') as { state: { config: { operationLocation: string } } };
    expect(JSON.parse(resumeStateAfterAccepted('PUT', { status: 201, headers: { 'Azure-AsyncOperation': state.state.config.operationLocation } }) ?? '')).toEqual(state);

    // The operation is held at its last phase: polls from the restarted operator see it still running.
    for (let i = 0; sim.world.hsm('hsm-resume')?.provisioningState !== 'Provisioning' && i < 400; i++) await sleep(5);
    expect(sim.world.hsm('hsm-resume')?.provisioningState).toBe('Provisioning');
    const restarted = newPlane();
    let p = await restarted.pollCreate(token);
    p = p.done ? p : await restarted.pollCreate(p.token);
    expect(p.done).toBe(false);
    sim.world.lroNeverFinishes('hsm-resume', false);
    for (let i = 0; !p.done && i < 400; i++) {
      await sleep(5);
      p = await restarted.pollCreate(p.token);
    }
    expect(p.done && p.hsm.provisioningState).toBe('Succeeded');
    expect(puts('hsm-resume')).toBe(1);
  });

  it('returns a token when the PUT was accepted but the first poll failed', async () => {
    const s = scenario();
    sim.world.failNext(1, 500, { method: 'GET', pathIncludes: `/subscriptions/${s.sub}/providers/Microsoft.HardwareSecurityModules/locations/` });
    const p = await newPlane().beginCreateHsm(s.spec('hsm-blip'));
    expect(p.done).toBe(false);
    expect(sim.count({ method: 'GET', pathIncludes: `/subscriptions/${s.sub}/providers/Microsoft.HardwareSecurityModules/locations/`, status: 500 })).toBe(1);
    let q = p;
    for (let i = 0; !q.done && i < 400; i++) {
      await sleep(5);
      q = await newPlane().pollCreate(q.token);
    }
    expect(q.done && q.hsm.provisioningState).toBe('Succeeded');
    expect(puts('hsm-blip')).toBe(1);
  });

  it('refuses to delete until the HSM is zeroized, then deletes it (resumable) and frees its NIC', async () => {
    const s = scenario();
    const plane = newPlane();
    const hsm = await create(plane, s.spec('hsm-del'));
    let zeroized = false;
    sim.world.linkAppliance('hsm-del', { isZeroized: async () => zeroized });

    const refused = await failureOf(plane.beginDeleteHsm(s.sub, 'rg-hsm', 'hsm-del'));
    expect(refused).toMatchObject({ class: 'conflict', retryable: false, code: 'HsmNotZeroized' });
    expect(refused.action).toContain('zeroize the HSM first');
    expect((await plane.getHsm(s.sub, 'rg-hsm', 'hsm-del'))?.provisioningState).toBe('Succeeded');

    zeroized = true;
    sim.world.lroNeverFinishes('hsm-del');
    const started = await plane.beginDeleteHsm(s.sub, 'rg-hsm', 'hsm-del');
    expect(started.done).toBe(false);
    expect((await plane.getHsm(s.sub, 'rg-hsm', 'hsm-del'))?.provisioningState).toBe('Deleting');
    sim.world.lroNeverFinishes('hsm-del', false);
    let p = started;
    for (let i = 0; !p.done && i < 400; i++) {
      await sleep(5);
      p = await newPlane().pollDelete(p.token);
    }
    expect(p.done).toBe(true);
    expect(await plane.getHsm(s.sub, 'rg-hsm', 'hsm-del')).toBeUndefined();
    expect(await plane.getNic(hsm.nicId ?? '')).toBeUndefined();
    // Deleting what is gone is done at once (204).
    expect(await plane.beginDeleteHsm(s.sub, 'rg-hsm', 'hsm-del')).toEqual({ done: true });
    expect(sim.count({ method: 'DELETE', pathIncludes: `/subscriptions/${s.sub}/` })).toBe(3);
  });

  it('sees an HSM deleted out of band as gone', async () => {
    const s = scenario();
    const plane = newPlane();
    await create(plane, s.spec('hsm-oob'));
    sim.world.deleteOutOfBand('hsm-oob');
    expect(await plane.getHsm(s.sub, 'rg-hsm', 'hsm-oob')).toBeUndefined();
  });
});

describe('failures, classified', () => {
  it('the gateway race: the deployment fails while the gateway updates, and a rerun succeeds once it has', async () => {
    const s = scenario({ gateway: [['Updating', 600_000], ['Succeeded']] });
    const plane = newPlane();
    const race = await failureOf(create(plane, s.spec('hsm-race')));
    expect(race).toMatchObject({ class: 'race', retryable: true, code: 'NetworkingDependencyNotReady' });
    expect(race.message).toContain('Updating');
    expect((await plane.getHsm(s.sub, 'rg-hsm', 'hsm-race'))?.provisioningState).toBe('Failed');

    sim.world.setGatewayState(s.gw ?? '', 'Succeeded');
    expect((await create(plane, s.spec('hsm-race'))).provisioningState).toBe('Succeeded');

    sim.world.failNextPuts(1, 'race');
    expect((await failureOf(create(plane, s.spec('hsm-race2')))).class).toBe('race');
  });

  it('quota: failed leftovers count and are named; 2 per stamp, 4 per region', async () => {
    const s = scenario();
    for (const name of ['left-1', 'left-2'])
      sim.world.addHsm({ subscriptionId: s.sub, resourceGroup: 'rg-hsm', name, location: 'westeurope', stampId: 'stamp1', provisioningState: 'Failed', statusMessage: 'Deployment failed.' });
    const plane = newPlane();
    const view = await plane.quotaView(s.sub, 'West Europe');
    expect(view).toMatchObject({ byStamp: { stamp1: 2 }, region: 2, limits: { perStamp: 2, perRegion: 4 } });
    expect(view.failedLeftovers.map((l) => l.name)).toEqual(['left-1', 'left-2']);

    const stampFull = await failureOf(create(plane, s.spec('hsm-q1', { stampId: 'stamp1' })));
    expect(stampFull).toMatchObject({ class: 'quota', retryable: false, code: 'QuotaExceeded' });
    expect(stampFull.message).toContain('failed deployments');
    expect(stampFull.action).toContain('delete the resources of previous failed deployments');

    // Without a stamp the service picks the one with room; then the region is full (3 failed + 1).
    expect((await create(plane, s.spec('hsm-q2'))).stampId).toBe('stamp2');
    const regionFull = await failureOf(create(plane, s.spec('hsm-q3')));
    expect(regionFull.class).toBe('quota');
    expect(regionFull.message).toContain('limit 4');
    expect((await plane.quotaView(s.sub, 'westeurope')).failedLeftovers.map((l) => l.name).sort()).toEqual(['hsm-q1', 'hsm-q3', 'left-1', 'left-2']);

    // A quota increase (granted through a support ticket) lets the next one through.
    sim.world.setQuota({ perStamp: 4, perRegion: 8 }, { subscriptionId: s.sub });
    expect((await create(plane, s.spec('hsm-q4'))).provisioningState).toBe('Succeeded');
  });

  it('capacity: a full stamp fails the allocation', async () => {
    const s = scenario({ location: 'northeurope' });
    sim.world.setCapacity(0, { location: 'northeurope', stampId: 'stamp1' });
    const f = await failureOf(create(newPlane(), s.spec('hsm-cap', { stampId: 'stamp1' })));
    expect(f).toMatchObject({ class: 'capacity', retryable: false, code: 'InsufficientCapacity' });
    expect(f.action).toContain('support ticket');
  });

  it('delegation: an undelegated subnet (refused at once, the cause in details), and a subnet with an NSG, fail the deployment', async () => {
    const undelegated = scenario({ delegated: false });
    const f = await failureOf(newPlane().beginCreateHsm(undelegated.spec('hsm-deleg')));
    expect(f).toMatchObject({ class: 'delegation', retryable: false, statusCode: 400, code: 'SubnetMissingRequiredDelegation' });
    expect(f.message).toContain('has no delegation');
    expect(f.action).toContain('Microsoft.HardwareSecurityModules/dedicatedHSMs');
    const withNsg = scenario({ nsg: true });
    const g = await failureOf(create(newPlane(), withNsg.spec('hsm-nsg')));
    expect(g.class).toBe('delegation');
    expect(g.action).toContain('network security group');
  });

  it('not allowlisted: the PUT is refused and nothing is created', async () => {
    const s = scenario();
    sim.world.unregisterFeature('Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM', { subscriptionId: s.sub });
    const plane = newPlane();
    const f = await failureOf(plane.beginCreateHsm(s.spec('hsm-allow')));
    expect(f).toMatchObject({ class: 'notAllowlisted', retryable: false, code: 'SubscriptionNotRegisteredForFeature', statusCode: 409 });
    expect(f.action).toContain('Microsoft account manager');
    expect(await plane.getHsm(s.sub, 'rg-hsm', 'hsm-allow')).toBeUndefined();
  });

  it('429 carries Retry-After (seconds or HTTP date); 500 and network errors are transient', async () => {
    const s = scenario();
    const plane = newPlane();
    sim.world.throttle(1, 3, { pathIncludes: `/subscriptions/${s.sub}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworkGateways/` });
    expect(await failureOf(plane.getGateway(s.gw ?? ''))).toMatchObject({ class: 'throttled', retryable: true, retryAfterMs: 3000, statusCode: 429 });
    sim.world.throttle(1, new Date(Date.now() + 60_000).toUTCString(), { method: 'PUT', pathIncludes: `/subscriptions/${s.sub}/` });
    const putThrottled = await failureOf(plane.beginCreateHsm(s.spec('hsm-429')));
    expect(putThrottled.class).toBe('throttled');
    expect(putThrottled.retryAfterMs).toBeGreaterThan(50_000);
    expect(await plane.getHsm(s.sub, 'rg-hsm', 'hsm-429')).toBeUndefined();

    sim.world.failNext(1, 500, { pathIncludes: `/subscriptions/${s.sub}/resourceGroups/rg-net/` });
    expect(await failureOf(plane.getSubnet(s.subnet))).toMatchObject({ class: 'transient', retryable: true, statusCode: 500 });
    expect((await plane.getSubnet(s.subnet))?.id).toBe(s.subnet);

    const closed = newPlane('https://127.0.0.1:1');
    expect(await failureOf(closed.getGateway(s.gw ?? ''))).toMatchObject({ class: 'transient', retryable: true });
  });

  it('an internal LRO failure is transient; a body-polled failure is explained by the statusMessage', async () => {
    const s = scenario();
    const plane = newPlane();
    sim.world.failNextPuts(1, 'internal');
    expect(await failureOf(create(plane, s.spec('hsm-int')))).toMatchObject({ class: 'transient', code: 'InternalServerError' });

    const body = scenario({ nsg: true });
    sim.world.setLroStyle('body');
    try {
      const f = await failureOf(create(plane, body.spec('hsm-body')));
      expect(f.class).toBe('delegation');
      expect(f.message).toContain('network security group');
      expect(sim.count({ pathIncludes: `/subscriptions/${body.sub}/providers/Microsoft.HardwareSecurityModules/locations/` })).toBe(0);
    } finally {
      sim.world.setLroStyle('asyncOperation');
    }
  });

  it('invalid names and SKUs are refused synchronously', async () => {
    const s = scenario();
    const plane = newPlane();
    for (const name of ['ab', 'has_underscore', 'x'.repeat(25)]) expect((await failureOf(plane.beginCreateHsm(s.spec(name)))).class, name).toBe('invalid');
    expect(await failureOf(plane.beginCreateHsm(s.spec('hsm-pay', { sku: 'payShield10K_LMK1_CPS60' })))).toMatchObject({ class: 'invalid', statusCode: 400 });
    expect(sim.world.hsmNames().filter((n) => n === 'hsm-pay')).toEqual([]);
  });
});

describe('the simulator itself', () => {
  function raw(method: string, path: string, headers: Record<string, string> = {}, target: ArmSimulator = sim): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, target.endpoint), { method, headers, ca: target.caPem }, (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as unknown) : undefined }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves HTTPS on loopback only, requires a bearer token and tolerates extra query strings', async () => {
    expect(new URL(sim.endpoint).hostname).toBe('127.0.0.1');
    const s = scenario();
    const path = `/subscriptions/${s.sub}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworkGateways/ergw`;
    expect(await raw('GET', `${path}?api-version=2026-01-01`)).toMatchObject({ status: 401, body: { error: { code: 'AuthenticationFailed' } } });
    const ok = await raw('GET', `${path.toLowerCase().replace('ergw', 'ERGW')}?api-version=2026-01-01&api-version=2026-01-01&foo=bar`, { Authorization: 'Bearer anything' });
    expect(ok).toMatchObject({ status: 200, body: { properties: { gatewayType: 'ExpressRoute', provisioningState: 'Succeeded' } } });
    expect(await raw('GET', path, { Authorization: 'Bearer anything' })).toMatchObject({ status: 400, body: { error: { code: 'MissingApiVersionParameter' } } });
    expect(sim.count({ method: 'GET', pathIncludes: `/subscriptions/${s.sub}/`, status: 401 })).toBe(1);
  });

  it('accepts only the tokens acceptToken names when it is set (401 InvalidAuthenticationToken otherwise)', async () => {
    const s = scenario();
    const path = `/subscriptions/${s.sub}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworkGateways/ergw?api-version=2026-01-01`;
    sim.world.acceptToken = (t) => t === 'issued-token';
    try {
      expect(await raw('GET', path, { Authorization: 'Bearer anything' })).toMatchObject({ status: 401, body: { error: { code: 'InvalidAuthenticationToken' } } });
      expect(await raw('GET', path, { Authorization: 'Bearer issued-token' })).toMatchObject({ status: 200 });
    } finally {
      sim.world.acceptToken = undefined;
    }
    expect(await raw('GET', path, { Authorization: 'Bearer anything' })).toMatchObject({ status: 200 });
  });

  it('pages lists through a nextLink whose $skiptoken ends in = (the spec example form), sent back as given', async () => {
    const paged = await startArmSimulator({ listPageSize: 2 });
    try {
      const sub = randomUUID();
      for (let i = 0; i < 5; i++) paged.world.addHsm({ subscriptionId: sub, resourceGroup: `rg${i % 2}`, name: `hsm-${i}`, location: 'westeurope', stampId: i < 2 ? 'stamp1' : 'stamp2' });
      const listPath = `/subscriptions/${sub}/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs`;
      const first = await raw('GET', `${listPath}?api-version=2021-11-30`, { Authorization: 'Bearer x' }, paged);
      const nextLink = (first.body as { nextLink?: string }).nextLink ?? '';
      expect(new URL(nextLink).searchParams.get('$skiptoken')).toMatch(/==$/);
      // The simulator refuses a token that lost its padding, as ARM refuses a mangled one.
      const mangled = await raw('GET', nextLink.replace(/==$/, '').replace(paged.endpoint, ''), { Authorization: 'Bearer x' }, paged);
      expect(mangled).toMatchObject({ status: 400, body: { error: { code: 'BadRequest', target: '$skiptoken' } } });

      const plane = createAzurePlane(credential, connectionFor({ endpoint: paged.endpoint, credentialScopes: ['https://management.azure.com/.default'] }, { caPem: paged.caPem }));
      const before = paged.requests.length;
      expect((await plane.listHsms(sub)).map((h) => h.name)).toEqual(['hsm-0', 'hsm-1', 'hsm-2', 'hsm-3', 'hsm-4']);
      expect(paged.requests.slice(before).map((r) => r.status)).toEqual([200, 200, 200]);
      // The quota view spans the pages: stamp2's three HSMs sit on pages two and three.
      expect((await plane.quotaView(sub, 'westeurope')).byStamp).toEqual({ stamp1: 2, stamp2: 3 });
      const h = (await plane.listHsms(sub)).find((x) => x.name === 'hsm-3');
      expect(h).toMatchObject({ resourceGroup: 'rg1', stampId: 'stamp2', provisioningState: 'Succeeded', location: 'westeurope' });
    } finally {
      await paged.stop();
    }
  });
});

describe('the published ARM contract (issue 18)', () => {
  /** A plane that polls fast when the service gives no Retry-After. */
  function fastPlane(): AzurePlane {
    return createAzurePlane(credential, connectionFor({ endpoint: sim.endpoint, credentialScopes: ['https://management.azure.com/.default'] }, { caPem: sim.caPem, pollIntervalMs: 20 }));
  }

  it.each(['resourceLocation', 'operationResult', 'asyncOperation'] as const)('a delete (202, %s) is done only once the HSM is gone', async (style) => {
    const s = scenario();
    const plane = newPlane();
    const name = `hsm-d-${style.slice(0, 8)}`;
    await create(plane, s.spec(name));
    sim.world.setDeleteStyle(style);
    try {
      sim.world.lroNeverFinishes(name);
      const started = await plane.beginDeleteHsm(s.sub, 'rg-hsm', name);
      expect(started.done).toBe(false);
      let p = started;
      for (let i = 0; i < 3 && !p.done; i++) {
        await sleep(10);
        p = await newPlane().pollDelete(p.token);
      }
      // Still Deleting: the resource answers 200 to its own URL, which does not mean the delete finished.
      expect(p.done).toBe(false);
      expect(sim.world.hsm(name)?.provisioningState).toBe('Deleting');
      if (style === 'resourceLocation') expect(sim.count({ method: 'GET', pathIncludes: `/dedicatedHSMs/${name}`, status: 200 })).toBeGreaterThanOrEqual(3);
      sim.world.lroNeverFinishes(name, false);
      for (let i = 0; !p.done && i < 400; i++) {
        await sleep(5);
        p = await newPlane().pollDelete(p.token);
      }
      expect(p.done).toBe(true);
      expect(sim.world.hsm(name)).toBeUndefined();
    } finally {
      sim.world.setDeleteStyle('resourceLocation');
    }
  });

  it('a delete token of the older form (an SDK poller state) still resumes, and is done only once the HSM is gone', async () => {
    const s = scenario();
    const plane = newPlane();
    await create(plane, s.spec('hsm-legacy'));
    sim.world.lroNeverFinishes('hsm-legacy');
    const started = await plane.beginDeleteHsm(s.sub, 'rg-hsm', 'hsm-legacy');
    const url = started.done ? '' : (decodeToken(started.token, 'delete').poll?.url ?? '');
    expect(url).toMatch(/\/dedicatedHSMs\/hsm-legacy\/$/);
    const legacy = encodeToken({ kind: 'delete', subscriptionId: s.sub, resourceGroup: 'rg-hsm', name: 'hsm-legacy', poller: resumeStateAfterAccepted('DELETE', { status: 202, headers: { Location: url } }) ?? '' });
    let p = await newPlane().pollDelete(legacy);
    expect(p.done).toBe(false);
    sim.world.lroNeverFinishes('hsm-legacy', false);
    for (let i = 0; !p.done && i < 400; i++) {
      await sleep(5);
      p = await newPlane().pollDelete(p.token);
    }
    expect(p.done).toBe(true);
    expect(sim.world.hsm('hsm-legacy')).toBeUndefined();
  });

  it.each(['operationResult', 'asyncOperation'] as const)('a delete operation that ends Failed is reported with its error, not as done, and ends the token (%s)', async (style) => {
    const s = scenario();
    const plane = newPlane();
    const name = `hsm-df-${style.slice(0, 5)}`;
    await create(plane, s.spec(name));
    sim.world.setDeleteStyle(style);
    try {
      sim.world.failNextDeletes(1);
      const started = await plane.beginDeleteHsm(s.sub, 'rg-hsm', name);
      expect(started.done).toBe(false);
      for (let i = 0; sim.world.hsm(name)?.provisioningState === 'Deleting' && i < 400; i++) await sleep(5);
      const f = await failureOf(plane.pollDelete(started.done ? '' : started.token));
      expect(f).toMatchObject({ code: 'InternalServerError', retryable: false });
      expect(f.message).toContain('could not be deleted');
      expect(sim.world.hsm(name)?.provisioningState).toBe('Failed');

      // The operation fails but the HSM is gone anyway (deleted out of band meanwhile): the delete is done.
      sim.world.lroNeverFinishes(name);
      const again = await plane.beginDeleteHsm(s.sub, 'rg-hsm', name);
      sim.world.deleteOutOfBand(name);
      sim.world.lroNeverFinishes(name, false);
      expect(await plane.pollDelete(again.done ? '' : again.token)).toEqual({ done: true });
    } finally {
      sim.world.setDeleteStyle('resourceLocation');
    }
  });

  it('a tag PATCH answered 202 + Location on the HSM itself returns only once the tags show', async () => {
    const s = scenario();
    const plane = fastPlane();
    await create(plane, s.spec('hsm-tags', { tags: { v: '1' } }));
    sim.world.setPatchStyle('resourceLocation');
    try {
      sim.world.lroNeverFinishes('hsm-tags');
      let settled: HsmState | undefined;
      const pending = plane.updateTags(s.sub, 'rg-hsm', 'hsm-tags', { v: '2' }).then((h) => (settled = h));
      await sleep(80);
      expect(settled).toBeUndefined();
      expect(sim.world.hsm('hsm-tags')?.tags).toEqual({ v: '1' });
      sim.world.lroNeverFinishes('hsm-tags', false);
      await pending;
      expect(settled?.tags).toEqual({ v: '2' });
      expect(sim.count({ method: 'PATCH', pathIncludes: '/dedicatedHSMs/hsm-tags', status: 202 })).toBe(1);
    } finally {
      sim.world.setPatchStyle('sync');
    }
  });

  it('stampId in a zonal region is refused (400, target properties.stampId) and reported as such; stampId with zones is not sent', async () => {
    const s = scenario({ location: 'southeastasia' });
    const plane = newPlane();
    const f = await failureOf(plane.beginCreateHsm(s.spec('hsm-zonal', { stampId: 'stamp1' })));
    expect(f).toMatchObject({ class: 'invalid', retryable: false, statusCode: 400 });
    expect(f.message).toContain('stampId');
    expect(f.action).toMatch(/zones/);
    expect(f.action).toMatch(/stampId/);
    expect(await plane.getHsm(s.sub, 'rg-hsm', 'hsm-zonal')).toBeUndefined();

    const both = await failureOf(plane.beginCreateHsm(s.spec('hsm-both', { stampId: 'stamp1', zones: ['1'] })));
    expect(both).toMatchObject({ class: 'invalid', retryable: false });
    expect(both.action).toMatch(/zones/);
    expect(puts('hsm-both')).toBe(0);
    expect((await create(plane, s.spec('hsm-zone1', { zones: ['1'] }))).zones).toEqual(['1']);
  });

  it('an unregistered resource provider is not "not allowlisted": it says to register the provider', async () => {
    const s = scenario();
    sim.world.unregisterProvider('Microsoft.HardwareSecurityModules', { subscriptionId: s.sub });
    const f = await failureOf(newPlane().beginCreateHsm(s.spec('hsm-rp')));
    expect(f).toMatchObject({ retryable: false, code: 'MissingSubscriptionRegistration', statusCode: 409 });
    expect(f.class).not.toBe('notAllowlisted');
    expect(f.action).toContain('az provider register --namespace Microsoft.HardwareSecurityModules');
    expect(f.action).not.toContain('account manager');
  });
});

describe('AbortSignal in flight', () => {
  it('an abort while a request is on the wire stops waiting for it (AzureAbortedError, inFlight); a PUT already sent may still take effect', async () => {
    const s = scenario();
    const plane = newPlane();
    sim.world.setLatency(1_000);
    try {
      const c = new AbortController();
      setTimeout(() => c.abort(), 50);
      const started = Date.now();
      const read = await plane.getHsm(s.sub, 'rg-hsm', 'hsm-slow', { signal: c.signal }).catch((e: unknown) => e);
      expect(read).toBeInstanceOf(AzureAbortedError);
      expect((read as AzureAbortedError).inFlight).toBe(true);
      expect(Date.now() - started).toBeLessThan(800);

      // Aborted once ARM has taken the PUT in (its answer is still held back by the latency).
      const c2 = new AbortController();
      const sent = plane.withSignal(c2.signal).beginCreateHsm(s.spec('hsm-slow')).catch((e: unknown) => e);
      for (let i = 0; i < 250 && sim.world.hsm('hsm-slow') === undefined; i++) await sleep(10);
      c2.abort();
      const put = await sent;
      expect(put).toBeInstanceOf(AzureAbortedError);
      expect((put as AzureAbortedError).inFlight).toBe(true);
    } finally {
      sim.world.setLatency(0);
    }
    // The PUT reached ARM before the abort: the HSM exists, and the next pass finds it by name (never a second PUT blind).
    expect(sim.world.hsm('hsm-slow')).toBeDefined();
    // (The simulator logs a request once its delayed answer goes out.)
    for (let i = 0; i < 100 && puts('hsm-slow') === 0; i++) await sleep(20);
    expect(puts('hsm-slow')).toBe(1);
    expect((await plane.getHsm(s.sub, 'rg-hsm', 'hsm-slow'))?.name).toBe('hsm-slow');
  });
});
