/**
 * The checks the guide asks for before an HSM is deployed, each turned into one condition with a message a human
 * can act on: allowlisting (feature registration), subnet delegation (the number one failure cause; no NSG/UDR),
 * the ExpressRoute gateway (type, VNet, Succeeded: the deployment race), quota (2 per stamp, 4 per region, failed
 * leftovers named). Pure: the reconciler does the reads and hands their results in.
 */
import { Annotations, type ConditionLike } from '../../api/index.js';
import { ACTIONS, sameArmId, type AzureFailure, type FeatureState, type GatewayState, type HsmState, type QuotaView, type SubnetState } from '../../azure/index.js';
import { quotaRoomFor } from '../../azure/index.js';
import { shortName } from './desired.js';
import { formatDuration } from './timing.js';

/** A read that either gave a value or failed with a classified Azure failure. */
export type Read<T> = { ok: true; value: T } | { ok: false; failure: AzureFailure };

export const HSM_DELEGATION = 'Microsoft.HardwareSecurityModules/dedicatedHSMs';

export const REQUIRED_FEATURES = [
  { namespace: 'Microsoft.HardwareSecurityModules', name: 'AzureDedicatedHSM' },
  { namespace: 'Microsoft.Network', name: 'AllowBaremetalServers' },
] as const;

/** A failed read as a condition: throttling and outages are retried, a refused identity needs a human. */
export function readFailure(type: string, what: string, f: AzureFailure): ConditionLike {
  const reason = f.class === 'throttled' ? 'Throttled' : f.class === 'auth' ? 'AuthorizationFailed' : 'AzureUnavailable';
  return { type, status: 'Unknown', reason, message: `Could not read ${what}: ${f.message} ${f.action}` };
}

// ---------------------------------------------------------------------------------------------------------------
// Allowlisting

/** undefined when every required feature is Registered; else Provisioned=False NotAllowlisted. */
export function featureCondition(read: Read<FeatureState[]>): ConditionLike | undefined {
  if (!read.ok) return readFailure('Provisioned', 'the feature registrations of the subscription', read.failure);
  const missing = read.value.filter((f) => f.state.toLowerCase() !== 'registered');
  if (missing.length === 0) return undefined;
  const list = missing.map((f) => `${f.name} is ${f.state}`).join(', ');
  return { type: 'Provisioned', status: 'False', reason: 'NotAllowlisted', message: `Not deployed: ${list}. ${ACTIONS.notAllowlisted}` };
}

// ---------------------------------------------------------------------------------------------------------------
// Subnet

export function subnetCondition(read: Read<SubnetState | undefined>, subnetId: string): ConditionLike {
  const name = shortName(subnetId);
  if (!read.ok) return readFailure('SubnetDelegated', `subnet ${name}`, read.failure);
  const subnet = read.value;
  if (!subnet) {
    return { type: 'SubnetDelegated', status: 'False', reason: 'SubnetNotFound', message: `Subnet ${subnetId} does not exist: create it (delegated to ${HSM_DELEGATION}) or correct spec.azure.subnetId.` };
  }
  if (!subnet.delegations.some((d) => d.toLowerCase() === HSM_DELEGATION.toLowerCase())) {
    const has = subnet.delegations.length ? ` (it is delegated to ${subnet.delegations.join(', ')})` : '';
    return { type: 'SubnetDelegated', status: 'False', reason: 'SubnetNotDelegated', message: `Subnet ${name} is not delegated to ${HSM_DELEGATION}${has}. ${ACTIONS.delegation}` };
  }
  if (subnet.hasNsg || subnet.hasRouteTable) {
    const what = [subnet.hasNsg ? 'a network security group' : '', subnet.hasRouteTable ? 'a route table (UDR)' : ''].filter(Boolean).join(' and ');
    return { type: 'SubnetDelegated', status: 'False', reason: 'SubnetMisconfigured', message: `Subnet ${name} has ${what}. ${ACTIONS.subnetPolicy}` };
  }
  return { type: 'SubnetDelegated', status: 'True', reason: 'Delegated', message: `Subnet ${name} is delegated to ${HSM_DELEGATION}.` };
}

// ---------------------------------------------------------------------------------------------------------------
// Gateway

export interface GatewayVerdict {
  condition: ConditionLike;
  /** The state to record in status.gateway.state. */
  state: string;
  /** Not Succeeded yet (or not there yet): look again with a growing interval. */
  waiting: boolean;
}

export interface GatewayInput {
  read: Read<GatewayState | undefined>;
  gatewayId: string;
  /** VNet of the HSM subnet (the gateway must be in it); undefined when the subnet could not be read. */
  hsmVnetId: string | undefined;
  /** Since when the gateway has been in `state` (ISO), as status records it. */
  since: string | undefined;
  /** Whether the HSM already exists (messages differ: nothing waits for a deployment then). */
  deployed: boolean;
}

export function gatewayVerdict(i: GatewayInput): GatewayVerdict {
  const name = shortName(i.gatewayId);
  if (!i.read.ok) return { condition: readFailure('GatewayReady', `ExpressRoute gateway ${name}`, i.read.failure), state: 'Unknown', waiting: false };
  const gw = i.read.value;
  const since = i.since ? ` since ${i.since}` : '';
  const holdBack = i.deployed
    ? 'The HSM is reached through this gateway: its network path may be interrupted until then.'
    : 'No HSM is deployed until it is Succeeded: deploying earlier fails intermittently (the documented deployment race).';
  if (!gw) {
    return {
      condition: {
        type: 'GatewayReady',
        status: 'False',
        reason: 'WaitingForGateway',
        message: `ExpressRoute gateway ${name} does not exist (yet)${since}: waiting for it to be deployed with provisioningState Succeeded. ${holdBack}`,
      },
      state: 'NotFound',
      waiting: true,
    };
  }
  if (gw.gatewayType !== undefined && gw.gatewayType.toLowerCase() !== 'expressroute') {
    return {
      condition: {
        type: 'GatewayReady',
        status: 'False',
        reason: 'GatewayMisconfigured',
        message: `Gateway ${name} is a ${gw.gatewayType} gateway: Dedicated HSM needs an ExpressRoute gateway in the HSM's virtual network. Point spec.azure.expressRouteGatewayId at it.`,
      },
      state: 'NotExpressRoute',
      waiting: false,
    };
  }
  const state = gw.provisioningState ?? 'Unknown';
  if (i.hsmVnetId && gw.vnetId && !sameArmId(gw.vnetId, i.hsmVnetId)) {
    return {
      condition: {
        type: 'GatewayReady',
        status: 'False',
        reason: 'GatewayMisconfigured',
        message: `ExpressRoute gateway ${name} is in virtual network ${shortName(gw.vnetId)}, but the HSM subnet is in ${shortName(i.hsmVnetId)}: the gateway must be the one of the HSM's virtual network (one gateway per VNet).`,
      },
      state,
      waiting: false,
    };
  }
  if (state === 'Succeeded') {
    return { condition: { type: 'GatewayReady', status: 'True', reason: 'GatewaySucceeded', message: `ExpressRoute gateway ${name} is Succeeded.` }, state, waiting: false };
  }
  if (state === 'Failed') {
    return {
      condition: {
        type: 'GatewayReady',
        status: 'False',
        reason: 'GatewayMisconfigured',
        message: `ExpressRoute gateway ${name} is Failed: repair or redeploy the gateway. ${holdBack}`,
      },
      state,
      waiting: false,
    };
  }
  return {
    condition: {
      type: 'GatewayReady',
      status: 'False',
      reason: 'WaitingForGateway',
      message: `Waiting for ExpressRoute gateway ${name} to reach provisioningState Succeeded: it is ${state}${since}. ${holdBack}`,
    },
    state,
    waiting: true,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Quota

/**
 * The view without this HSM's own (failed) resource, which the view counts: re-running its deployment needs no
 * more quota, and it is not someone else's leftover to delete.
 */
export function withoutSelf(view: QuotaView, self: Pick<HsmState, 'id' | 'stampId' | 'zones'> | undefined): QuotaView {
  if (!self) return view;
  const mine = (id: string) => sameArmId(id, self.id);
  const stamp = self.stampId ?? (self.zones?.length ? `zone-${[...self.zones].sort().join(',')}` : 'unassigned');
  const byStamp = { ...view.byStamp };
  if ((byStamp[stamp] ?? 0) > 0) byStamp[stamp] = (byStamp[stamp] ?? 0) - 1;
  return { ...view, byStamp, region: Math.max(0, view.region - 1), failedLeftovers: view.failedLeftovers.filter((l) => !mine(l.id)) };
}

/**
 * The quota verdict. `recheckMs` is how often the operator looks again while it is exceeded: the message says so, and
 * that the resync-now annotation makes it look at once once a human freed a place.
 */
export function quotaCondition(read: Read<QuotaView>, stamp: string | undefined, location: string, recheckMs?: number): ConditionLike {
  if (!read.ok) return readFailure('QuotaAvailable', 'the dedicated HSMs of the subscription (quota)', read.failure);
  const view = read.value;
  const room = quotaRoomFor(view, stamp);
  const usage = `${stamp ? `${stamp} holds ${view.byStamp[stamp] ?? 0} of ${view.limits.perStamp}, ` : ''}${location} holds ${view.region} of ${view.limits.perRegion} HSMs`;
  if (room.fits) return { type: 'QuotaAvailable', status: 'True', reason: 'WithinQuota', message: `Quota leaves room for this HSM: ${usage}.` };
  const leftovers = view.failedLeftovers.length
    ? ` Failed deployments still consuming quota: ${view.failedLeftovers.map((l) => `${l.name}${l.stampId ? ` (${l.stampId})` : ''}`).join(', ')}: delete them.`
    : '';
  const again =
    recheckMs === undefined
      ? ''
      : ` The operator looks at the quota again every ${formatDuration(recheckMs)} and deploys once a place is free; to deploy at once after freeing one, set the annotation ${Annotations.resyncNow} to a new value (hsm-operator request resync).`;
  return { type: 'QuotaAvailable', status: 'False', reason: 'QuotaExceeded', message: `Not deployed: quota exceeded, ${room.reason ?? usage}.${leftovers} ${ACTIONS.quota}${again}` };
}

/** After the resource exists it holds its quota; nothing is consumed again. */
export const QUOTA_HELD: ConditionLike = { type: 'QuotaAvailable', status: 'True', reason: 'WithinQuota', message: 'The HSM exists; quota is not consumed again.' };
