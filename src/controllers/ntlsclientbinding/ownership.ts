/**
 * Whose client is it? The operator changes, re-registers or deletes a client on an appliance only for the binding
 * that owns it there: the binding registered it (recorded in its status, `targets[].owned`), or proved it is the
 * same client (the HSM holds this binding's certificate, whose key the binding's Secret holds), or took it over by
 * the explicit adopt-client annotation. Any other client of that name is someone else's: left alone, and reported
 * without its details (partitions, fingerprint). Pure.
 */
import { Annotations, type NtlsClientBinding } from '../../api/index.js';
import { fingerprintMatches, type CertificateFacts } from '../../pki/index.js';
import { hsmAddress, type GrantRequest, type HsmAddress } from '../shared/grants.js';
import type { ObservedClient } from './drift.js';
import type { TargetStatus } from './status.js';

/** Whether this binding's status says it owns the client on that target (bindings before ownership: it pushed there). */
export function ownedBefore(prev: TargetStatus | undefined): boolean {
  if (!prev) return false;
  if (prev.owned !== undefined) return prev.owned;
  return (prev.pushes ?? 0) > 0;
}

/** The adopt-client annotation names exactly this client. */
export function adoptionRequested(b: NtlsClientBinding): boolean {
  return b.metadata.annotations?.[Annotations.adoptClient] === b.spec.clientName;
}

export type Ownership =
  /** Ours to change: registered by us, proven by certificate, adopted, or nothing registered under the name yet. */
  | { owned: true; how: 'recorded' | 'certificate' | 'adopted' | 'free' }
  | { owned: false; message: string };

/** Decides whether the binding may act on the client it found (`seen`) on the HSM called `hsm` in messages. */
export function ownership(b: NtlsClientBinding, prev: TargetStatus | undefined, seen: ObservedClient, cert: CertificateFacts, hsm: string): Ownership {
  if (!seen.registered) return { owned: true, how: 'free' };
  if (ownedBefore(prev)) return { owned: true, how: 'recorded' };
  if (seen.fingerprint !== undefined && fingerprintMatches(cert, seen.fingerprint)) return { owned: true, how: 'certificate' };
  if (adoptionRequested(b)) return { owned: true, how: 'adopted' };
  const name = b.spec.clientName;
  return {
    owned: false,
    message: `a client named ${name} is already registered on ${hsm} and was not registered by this binding; the operator neither replaces nor deletes it. Choose another spec.clientName (a new binding), or, if this binding should take it over, set the annotation ${Annotations.adoptClient}: "${name}" (its certificate and partitions are then replaced by this binding's).`,
  };
}

/** What a binding asks of one target HSM, as the grants judge it. */
export function bindingRequest(b: NtlsClientBinding, hsm: HsmAddress, partitions: readonly string[]): GrantRequest {
  return {
    kind: 'NtlsClientBinding',
    namespace: b.metadata.namespace ?? '',
    uid: b.metadata.uid ?? '',
    createdAt: String(b.metadata.creationTimestamp ?? ''),
    hsm,
    partitions,
    clientName: b.spec.clientName,
  };
}

/**
 * The requests of `bindings` for the HSM at `hsm` (each target naming it), for the grants' client count; deleting
 * bindings and `except` (the uid of the binding being judged) left out. The controller and `plan` both count so.
 */
export function requestsFor(bindings: Iterable<NtlsClientBinding>, hsm: HsmAddress, except?: string): GrantRequest[] {
  const out: GrantRequest[] = [];
  for (const o of bindings) {
    if (o.metadata.uid === except || o.metadata.deletionTimestamp) continue;
    for (const t of o.spec.targets) {
      const a = hsmAddress(o.metadata.namespace ?? '', t.dedicatedHsmRef);
      if (a.cacheKey === hsm.cacheKey) out.push(bindingRequest(o, a, t.partitions));
    }
  }
  return out;
}
