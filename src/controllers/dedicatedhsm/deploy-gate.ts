/**
 * One deployment decision at a time per subscription and region, and the quota it takes held until Azure shows it.
 *
 * The PUT of an HSM is irreversible in the ways that matter: into a gateway that is Updating it fails (the deployment
 * race) and leaves a failed resource; past the quota it fails and the failed leftover holds quota. So the decision to
 * PUT rests on readings taken inside the gate, after the previous PUT of the same scope returned (a gateway shared by
 * the HSMs of a VNet, the subnet and the quota all live in one subscription and region), and on the quota as Azure
 * lists it plus every PUT this operator sent that the list does not show yet. A reservation is released when the
 * PUT is refused, when the list shows the resource, when the object goes away, or after RESERVATION_TTL_MS.
 *
 * The gate is per process: with leader election only the leader sends PUTs (the Azure plane is fenced), so no number
 * of workers or replicas oversubscribes a stamp.
 */
import type { QuotaView } from '../../azure/index.js';

/** A PUT that ARM accepted shows in the list within seconds; a reservation older than this is dropped. */
export const RESERVATION_TTL_MS = 5 * 60_000;

interface Reservation {
  stamp: string;
  at: number;
}

export class DeployGate {
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #reserved = new Map<string, Map<string, Reservation>>();

  constructor(private readonly now: () => number) {}

  /** The scope of a decision: subscription and region, case-insensitive as ARM is. */
  static scope(subscriptionId: string, location: string): string {
    return `${subscriptionId.toLowerCase()}|${location.toLowerCase().replace(/\s+/g, '')}`;
  }

  /** Runs `decide` alone in its scope: the next decision of the scope starts after this one returned. */
  async exclusive<T>(scope: string, decide: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(scope) ?? Promise.resolve();
    const run = before.then(decide, decide);
    const tail = run.catch(() => undefined);
    this.#tails.set(scope, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(scope) === tail) this.#tails.delete(scope);
    }
  }

  /** Holds one HSM's place in `stamp` (undefined: only the region) until released or listed. */
  reserve(scope: string, armId: string, stamp: string | undefined): void {
    let m = this.#reserved.get(scope);
    if (!m) this.#reserved.set(scope, (m = new Map()));
    m.set(armId.toLowerCase(), { stamp: stamp ?? 'unassigned', at: this.now() });
  }

  release(scope: string, armId: string): void {
    const m = this.#reserved.get(scope);
    if (!m) return;
    m.delete(armId.toLowerCase());
    if (m.size === 0) this.#reserved.delete(scope);
  }

  /** How many places are held in a scope (for tests). */
  held(scope: string): number {
    return this.#reserved.get(scope)?.size ?? 0;
  }

  /**
   * The quota as Azure lists it plus the places this operator holds that the list does not show yet; reservations
   * the list shows (or that expired) are dropped. `self` (the HSM deciding) never counts against itself.
   */
  withReservations(scope: string, view: QuotaView, self: string): QuotaView {
    const m = this.#reserved.get(scope);
    if (!m) return view;
    const listed = new Set(view.ids ?? []);
    const byStamp = { ...view.byStamp };
    let region = view.region;
    for (const [id, r] of [...m]) {
      if (listed.has(id) || this.now() - r.at > RESERVATION_TTL_MS) {
        m.delete(id);
        continue;
      }
      if (id === self.toLowerCase()) continue;
      byStamp[r.stamp] = (byStamp[r.stamp] ?? 0) + 1;
      region += 1;
    }
    if (m.size === 0) this.#reserved.delete(scope);
    return { ...view, byStamp, region };
  }
}
