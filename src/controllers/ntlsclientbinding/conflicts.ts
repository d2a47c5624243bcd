/**
 * Two bindings registering the same client name on the same HSM would undo each other's registration on every
 * check (each re-registers its own certificate). The oldest binding keeps the name; the others leave that HSM alone
 * and say why, naming the holder only when it is in their own namespace. Pure.
 */
import type { NtlsClientBinding } from '../../api/index.js';
import { hsmAddress, hsmAddressOfStatusKey } from '../shared/grants.js';
import { ownedBefore } from './ownership.js';

const created = (b: NtlsClientBinding): string => String(b.metadata.creationTimestamp ?? '');

/** Whether `a` was there first (creation time, then name, so the answer is the same for both). */
function older(a: NtlsClientBinding, b: NtlsClientBinding): boolean {
  const ta = created(a);
  const tb = created(b);
  return ta !== tb ? ta < tb : (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

/** Whether `b`'s status records that it owns its client on the HSM `hsmKey` (namespace/name). */
function ownsThere(b: NtlsClientBinding, hsmKey: string): boolean {
  const ns = b.metadata.namespace ?? '';
  return (b.status?.targets ?? []).some((t) => hsmAddressOfStatusKey(ns, t.dedicatedHsm).cacheKey === hsmKey && ownedBefore(t));
}

/**
 * The binding that holds `self`'s client name on the HSM `hsmKey` (namespace/name), if any, in any namespace: a
 * client name is unique per appliance, whoever asks. The binding that owns the client there holds it, whatever its
 * age (a newer binding, or one created in the same second, never displaces it); with no owner, the oldest does.
 * `candidates` are the bindings that name the HSM (from the cache index); deleting ones still count until they are
 * gone (their clean-up deletes the client).
 */
export function clientNameHolder(self: NtlsClientBinding, hsmKey: string, candidates: readonly NtlsClientBinding[]): NtlsClientBinding | undefined {
  if (ownsThere(self, hsmKey)) return undefined;
  const rivals = candidates.filter(
    (o) => o.metadata.uid !== self.metadata.uid && o.spec.clientName === self.spec.clientName && o.spec.targets.some((t) => hsmAddress(o.metadata.namespace ?? '', t.dedicatedHsmRef).cacheKey === hsmKey),
  );
  return rivals.find((o) => ownsThere(o, hsmKey)) ?? rivals.find((o) => older(o, self));
}
