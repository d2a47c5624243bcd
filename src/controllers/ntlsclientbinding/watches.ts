/**
 * Which changes of other objects re-enqueue a binding. Pure. A DedicatedHsm matters when the binding names it
 * (spec or status: a removed target still needs its clean-up) and when something a binding depends on changed:
 * its spec, its deletion, its address (re-deployed), its NTLS server certificate, its host key or whether its
 * appliance is reachable. Routine status writes of the DedicatedHsm controller do not wake every binding.
 */
import type { DedicatedHsm, NtlsClientBinding } from '../../api/index.js';
import { hsmAddress, hsmAddressOfStatusKey } from '../shared/grants.js';
import { getCondition } from '../../runtime/index.js';

export const BY_DEDICATED_HSM = 'dedicatedHsm';

/** Index values of a binding: `namespace/name` of every DedicatedHsm it names (in any namespace). */
export function referencedHsmKeys(b: NtlsClientBinding): string[] {
  const ns = b.metadata.namespace ?? '';
  const keys = new Set([
    ...(b.spec?.targets ?? []).map((t) => hsmAddress(ns, t.dedicatedHsmRef).cacheKey),
    ...(b.status?.targets ?? []).map((t) => hsmAddressOfStatusKey(ns, t.dedicatedHsm).cacheKey),
  ]);
  return [...keys];
}

export function dedicatedHsmChangeMatters(old: DedicatedHsm, cur: DedicatedHsm): boolean {
  const a = old.status;
  const b = cur.status;
  return (
    old.metadata.generation !== cur.metadata.generation ||
    Boolean(old.metadata.deletionTimestamp) !== Boolean(cur.metadata.deletionTimestamp) ||
    a?.privateIpAddress !== b?.privateIpAddress ||
    a?.resourceId !== b?.resourceId ||
    a?.appliance?.ntlsServerCertFingerprint !== b?.appliance?.ntlsServerCertFingerprint ||
    a?.appliance?.hostKeyFingerprint !== b?.appliance?.hostKeyFingerprint ||
    getCondition(a?.conditions, 'ApplianceReachable')?.status !== getCondition(b?.conditions, 'ApplianceReachable')?.status ||
    (a?.credentialGuard?.length ?? 0) !== (b?.credentialGuard?.length ?? 0)
  );
}

/**
 * Why a binding must not talk to this HSM's appliance yet, or undefined. A DedicatedHsm whose appliance is known
 * to be unreachable is waited for (its own controller retries and its change re-enqueues the binding).
 */
export function waitingFor(hsm: DedicatedHsm, name: string = hsm.metadata.name ?? ''): string | undefined {
  if (hsm.metadata.deletionTimestamp) return `DedicatedHsm ${name} is being deleted.`;
  const reachable = getCondition(hsm.status?.conditions, 'ApplianceReachable');
  if (reachable?.status === 'False') return `DedicatedHsm ${name}: its appliance is not reachable yet (${reachable.reason}).`;
  return undefined;
}
