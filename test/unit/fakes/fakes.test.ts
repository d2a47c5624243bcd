/**
 * What only the fakes offer (the contract tests prove what they share with the real planes): LROs that complete after
 * N polls, scripted failures with the real error classes, call counters, the appliance link that refuses deleting an
 * HSM that is not zeroized, latency an abort can land in, and the leader fence.
 */
import { describe, expect, it } from 'vitest';
import { AzureAbortedError, AzurePlaneError, hsmId } from '../../../src/azure/index.js';
import { DeviceAbortedError, NotLeaderError, SshCommandTimeoutError, type SshEndpoint } from '../../../src/luna/index.js';
import { LUNA_SKU } from '../../../src/sandbox/arm/index.js';
import { FakeAzurePlane } from '../../support/fakes/azure-plane.js';
import { FakeDevicePlane, lunaFailure } from '../../support/fakes/device-plane.js';

function azureWorld(opts: ConstructorParameters<typeof FakeAzurePlane>[0] = {}) {
  const fake = new FakeAzurePlane(opts);
  const vnet = fake.addVnet({ subscriptionId: 'sub', resourceGroup: 'rg-net', name: 'vnet' });
  const subnet = fake.addSubnet({ vnetId: vnet, name: 'hsm', addressPrefix: '10.0.2.0/24', delegated: true });
  fake.addGateway({ vnetId: vnet, name: 'ergw' });
  const spec = (name: string) => ({ subscriptionId: 'sub', resourceGroup: 'rg', name, location: 'westeurope', sku: LUNA_SKU, subnetId: subnet });
  return { fake, spec };
}

describe('FakeAzurePlane', () => {
  it('completes a create after exactly pollsToComplete polls, walking the provisioning states', async () => {
    const { fake, spec } = azureWorld({ pollsToComplete: 4 });
    const p = await fake.beginCreateHsm(spec('hsm1'));
    if (p.done) throw new Error('expected an operation in flight');
    const states: (string | undefined)[] = [fake.hsm('hsm1')?.provisioningState];
    let last = p;
    for (let i = 0; i < 3; i++) {
      const next = await fake.pollCreate(last.token);
      expect(next.done).toBe(false);
      if (!next.done) last = next;
      states.push(fake.hsm('hsm1')?.provisioningState);
    }
    const done = await fake.pollCreate(last.token);
    expect(done).toMatchObject({ done: true, hsm: { provisioningState: 'Succeeded' } });
    expect(states).toEqual(['CheckingQuota', 'Allocating', 'Connecting', 'Provisioning']);
    expect(fake.calls).toMatchObject({ beginCreateHsm: 1, pollCreate: 4 });
    expect(fake.puts()).toBe(1);
  });

  it('scripted failures are classified like ARM answers; counters see every call', async () => {
    const { fake, spec } = azureWorld();
    fake.failNext('beginCreateHsm', { status: 409, code: 'AnotherOperationInProgress', message: 'busy' });
    const e = await fake.beginCreateHsm(spec('hsm1')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AzurePlaneError);
    expect((e as AzurePlaneError).failure).toMatchObject({ class: 'conflict', statusCode: 409, code: 'AnotherOperationInProgress' });
    expect(fake.puts('hsm1')).toBe(1);
    expect(fake.hsm('hsm1')).toBeUndefined();
    fake.failNext('getGateway', { status: 503, code: 'ServiceUnavailable', message: 'try later' }, 2);
    for (let i = 0; i < 2; i++) expect((await fake.getGateway('/x').catch((x: unknown) => x)) as AzurePlaneError).toMatchObject({ failure: { class: 'transient', retryable: true } });
    expect(fake.calls.getGateway).toBe(2);
  });

  it('refuses to delete an HSM whose appliance is not zeroized; a failed delete ends its token', async () => {
    const { fake } = azureWorld({ pollsToComplete: 1 });
    fake.addHsm({ subscriptionId: 'sub', resourceGroup: 'rg', name: 'hsm1', location: 'westeurope' });
    let zeroized = false;
    fake.linkAppliance('hsm1', { isZeroized: () => zeroized });
    const refused = await fake.beginDeleteHsm('sub', 'rg', 'hsm1').catch((x: unknown) => x);
    expect((refused as AzurePlaneError).failure).toMatchObject({ statusCode: 409, code: 'HsmNotZeroized' });
    zeroized = true;
    fake.failNextDeletes(1);
    const p = await fake.beginDeleteHsm('sub', 'rg', 'hsm1');
    if (p.done) throw new Error('expected a delete in flight');
    const failed = await fake.pollDelete(p.token).catch((x: unknown) => x);
    expect((failed as AzurePlaneError).failure).toMatchObject({ retryable: false });
    expect(fake.hsm('hsm1')?.provisioningState).toBe('Failed');
    const again = await fake.beginDeleteHsm('sub', 'rg', 'hsm1');
    if (again.done) throw new Error('expected a delete in flight');
    expect(await fake.pollDelete(again.token)).toEqual({ done: true });
    expect(fake.deletes('hsm1')).toBe(3);
    expect(fake.hsm(hsmId('sub', 'rg', 'hsm1'))).toBeUndefined();
  });

  it('the Retry-After gate opens on its clock', async () => {
    let now = 1_000_000;
    const { fake } = azureWorld({ now: () => now });
    fake.throttle('listHsms', 10);
    expect(((await fake.listHsms('sub').catch((x: unknown) => x)) as AzurePlaneError).failure.retryAfterMs).toBe(10_000);
    expect(((await fake.listHsms('sub').catch((x: unknown) => x)) as AzurePlaneError).failure.class).toBe('throttled');
    expect(fake.count({ call: 'listHsms' })).toBe(1);
    now += 10_001;
    expect(await fake.listHsms('sub')).toEqual([]);
    const aborted = new AbortController();
    aborted.abort();
    expect(await fake.withSignal(aborted.signal).listHsms('sub').catch((x: unknown) => x)).toBeInstanceOf(AzureAbortedError);
  });
});

describe('FakeDevicePlane', () => {
  async function deviceWorld(opts: ConstructorParameters<typeof FakeDevicePlane>[0] = {}) {
    const plane = new FakeDevicePlane(opts);
    const a = await plane.addAppliance({ host: '10.0.2.4', serial: '572413' });
    const ep: SshEndpoint = { host: a.host, username: a.username, credential: { password: a.password, secret: { uid: 's', resourceVersion: '1' } }, hostKey: { pinned: a.hostKey } };
    return { plane, a, ep };
  }

  it('scripted failures use the real luna errors and cost only the commands they name', async () => {
    const { plane, a, ep } = await deviceWorld();
    plane.failNext({ command: 'hsm show' }, () => new SshCommandTimeoutError(a.host, 'hsm show', 30_000));
    plane.failNext({ command: 'client list' }, lunaFailure('client list', 'other'));
    expect(await plane.appliance(ep).show().catch((x: unknown) => x)).toBeInstanceOf(SshCommandTimeoutError);
    expect(await plane.appliance(ep).clients().catch((x: unknown) => x)).toMatchObject({ kind: 'other', code: 'C0000001' });
    expect((await plane.appliance(ep).show()).serial).toBe('572413');
    expect(a.counters.commands.byName).toEqual({ 'hsm show': 1 });
    expect(a.counters.sshLogins).toEqual({ success: 1, failure: 0 });
    expect(a.counters.connections).toBe(1);
  });

  it('an abort within the host latency abandons the command unapplied', async () => {
    const { plane, a, ep } = await deviceWorld();
    a.latencyMs = 200;
    const c = new AbortController();
    const p = plane.appliance(ep, { signal: c.signal }).deleteClient('c1').catch((x: unknown) => x);
    setTimeout(() => c.abort(), 20);
    const e = await p;
    expect(e).toBeInstanceOf(DeviceAbortedError);
    expect((e as DeviceAbortedError).inFlight).toBe(true);
    expect(a.counters.commands.stateChanging).toBe(0);
  });

  it('the leader fence refuses every call, nothing sent', async () => {
    let leader = true;
    const { plane, a, ep } = await deviceWorld({ fence: () => leader });
    expect((await plane.appliance(ep).show()).serial).toBe('572413');
    leader = false;
    expect(await plane.appliance(ep).show().catch((x: unknown) => x)).toBeInstanceOf(NotLeaderError);
    expect(a.counters.commands.byName['hsm show']).toBe(1);
  });
});
