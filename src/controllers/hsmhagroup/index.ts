/**
 * The HsmHaGroup controller: keeps a Luna HA group on a LunaCM client host in the declared shape, sets auto
 * recovery, polls member health and recovers down members within a rate limit and a circuit breaker.
 * Re-enqueued by its own spec/annotation changes, by changes of the DedicatedHsms it references (address,
 * reachability), by its Secrets, and by other groups on the same client host (client-wide settings).
 */
import type { DedicatedHsm, HsmHaGroup } from '../../api/index.js';
import { objectKey, specOrMetadataChanged, watchOf } from '../../runtime/index.js';
import { grantWatches } from '../shared/grant-watches.js';
import { hsmAddress } from '../shared/grants.js';
import type { OperatorContext } from '../shared/index.js';
import { createReconciler, newMemory } from './reconciler.js';
import { clientHostKey } from './settings.js';
import { CONTROLLER_NAME } from './types.js';

const BY_HSM = 'hsmhagroup.dedicatedHsm';
const BY_CLIENT = 'hsmhagroup.clientHost';


/** What of a DedicatedHsm matters to the groups on it: its spec, address and whether its appliance answers. */
function memberFacts(h: DedicatedHsm): string {
  const reachable = h.status?.conditions?.find((c) => c.type === 'ApplianceReachable')?.status;
  return JSON.stringify([h.metadata.generation, h.metadata.deletionTimestamp, h.status?.privateIpAddress, reachable]);
}

export function registerHsmHaGroupController(ctx: OperatorContext): void {
  const groups = ctx.caches.haGroups;
  groups.addIndex(BY_HSM, (g) => g.spec.members.map((m) => hsmAddress(g.metadata.namespace ?? '', m.dedicatedHsmRef).cacheKey));
  groups.addIndex(BY_CLIENT, (g) => [clientHostKey(g.spec.client.host, g.spec.client.port)]);
  ctx.manager.addController<HsmHaGroup>({
    name: CONTROLLER_NAME,
    for: groups,
    onUpdate: specOrMetadataChanged,
    watches: [
      watchOf(ctx.caches.dedicatedHsms, (h) => groups.byIndex(BY_HSM, objectKey(h)).map(objectKey), (a, b) => memberFacts(a) !== memberFacts(b)),
      watchOf(ctx.secrets.informer, ctx.secrets.mapTo(CONTROLLER_NAME)),
      // Grants admit and refuse members in other namespaces (by selector too: a namespace's labels).
      ...grantWatches(ctx, groups, BY_HSM),
      // Client-wide settings: a sibling's spec change can start or end a settings conflict.
      watchOf(
        groups,
        (g) => groups.byIndex(BY_CLIENT, clientHostKey(g.spec.client.host, g.spec.client.port)).map(objectKey).filter((k) => k !== objectKey(g)),
        (a, b) => a.metadata.generation !== b.metadata.generation,
      ),
    ],
    reconciler: createReconciler(ctx, newMemory()),
  });
}
