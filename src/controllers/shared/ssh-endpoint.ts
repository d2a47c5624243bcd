/**
 * An SSH endpoint from a spec block (host, port, username, credentialsRef, hostKey | insecureTrustOnFirstUse): the
 * part every device client shares, whether it dials an appliance (appliance.ts) or a LunaCM client host (HA groups).
 * Host-key pinning, the Secret read, the guard records persisted by earlier processes, and the reverse: which guard
 * records an owner object should persist in its own status.
 */
import { Annotations } from '../../api/index.js';
import { guardHostOf, type GuardRole, type HostKeyPolicy, type SshEndpoint } from '../../luna/index.js';
import type { OperatorContext } from './context.js';
import { fromStatusRecords, toStatusRecords, type GuardStatusRecord } from './guard-status.js';
import type { CredentialUser, SecretReads, SecretReason } from './secrets.js';

/**
 * The pinned key when the spec gives one; otherwise (the schema allows that only with insecureTrustOnFirstUse: true)
 * the key already seen, so trust-on-first-use really is first use only; otherwise trust on first use.
 */
export function hostKeyPolicyFor(pinned: string | undefined, seen: string | undefined): HostKeyPolicy {
  if (pinned) return { pinned };
  return seen ? { pinned: seen } : { trustOnFirstUse: true };
}

export interface SshTargetSpec {
  host: string;
  port: number;
  username: string;
  credentialsRef: { name: string; key: string };
  hostKey?: string | undefined;
}

export interface SshEndpointRequest {
  /** Namespace of the owner object (the Secret lives there). */
  namespace: string;
  target: SshTargetSpec;
  role: Extract<GuardRole, 'appliance-ssh' | 'lunacm-ssh'>;
  /** A host key recorded earlier (status, or the pool's first-use memory) for trust-on-first-use targets. */
  seenHostKey?: string | undefined;
  /** Guard records the owner persisted (status.credentialGuard): merged into ctx.guard before any use. */
  guardRecords?: readonly GuardStatusRecord[] | undefined;
  /** What the credential is for, in messages ("client host credentials"). */
  what: string;
  /** The object sending it: the Secret must name it in its opt-in annotation. */
  user: CredentialUser;
}

export type SshEndpointResult = { ok: true; endpoint: SshEndpoint } | { ok: false; reason: SecretReason; message: string };

/** Resolves the dialled address, reads the credential Secret through `secrets` and attaches the host-key policy. */
export async function sshEndpoint(ctx: OperatorContext, secrets: SecretReads, req: SshEndpointRequest): Promise<SshEndpointResult> {
  const t = req.target;
  const cred = await secrets.credential(req.namespace, t.credentialsRef.name, t.credentialsRef.key, req.user);
  if (!cred.ok) return { ok: false, reason: cred.reason, message: `${req.what}: ${cred.message}` };
  // Records persisted by earlier processes refuse a credential that was already rejected (invariant 1).
  ctx.guard.merge(fromStatusRecords(req.guardRecords));
  const dialled = ctx.resolve({ host: t.host, port: t.port }, 'ssh');
  return {
    ok: true,
    endpoint: {
      host: dialled.host,
      port: dialled.port,
      username: t.username,
      credential: { password: cred.value, secret: cred.version },
      hostKey: hostKeyPolicyFor(t.hostKey, req.seenHostKey ?? ctx.device.observedHostKey(dialled.host, dialled.port)),
      role: req.role,
    },
  };
}

/**
 * A human's reset of the failed-login budget: the owner's `dedicatedhsm.io/credential-budget-reset` (an RFC 3339 time,
 * not in the future) lifts the budget of these roles on this endpoint for rejections up to then. Applied on every pass
 * from the annotation, so it holds across restarts; the operator never edits the annotation. Unparsable values do
 * nothing.
 */
export function applyBudgetReset(ctx: OperatorContext, annotations: Readonly<Record<string, string>> | undefined, endpoint: SshEndpoint, roles: readonly GuardRole[]): void {
  const value = annotations?.[Annotations.credentialBudgetReset];
  if (!value || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return;
  const at = new Date(value);
  for (const role of roles) ctx.guard.resetBudget(guardHostOf(endpoint.host, endpoint.port ?? 22), role, at);
}

/**
 * The guard records an owner object keeps in its status: those of the given roles on the endpoint (host:port), for the
 * Secrets (uids) the owner uses. Sorted as the guard exports them, so an unchanged list costs no write.
 */
export function guardRecordsFor(ctx: OperatorContext, endpoint: SshEndpoint, roles: readonly GuardRole[], secretUids: ReadonlySet<string>): GuardStatusRecord[] {
  const host = guardHostOf(endpoint.host, endpoint.port ?? 22);
  return toStatusRecords(ctx.guard.export().filter((r) => roles.includes(r.role) && r.host === host && secretUids.has(r.secretUid)));
}
