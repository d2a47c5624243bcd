/**
 * One contract, two Azure planes: the in-memory FakeAzurePlane (test/support/fakes) and the real ArmAzurePlane (the
 * Azure SDKs) against the HTTPS ARM simulator. The same cases run against both, so a reconciler test over the fake sees
 * what the operator would see over ARM: the same states, the same classified failures, the same requests sent.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/core-auth';
import { AzureAbortedError, AzurePlaneError, connectionFor, createAzurePlane, hsmId, nicId } from '../../../src/azure/index.js';
import type { AzureFailure, AzurePlane, HsmSpec, HsmState } from '../../../src/azure/index.js';
import { LUNA_SKU, startArmSimulator, type ArmSimulator } from '../../../src/sandbox/arm/index.js';
import { FakeAzurePlane } from '../../support/fakes/azure-plane.js';

const credential: TokenCredential = { getToken: async () => ({ token: 'x', expiresOnTimestamp: Date.now() + 3600e3 }) };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a case needs of a world: a subscription with a VNet, a delegated HSM subnet and an ExpressRoute gateway. */
interface AzureWorld {
  plane: AzurePlane;
  sub: string;
  vnet: string;
  subnet: string;
  gateway: string;
  spec(name: string, extra?: Partial<HsmSpec>): HsmSpec;
  setGatewayState(state: string): void;
  setSubnetDelegated(delegated: boolean): void;
  unregisterFeature(namespace: string, name: string): void;
  seedHsm(s: { name: string; stampId: string; provisioningState: string; location?: string }): void;
  /** The next GET of HSM `name` gets 429 with Retry-After (seconds). */
  throttleHsmRead(name: string, retryAfterSeconds: number): void;
  puts(name: string): number;
  deletes(name: string): number;
  hsmReads(name: string): number;
}

type Start = () => Promise<AzureWorld>;

let sim: ArmSimulator;
beforeAll(async () => {
  sim = await startArmSimulator({ provisioningMs: 5 });
});
afterAll(async () => {
  await sim?.stop();
});

const hsmPath = (sub: string, name: string): string => hsmId(sub, 'rg-hsm', name);

const simulatorWorld: Start = async () => {
  const sub = randomUUID();
  const w = sim.world;
  const vnet = w.addVnet({ subscriptionId: sub, resourceGroup: 'rg-net', name: 'vnet-hsm', location: 'westeurope' });
  const subnet = w.addSubnet({ vnetId: vnet, name: 'hsm-subnet', addressPrefix: '10.0.2.0/24', delegated: true });
  const gateway = w.addGateway({ vnetId: vnet, name: `ergw-${sub.slice(0, 8)}` });
  const plane = createAzurePlane(credential, connectionFor({ endpoint: sim.endpoint, credentialScopes: ['https://management.azure.com/.default'] }, { caPem: sim.caPem }));
  return {
    plane,
    sub,
    vnet,
    subnet,
    gateway,
    spec: (name, extra = {}) => ({ subscriptionId: sub, resourceGroup: 'rg-hsm', name, location: 'westeurope', sku: LUNA_SKU, subnetId: subnet, ...extra }),
    setGatewayState: (state) => w.setGatewayState(gateway, state),
    setSubnetDelegated: (d) => w.setSubnetDelegated(subnet, d),
    unregisterFeature: (ns, name) => w.unregisterFeature(ns, name, { subscriptionId: sub }),
    seedHsm: (s) => void w.addHsm({ subscriptionId: sub, resourceGroup: 'rg-hsm', location: s.location ?? 'westeurope', name: s.name, stampId: s.stampId, provisioningState: s.provisioningState }),
    throttleHsmRead: (name, seconds) => w.throttle(1, seconds, { method: 'GET', pathIncludes: hsmPath(sub, name) }),
    puts: (name) => sim.count({ method: 'PUT', pathIncludes: hsmPath(sub, name) }),
    deletes: (name) => sim.count({ method: 'DELETE', pathIncludes: hsmPath(sub, name) }),
    hsmReads: (name) => sim.count({ method: 'GET', pathIncludes: hsmPath(sub, name) }),
  };
};

const fakeWorld: Start = async () => {
  const sub = randomUUID();
  const fake = new FakeAzurePlane({ pollsToComplete: 2 });
  const vnet = fake.addVnet({ subscriptionId: sub, resourceGroup: 'rg-net', name: 'vnet-hsm', location: 'westeurope' });
  const subnet = fake.addSubnet({ vnetId: vnet, name: 'hsm-subnet', addressPrefix: '10.0.2.0/24', delegated: true });
  const gateway = fake.addGateway({ vnetId: vnet, name: 'ergw' });
  return {
    plane: fake,
    sub,
    vnet,
    subnet,
    gateway,
    spec: (name, extra = {}) => ({ subscriptionId: sub, resourceGroup: 'rg-hsm', name, location: 'westeurope', sku: LUNA_SKU, subnetId: subnet, ...extra }),
    setGatewayState: (state) => fake.setGatewayState(gateway, state),
    setSubnetDelegated: (d) => fake.setSubnetDelegated(subnet, d),
    unregisterFeature: (ns, name) => fake.unregisterFeature(ns, name, { subscriptionId: sub }),
    seedHsm: (s) => void fake.addHsm({ subscriptionId: sub, resourceGroup: 'rg-hsm', location: s.location ?? 'westeurope', name: s.name, stampId: s.stampId, provisioningState: s.provisioningState }),
    throttleHsmRead: (_name, seconds) => fake.throttle('getHsm', seconds),
    puts: (name) => fake.puts(name),
    deletes: (name) => fake.deletes(name),
    hsmReads: (name) => fake.count({ method: 'GET', resourceIncludes: hsmPath(sub, name) }),
  };
};

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

describe.each([
  ['FakeAzurePlane (in memory)', fakeWorld],
  ['ArmAzurePlane + ARM simulator', simulatorWorld],
])('Azure plane contract: %s', (_name, start) => {
  it('create -> poll -> Succeeded, with its NIC and IP from the subnet; a PUT of the same HSM only updates its tags', async () => {
    const w = await start();
    const hsm = await create(w.plane, w.spec('hsm-a', { tags: { team: 'pki' } }));
    expect(hsm).toMatchObject({
      id: hsmPath(w.sub, 'hsm-a'),
      name: 'hsm-a',
      resourceGroup: 'rg-hsm',
      location: 'westeurope',
      sku: LUNA_SKU,
      provisioningState: 'Succeeded',
      statusMessage: 'DedicatedHsm device is functional.',
      privateIpAddress: '10.0.2.4',
      stampId: 'stamp1',
      subnetId: w.subnet,
      nicId: nicId(w.sub, 'rg-hsm', 'hsm-a_HSMnic'),
      tags: { team: 'pki' },
    });
    expect(await w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-a')).toEqual(hsm);
    expect(await w.plane.getNic(hsm.nicId ?? '')).toMatchObject({ privateIpAddress: '10.0.2.4', subnetId: w.subnet });
    expect(w.puts('hsm-a')).toBe(1);
    const again = await w.plane.beginCreateHsm(w.spec('hsm-a', { tags: { team: 'pki', env: 'prod' } }));
    expect(again).toMatchObject({ done: true, hsm: { provisioningState: 'Succeeded', tags: { team: 'pki', env: 'prod' } } });
    expect(w.puts('hsm-a')).toBe(2);
    expect(await w.plane.updateTags(w.sub, 'rg-hsm', 'hsm-a', { team: 'ops' })).toMatchObject({ tags: { team: 'ops' } });
    expect((await w.plane.listHsms(w.sub)).map((h) => h.name)).toEqual(['hsm-a']);
  });

  it('delete -> poll -> gone, the NIC with it; deleting what is gone is done at once', async () => {
    const w = await start();
    const hsm = await create(w.plane, w.spec('hsm-d'));
    let p = await w.plane.beginDeleteHsm(w.sub, 'rg-hsm', 'hsm-d');
    expect(p.done).toBe(false);
    for (let i = 0; !p.done; i++) {
      if (i > 400) throw new Error('delete did not finish');
      await sleep(5);
      p = await w.plane.pollDelete(p.token);
    }
    expect(await w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-d')).toBeUndefined();
    expect(await w.plane.getNic(hsm.nicId ?? '')).toBeUndefined();
    expect(w.deletes('hsm-d')).toBe(1);
    expect(await w.plane.beginDeleteHsm(w.sub, 'rg-hsm', 'hsm-d')).toEqual({ done: true });
    expect(w.deletes('hsm-d')).toBe(2);
  });

  it('the quota view counts every HSM of the region per stamp and names the failed leftovers', async () => {
    const w = await start();
    w.seedHsm({ name: 'left-1', stampId: 'stamp1', provisioningState: 'Failed' });
    w.seedHsm({ name: 'ok-1', stampId: 'stamp2', provisioningState: 'Succeeded' });
    w.seedHsm({ name: 'far-1', stampId: 'stamp1', provisioningState: 'Succeeded', location: 'eastus' });
    const view = await w.plane.quotaView(w.sub, 'westeurope');
    expect(view).toEqual({
      byStamp: { stamp1: 1, stamp2: 1 },
      region: 2,
      failedLeftovers: [{ name: 'left-1', id: hsmPath(w.sub, 'left-1'), stampId: 'stamp1' }],
      limits: { perStamp: 2, perRegion: 4 },
      ids: [hsmPath(w.sub, 'left-1').toLowerCase(), hsmPath(w.sub, 'ok-1').toLowerCase()],
    });
    expect((await w.plane.quotaView(w.sub, 'westeurope', { perStamp: 4, perRegion: 8 })).limits).toEqual({ perStamp: 4, perRegion: 8 });
    // The service counts the same way: a third HSM in stamp1 with a failed leftover there is refused by quota.
    w.seedHsm({ name: 'ok-2', stampId: 'stamp1', provisioningState: 'Succeeded' });
    w.seedHsm({ name: 'ok-3', stampId: 'stamp2', provisioningState: 'Succeeded' });
    const f = await failureOf(create(w.plane, w.spec('hsm-q')));
    expect(f).toMatchObject({ class: 'quota', code: 'QuotaExceeded' });
  });

  it('reads of what does not exist answer undefined (404); features read as registered or not', async () => {
    const w = await start();
    expect(await w.plane.getHsm(w.sub, 'rg-hsm', 'nope')).toBeUndefined();
    expect(await w.plane.getGateway(w.gateway.replace(/[^/]+$/, 'nope'))).toBeUndefined();
    expect(await w.plane.getSubnet(`${w.vnet}/subnets/nope`)).toBeUndefined();
    expect(await w.plane.getNic(nicId(w.sub, 'rg-hsm', 'nope_HSMnic'))).toBeUndefined();
    expect(await w.plane.getGateway(w.gateway)).toEqual({ id: w.gateway, gatewayType: 'ExpressRoute', provisioningState: 'Succeeded', vnetId: w.vnet });
    expect(await w.plane.getSubnet(w.subnet)).toEqual({ id: w.subnet, vnetId: w.vnet, addressPrefix: '10.0.2.0/24', delegations: ['Microsoft.HardwareSecurityModules/dedicatedHSMs'], hasNsg: false, hasRouteTable: false });
    expect(await w.plane.getFeature(w.sub, 'Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM')).toEqual({ name: 'Microsoft.HardwareSecurityModules/AzureDedicatedHSM', state: 'Registered' });
    w.unregisterFeature('Microsoft.Network', 'AllowBaremetalServers');
    expect((await w.plane.getFeature(w.sub, 'Microsoft.Network', 'AllowBaremetalServers')).state).toBe('NotRegistered');
    expect(await failureOf(w.plane.beginCreateHsm(w.spec('hsm-f')))).toMatchObject({ class: 'notAllowlisted', retryable: false });
    expect(w.puts('hsm-f')).toBe(1);
  });

  it('a 429 is classified throttled with its Retry-After, and the resource is not asked again before it has passed', async () => {
    const w = await start();
    await create(w.plane, w.spec('hsm-t'));
    await create(w.plane, w.spec('hsm-u'));
    w.throttleHsmRead('hsm-t', 7);
    const before = w.hsmReads('hsm-t');
    expect(await failureOf(w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-t'))).toMatchObject({ class: 'throttled', retryable: true, retryAfterMs: 7000, statusCode: 429 });
    expect(w.hsmReads('hsm-t')).toBe(before + 1);
    const held = await failureOf(w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-t'));
    expect(held).toMatchObject({ class: 'throttled', retryable: true });
    expect(held.retryAfterMs).toBeGreaterThan(5_000);
    expect(w.hsmReads('hsm-t')).toBe(before + 1);
    // Another resource is not held back.
    expect((await w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-u'))?.name).toBe('hsm-u');
  });

  it('the deployment race fails the create, classified race; a missing delegation is refused at the PUT', async () => {
    const w = await start();
    w.setGatewayState('Updating');
    expect(await failureOf(create(w.plane, w.spec('hsm-r')))).toMatchObject({ class: 'race', retryable: true, code: 'NetworkingDependencyNotReady' });
    expect((await w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-r'))?.provisioningState).toBe('Failed');
    w.setGatewayState('Succeeded');
    w.setSubnetDelegated(false);
    expect(await failureOf(w.plane.beginCreateHsm(w.spec('hsm-n')))).toMatchObject({ class: 'delegation', retryable: false, statusCode: 400 });
    expect(await w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-n')).toBeUndefined();
  });

  it('an aborted signal sends nothing and throws AzureAbortedError; withSignal binds it to every call', async () => {
    const w = await start();
    const c = new AbortController();
    c.abort();
    const bound = w.plane.withSignal(c.signal);
    for (const call of [() => bound.beginCreateHsm(w.spec('hsm-x')), () => bound.getHsm(w.sub, 'rg-hsm', 'hsm-x'), () => w.plane.beginDeleteHsm(w.sub, 'rg-hsm', 'hsm-x', { signal: c.signal }), () => bound.quotaView(w.sub, 'westeurope')]) {
      const f = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(f).toBeInstanceOf(AzureAbortedError);
      expect((f as AzureAbortedError).inFlight).toBe(false);
      expect((f as AzureAbortedError).failure).toMatchObject({ class: 'transient', retryable: true });
    }
    expect(w.puts('hsm-x') + w.deletes('hsm-x') + w.hsmReads('hsm-x')).toBe(0);
    // The unbound plane is untouched by the binding.
    expect(await w.plane.getHsm(w.sub, 'rg-hsm', 'hsm-x')).toBeUndefined();
  });
});
