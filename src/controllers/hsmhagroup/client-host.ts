/**
 * The LunaCM client host of a group: its SSH endpoint (role `lunacm-ssh`, pinned host key, guarded credential), and
 * the guard records (`lunacm-ssh`, `hagroup-password`) the group keeps in its own status so a restarted operator
 * never sends a rejected SSH password or group (Crypto Officer) password again.
 */
import type { HsmHaGroup } from '../../api/index.js';
import type { GuardRole, LunaCmOps, SshEndpoint } from '../../luna/index.js';
import { applyBudgetReset, guardRecordsFor, sshEndpoint, type GuardStatusRecord, type OperatorContext, type SecretReads, type SshEndpointResult } from '../shared/index.js';
import { HsmHaGroupType } from './types.js';

export const CLIENT_ROLES: readonly GuardRole[] = ['lunacm-ssh', 'hagroup-password'];

export async function clientEndpoint(ctx: OperatorContext, group: HsmHaGroup, secrets: SecretReads): Promise<SshEndpointResult> {
  const c = group.spec.client;
  const res = await sshEndpoint(ctx, secrets, {
    namespace: group.metadata.namespace ?? 'default',
    target: { host: c.host, port: c.port, username: c.username, credentialsRef: c.credentialsRef, hostKey: c.hostKey },
    role: 'lunacm-ssh',
    guardRecords: group.status?.credentialGuard,
    what: `credentials of the LunaCM client host ${c.host}`,
    user: { kind: 'HsmHaGroup', name: group.metadata.name ?? '' },
  });
  if (res.ok) applyBudgetReset(ctx, group.metadata.annotations, res.endpoint, CLIENT_ROLES);
  return res;
}

/** LunaCM on the group's client host; every command honours `signal` (the reconcile's `rc.signal`). */
export function lunaCm(ctx: OperatorContext, endpoint: SshEndpoint, signal?: AbortSignal): LunaCmOps {
  return ctx.device.lunaCm(endpoint, signal ? { signal } : {});
}

/** The records this group persists: its client host, its two Secrets. */
export function groupGuardRecords(ctx: OperatorContext, endpoint: SshEndpoint, secretUids: ReadonlySet<string>): GuardStatusRecord[] {
  return guardRecordsFor(ctx, endpoint, CLIENT_ROLES, secretUids);
}

/** Writes the guard records into the group's status right away (a rejection must survive a crash before the report). */
export async function persistGroupGuard(ctx: OperatorContext, group: HsmHaGroup, records: GuardStatusRecord[]): Promise<HsmHaGroup> {
  const res = await ctx.manager.status.update(
    HsmHaGroupType,
    group,
    (status) => {
      const s = status as NonNullable<HsmHaGroup['status']>;
      if (records.length) s.credentialGuard = records;
      else delete s.credentialGuard;
    },
    { strategy: 'merge', observedGeneration: false },
  );
  return res.object;
}
