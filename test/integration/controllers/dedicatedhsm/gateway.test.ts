/**
 * The deployment race, avoided: while the ExpressRoute gateway is still Updating no HSM is PUT; the condition says
 * what is awaited, the state seen and since when; once the gateway is Succeeded exactly one PUT goes out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../support/wait.js';
import { condition, startScenario, type Scenario } from './fixture.js';

describe('DedicatedHsm: waits for the ExpressRoute gateway', () => {
  let sc: Scenario;
  const puts = () => sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' });

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-gateway', world: { gatewayTimeline: [['Updating', 2_000], ['Succeeded']] } });
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('reports WaitingForGateway with the state seen and since when, and sends no PUT', async () => {
    const hsm = await sc.waitFor('hsm1', 'GatewayReady', { status: 'False', reason: 'WaitingForGateway' });
    expect(puts()).toBe(0);
    const msg = condition(hsm, 'GatewayReady')?.message ?? '';
    expect(msg).toContain('hsm-ergw');
    expect(msg).toContain('Succeeded');
    expect(msg).toContain('Updating');
    expect(msg).toContain(`since ${hsm.status?.gateway?.since}`);
    expect(hsm.status?.gateway?.state).toBe('Updating');
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForGateway' });
    expect(condition(hsm, 'Reconciling')?.status).toBe('True');
    expect(condition(hsm, 'Stalled')?.status).toBe('False');
    expect((await sc.events('hsm1', 'WaitingForGateway')).length).toBeGreaterThanOrEqual(1);
  });

  it('deploys once the gateway is Succeeded: exactly one PUT, none before', async () => {
    await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 30_000);
    expect(puts()).toBe(1);
    const gw = [...sc.world.arm.world.network.gateways.values()][0];
    const put = sc.world.arm.requests.find((r) => r.method === 'PUT' && r.path.includes('dedicatedHSMs'));
    expect(put && gw ? put.time - gw.createdAt : -1).toBeGreaterThanOrEqual(2_000);
    // The gateway was looked at more than once while it was Updating.
    const gwReads = sc.world.arm.requests.filter((r) => r.method === 'GET' && r.path.includes('virtualNetworkGateways') && gw && r.time < gw.createdAt + 2_000);
    expect(gwReads.length).toBeGreaterThanOrEqual(2);
    const hsm = await sc.get('hsm1');
    expect(hsm.status?.gateway?.state).toBe('Succeeded');
    expect((await sc.eventsAtLeast('hsm1', 'GatewaySucceeded', 1)).length).toBe(1);
  });
});

describe('DedicatedHsm: once the gateway is Succeeded, the status stops saying it waits for it', () => {
  let sc: Scenario;

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-gateway-put', world: { gatewayTimeline: [['Updating', 3_000], ['Succeeded']] } });
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('while the PUT is in flight, Provisioned and Ready say the HSM is being deployed, not "Not deployed yet: WaitingForGateway"', async () => {
    const waiting = await sc.waitFor('hsm1', 'GatewayReady', { status: 'False', reason: 'WaitingForGateway' });
    expect(condition(waiting, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'Pending', message: expect.stringContaining('Not deployed yet: WaitingForGateway') });
    // Every ARM answer now takes a second, the PUT's too: the status written before the PUT stays visible that long.
    sc.world.arm.world.setLatency(1_000);
    const sending = await waitFor('the status written before the PUT', async () => {
      const h = await sc.get('hsm1');
      return (h.status?.attempts ?? 0) >= 1 ? h : undefined;
    }, 30_000, 50);
    sc.world.arm.world.setLatency(0);
    expect(condition(sending, 'GatewayReady')?.status).toBe('True');
    expect(condition(sending, 'Provisioned')).toMatchObject({ status: 'False', reason: 'Provisioning' });
    expect(condition(sending, 'Ready')).toMatchObject({ status: 'False', reason: 'Provisioning' });
    expect(condition(sending, 'Ready')?.message).not.toContain('WaitingForGateway');
    await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 30_000);
  });
});
