/**
 * Two bindings registering the same client name on the same HSM would undo each other's registration on every
 * check (each re-registers its own certificate). The oldest binding keeps the name; the others leave that HSM alone
 * and say why, naming the holder only when it is in their own namespace. Pure.
 */
import type { NtlsClientBinding } from '../../api/index.js';
import { hsmAddress } from '../shared/grants.js';

const created = (b: NtlsClientBinding): string => String(b.metadata.creationTimestamp ?? '');

/** Whether `a` was there first (creation time, then name, so the answer is the same for both). */
function older(a: NtlsClientBinding, b: NtlsClientBinding): boolean {
  const ta = created(a);
  const tb = created(b);
  return ta !== tb ? ta < tb : (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

/**
 * The binding that holds `self`'s client name on the HSM `hsmKey` (namespace/name) before it, if any, in any
 * namespace: a client name is unique per appliance, whoever asks. `candidates` are the bindings that name the HSM
 * (from the cache index); deleting ones still count until they are gone (their clean-up deletes the client).
 */
export function clientNameHolder(self: NtlsClientBinding, hsmKey: string, candidates: readonly NtlsClientBinding[]): NtlsClientBinding | undefined {
  return candidates.find(
    (o) =>
      o.metadata.uid !== self.metadata.uid &&
      o.spec.clientName === self.spec.clientName &&
      o.spec.targets.some((t) => hsmAddress(o.metadata.namespace ?? '', t.dedicatedHsmRef).cacheKey === hsmKey) &&
      older(o, self),
  );
}
