/**
 * The quota view: HSMs a subscription holds in one region, per stamp, counted the way the service counts them
 * (failed deployments keep consuming quota until deleted, so they are counted and named).
 */
import { normalizeLocation } from './ids.js';
import type { HsmState, QuotaLimits, QuotaView } from './types.js';

/** The documented initial quota. */
export const DEFAULT_QUOTA: QuotaLimits = { perStamp: 2, perRegion: 4 };

/** Stamp key of an HSM: its stampId, else its zone in zonal regions. */
export function stampKey(hsm: Pick<HsmState, 'stampId' | 'zones'>): string {
  if (hsm.stampId) return hsm.stampId;
  if (hsm.zones?.length) return `zone-${[...hsm.zones].sort().join(',')}`;
  return 'unassigned';
}

export function computeQuotaView(hsms: readonly HsmState[], location: string, limits: QuotaLimits = DEFAULT_QUOTA): QuotaView {
  const here = hsms.filter((h) => normalizeLocation(h.location) === normalizeLocation(location));
  const byStamp: Record<string, number> = {};
  for (const h of here) byStamp[stampKey(h)] = (byStamp[stampKey(h)] ?? 0) + 1;
  const failedLeftovers = here
    .filter((h) => h.provisioningState === 'Failed')
    .map((h) => ({ name: h.name, id: h.id, ...(h.stampId ? { stampId: h.stampId } : {}) }));
  return { byStamp, region: here.length, failedLeftovers, limits, ids: here.map((h) => h.id.toLowerCase()) };
}

/** Whether one more HSM fits in `stamp` (or anywhere, when no stamp is asked for). */
export function quotaRoomFor(view: QuotaView, stamp?: string): { fits: boolean; reason?: string } {
  if (view.region >= view.limits.perRegion) return { fits: false, reason: `region holds ${view.region} of ${view.limits.perRegion} HSMs` };
  if (stamp !== undefined && (view.byStamp[stamp] ?? 0) >= view.limits.perStamp)
    return { fits: false, reason: `${stamp} holds ${view.byStamp[stamp] ?? 0} of ${view.limits.perStamp} HSMs` };
  return { fits: true };
}
