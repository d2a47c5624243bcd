/**
 * The credential guard's records live in the status of the object that owns the credential (invariant 1: the
 * count survives restarts). These convert between the guard's records and the status list, whose map key is
 * `<role>@<host:port>/<secret uid>/<value>` (one entry per rejected value: they count against the appliance's budget).
 * Records written before ports were keyed name a bare host: they are read as port 22.
 */
import type { GuardRecord, GuardRole } from '../../luna/index.js';
import { GUARD_ROLES, normalizeGuardHost } from '../../luna/index.js';

export interface GuardStatusRecord {
  key: string;
  host: string;
  role: string;
  secretUid: string;
  secretResourceVersion: string;
  valueDigest?: string;
  rejectedAt: string;
  message: string;
  secretName?: string;
}

export function toStatusRecords(records: readonly GuardRecord[]): GuardStatusRecord[] {
  return records.map((r) => ({
    key: `${r.role}@${r.host}/${r.secretUid}/${r.valueDigest !== undefined ? r.valueDigest.slice(0, 16) : `rv${r.secretResourceVersion}`}`,
    host: r.host,
    role: r.role,
    secretUid: r.secretUid,
    secretResourceVersion: r.secretResourceVersion,
    ...(r.valueDigest !== undefined ? { valueDigest: r.valueDigest } : {}),
    rejectedAt: r.rejectedAt,
    message: r.message.slice(0, 1024),
    ...(r.secretName !== undefined ? { secretName: r.secretName } : {}),
  }));
}

export function fromStatusRecords(records: readonly GuardStatusRecord[] | undefined): GuardRecord[] {
  return (records ?? [])
    .filter((r) => (GUARD_ROLES as readonly string[]).includes(r.role))
    .map((r) => ({
      host: normalizeGuardHost(r.host),
      role: r.role as GuardRole,
      secretUid: r.secretUid,
      secretResourceVersion: r.secretResourceVersion,
      ...(r.valueDigest !== undefined ? { valueDigest: r.valueDigest } : {}),
      rejectedAt: r.rejectedAt,
      message: r.message,
      ...(r.secretName !== undefined ? { secretName: r.secretName } : {}),
    }));
}
