/** The preflight checks as conditions, each with a message a human can act on. */
import { describe, expect, it } from 'vitest';
import type { FeatureState, GatewayState, QuotaView, SubnetState } from '../../../../src/azure/index.js';
import { featureCondition, gatewayVerdict, quotaCondition, readFailure, subnetCondition, withoutSelf, type Read } from '../../../../src/controllers/dedicatedhsm/preflight.js';

const sub = '00000000-0000-0000-0000-000000000001';
const vnet = `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network/virtualNetworks/hsm-vnet`;
const subnetId = `${vnet}/subnets/hsmsubnet`;
const gatewayId = `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network/virtualNetworkGateways/hsm-ergw`;
const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const subnet = (o: Partial<SubnetState> = {}): SubnetState => ({ id: subnetId, vnetId: vnet, delegations: ['Microsoft.HardwareSecurityModules/dedicatedHSMs'], hasNsg: false, hasRouteTable: false, ...o });
const gateway = (o: Partial<GatewayState> = {}): GatewayState => ({ id: gatewayId, gatewayType: 'ExpressRoute', provisioningState: 'Succeeded', vnetId: vnet, ...o });

describe('featureCondition (allowlisting)', () => {
  it('nothing to say when both features are Registered', () => {
    const features: FeatureState[] = [
      { name: 'Microsoft.HardwareSecurityModules/AzureDedicatedHSM', state: 'Registered' },
      { name: 'Microsoft.Network/AllowBaremetalServers', state: 'Registered' },
    ];
    expect(featureCondition(ok(features))).toBeUndefined();
  });

  it('a missing registration: NotAllowlisted, naming it, contact the Microsoft account manager', () => {
    const c = featureCondition(ok([
      { name: 'Microsoft.HardwareSecurityModules/AzureDedicatedHSM', state: 'Registered' },
      { name: 'Microsoft.Network/AllowBaremetalServers', state: 'Pending' },
    ]));
    expect(c).toMatchObject({ type: 'Provisioned', status: 'False', reason: 'NotAllowlisted' });
    expect(c?.message).toContain('Microsoft.Network/AllowBaremetalServers is Pending');
    expect(c?.message).toMatch(/Microsoft account manager/);
  });

  it('a failed read is retried, not judged', () => {
    expect(featureCondition({ ok: false, failure: { class: 'throttled', retryable: true, message: '429', action: 'wait' } })?.reason).toBe('Throttled');
    expect(readFailure('SubnetDelegated', 'x', { class: 'transient', retryable: true, message: '503', action: 'wait' })).toMatchObject({ status: 'Unknown', reason: 'AzureUnavailable' });
    expect(readFailure('SubnetDelegated', 'x', { class: 'auth', retryable: false, message: '403', action: 'grant' }).reason).toBe('AuthorizationFailed');
  });
});

describe('subnetCondition (the number one failure cause)', () => {
  it('delegated', () => {
    expect(subnetCondition(ok(subnet()), subnetId)).toMatchObject({ status: 'True', reason: 'Delegated' });
  });
  it('not delegated: says what to delegate to, and why it matters', () => {
    const c = subnetCondition(ok(subnet({ delegations: ['Microsoft.Web/serverFarms'] })), subnetId);
    expect(c).toMatchObject({ status: 'False', reason: 'SubnetNotDelegated' });
    expect(c.message).toContain('Microsoft.HardwareSecurityModules/dedicatedHSMs');
    expect(c.message).toContain('Microsoft.Web/serverFarms');
    expect(c.message).toMatch(/number one reason/);
  });
  it('an NSG or a route table is not allowed', () => {
    const c = subnetCondition(ok(subnet({ hasNsg: true, hasRouteTable: true })), subnetId);
    expect(c).toMatchObject({ status: 'False', reason: 'SubnetMisconfigured' });
    expect(c.message).toMatch(/network security group and a route table/);
  });
  it('missing', () => {
    expect(subnetCondition(ok(undefined), subnetId)).toMatchObject({ status: 'False', reason: 'SubnetNotFound' });
  });
});

describe('gatewayVerdict', () => {
  const input = (read: Read<GatewayState | undefined>, since?: string) => ({ read, gatewayId, hsmVnetId: vnet, since, deployed: false });

  it('Succeeded ExpressRoute in the HSM VNet: ready', () => {
    expect(gatewayVerdict(input(ok(gateway())))).toMatchObject({ waiting: false, state: 'Succeeded', condition: { status: 'True', reason: 'GatewaySucceeded' } });
  });
  it('Updating: waits, saying for what, the state seen and since when', () => {
    const v = gatewayVerdict(input(ok(gateway({ provisioningState: 'Updating' })), '2025-03-01T10:00:00Z'));
    expect(v).toMatchObject({ waiting: true, state: 'Updating', condition: { status: 'False', reason: 'WaitingForGateway' } });
    expect(v.condition.message).toContain('hsm-ergw');
    expect(v.condition.message).toContain('Succeeded');
    expect(v.condition.message).toContain('it is Updating since 2025-03-01T10:00:00Z');
    expect(v.condition.message).toMatch(/deployment race/);
  });
  it('not there yet (Terraform still deploying it): waits too', () => {
    expect(gatewayVerdict(input(ok(undefined)))).toMatchObject({ waiting: true, state: 'NotFound', condition: { reason: 'WaitingForGateway' } });
  });
  it('a VPN gateway, a gateway of another VNet, a Failed gateway: misconfigured, no waiting', () => {
    expect(gatewayVerdict(input(ok(gateway({ gatewayType: 'Vpn' }))))).toMatchObject({ waiting: false, state: 'NotExpressRoute', condition: { reason: 'GatewayMisconfigured' } });
    const other = gatewayVerdict(input(ok(gateway({ vnetId: vnet.replace('hsm-vnet', 'onprem-vnet') }))));
    expect(other).toMatchObject({ waiting: false, condition: { reason: 'GatewayMisconfigured' } });
    expect(other.condition.message).toContain('onprem-vnet');
    expect(gatewayVerdict(input(ok(gateway({ provisioningState: 'Failed' }))))).toMatchObject({ waiting: false, condition: { reason: 'GatewayMisconfigured' } });
  });
});

describe('quotaCondition', () => {
  const view = (o: Partial<QuotaView> = {}): QuotaView => ({ byStamp: {}, region: 0, failedLeftovers: [], limits: { perStamp: 2, perRegion: 4 }, ...o });

  it('room left', () => {
    expect(quotaCondition(ok(view({ byStamp: { stamp1: 1 }, region: 1 })), 'stamp1', 'eastus')).toMatchObject({ status: 'True', reason: 'WithinQuota' });
  });

  it('stamp full because of failed leftovers: names them and says to delete them', () => {
    const c = quotaCondition(
      ok(view({ byStamp: { stamp1: 2 }, region: 2, failedLeftovers: [{ name: 'old-1', id: '/x/old-1', stampId: 'stamp1' }, { name: 'old-2', id: '/x/old-2', stampId: 'stamp1' }] })),
      'stamp1',
      'eastus',
    );
    expect(c).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(c.message).toContain('stamp1 holds 2 of 2 HSMs');
    expect(c.message).toContain('old-1 (stamp1), old-2 (stamp1): delete them');
    expect(c.message).toMatch(/more than 4 HSMs in one region, submit a customer support ticket/);
  });

  it('region full', () => {
    expect(quotaCondition(ok(view({ byStamp: { stamp1: 2, stamp2: 2 }, region: 4 })), undefined, 'eastus').message).toContain('region holds 4 of 4');
  });

  it('our own failed resource is not counted against us, nor named as a leftover', () => {
    const v = view({ byStamp: { stamp1: 2 }, region: 2, failedLeftovers: [{ name: 'hsm1', id: '/x/hsm1', stampId: 'stamp1' }] });
    const mine = withoutSelf(v, { id: '/x/hsm1', stampId: 'stamp1' });
    expect(mine).toMatchObject({ byStamp: { stamp1: 1 }, region: 1, failedLeftovers: [] });
    expect(quotaCondition(ok(mine), 'stamp1', 'eastus').status).toBe('True');
    expect(withoutSelf(v, undefined)).toBe(v);
  });
});
