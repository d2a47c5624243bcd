/**
 * The binding's conversation with one appliance: read the client (show + fingerprint), run a repair plan, unregister.
 * Reads first, then only the commands the plan names; every command goes through the shared SSH pool.
 */
import { LunaCommandError, type ApplianceOps, type ClientIdentity } from '../../luna/index.js';
import type { ClientPlan, ObservedClient } from './drift.js';

/** A partition the spec names does not exist on the HSM: nothing is changed there until it does. */
export class PartitionNotFoundError extends Error {
  override readonly name = 'PartitionNotFoundError';
  constructor(
    readonly missing: readonly string[],
    readonly available: readonly string[],
  ) {
    super(PartitionNotFoundError.text(missing, available));
  }

  private static text(missing: readonly string[], available: readonly string[]): string {
    return `partition${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist (partitions there: ${available.join(', ') || 'none'}); create ${missing.length > 1 ? 'them' : 'it'} or fix spec.targets[].partitions`;
  }

  /** The message for a reader who may see only the partitions `visible` admits (a tenant under a grant). */
  describe(visible: (label: string) => boolean): string {
    return PartitionNotFoundError.text(this.missing, this.available.filter(visible));
  }
}

/** `client show` and `client fingerprint` (read-only). */
export async function readClient(appliance: ApplianceOps, name: string): Promise<ObservedClient> {
  const info = await appliance.client(name);
  if (!info) return { registered: false, partitions: [] };
  const fingerprint = await appliance.clientFingerprint(name);
  return { registered: true, hostname: info.hostname, ip: info.ip, partitions: info.partitions, fingerprint };
}

export interface ClientToPush {
  name: string;
  identity: ClientIdentity;
  /** The leaf certificate, uploaded as `<hostname|ip>.pem` before `client register`. */
  certPem: string;
}

/** Runs a plan. Partitions are checked (read-only) before anything changes, so a typo changes nothing. */
export async function pushClient(appliance: ApplianceOps, client: ClientToPush, plan: ClientPlan): Promise<void> {
  if (plan.assign.length) {
    const present = (await appliance.partitions()).map((p) => p.label);
    const missing = plan.assign.filter((p) => !present.includes(p));
    if (missing.length) throw new PartitionNotFoundError(missing, present);
  }
  if (plan.unregister) await appliance.deleteClient(client.name);
  if (plan.register) await appliance.registerClient(client.name, client.identity, client.certPem);
  for (const p of plan.revoke) await appliance.revokePartition(client.name, p);
  for (const p of plan.assign) {
    try {
      await appliance.assignPartition(client.name, p);
    } catch (e) {
      // Deleted between the check and the assignment.
      if (e instanceof LunaCommandError && e.kind === 'not-found') throw new PartitionNotFoundError([p], []);
      throw e;
    }
  }
}

/** `client delete` when the client is registered; true when something was deleted. */
export async function unregisterClient(appliance: ApplianceOps, name: string): Promise<boolean> {
  const info = await appliance.client(name);
  if (!info) return false;
  const out = await appliance.deleteClient(name);
  return out.changed;
}

/** The identity as lunash takes it. */
export function clientIdentity(identity: { hostname?: string | undefined; ip?: string | undefined }): ClientIdentity {
  if (identity.ip !== undefined) return { ip: identity.ip };
  if (identity.hostname !== undefined) return { hostname: identity.hostname };
  throw new Error('spec.identity: set exactly one of hostname or ip');
}
