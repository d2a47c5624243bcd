/**
 * The credential guard's records live in the status of the object that owns the credential (invariant 1: the
 * count survives restarts). These convert between the guard's records and the status list, whose map key is
 * `<role>@<host>/<secret uid>`.
 */
import type { GuardRecord, GuardRole } from '../../luna/index.js';
import { GUARD_ROLES } from '../../luna/index.js';

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
    key: `${r.role}@${r.host}/${r.secretUid}`,
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
      host: r.host,
      role: r.role as GuardRole,
      secretUid: r.secretUid,
      secretResourceVersion: r.secretResourceVersion,
      ...(r.valueDigest !== undefined ? { valueDigest: r.valueDigest } : {}),
      rejectedAt: r.rejectedAt,
      message: r.message,
      ...(r.secretName !== undefined ? { secretName: r.secretName } : {}),
    }));
}
