/**
 * Whose an Azure HSM is: the ownership tags the operator writes on every HSM it creates or adopts (the object's
 * namespace, name and uid), and the one rule that says whether an existing HSM may be managed by this DedicatedHsm.
 * Pure. observe.ts stops reading a resource that is not ours, decide.ts reports it (AdoptionRefused) without its
 * settings, finalize.ts never deletes it, desired.ts writes the tags.
 *
 * ARM tag names are case-insensitive, at most 512 characters, without < > % & \ ? /; values at most 256 characters.
 * Three tags keep every value within 256 (a name may be 253 characters long); the uid alone decides.
 */
import { adoptionRequested, OWNER_TAGS, type DedicatedHsm } from '../../api/index.js';
import { sameArmId, type HsmState } from '../../azure/index.js';

export { OWNER_TAGS };

/** The reserved tag names, lower case (spec.azure.tags may not use them: the CRD refuses them, src/api). */
export const RESERVED_TAG_NAMES: readonly string[] = Object.values(OWNER_TAGS);

/** The ownership tags of this object, as written on the HSM. */
export function ownerTags(hsm: DedicatedHsm): Record<string, string> {
  return {
    [OWNER_TAGS.namespace]: hsm.metadata.namespace ?? '',
    [OWNER_TAGS.name]: hsm.metadata.name ?? '',
    [OWNER_TAGS.uid]: hsm.metadata.uid ?? '',
  };
}

const isReserved = (k: string): boolean => RESERVED_TAG_NAMES.includes(k.toLowerCase());

/** A tag's value by name, as ARM matches names: without regard to case. */
function tagValue(tags: Record<string, string>, name: string): string | undefined {
  const k = Object.keys(tags).find((t) => t.toLowerCase() === name);
  return k === undefined ? undefined : tags[k];
}

/** Tags without the reserved ones (in any case). */
export function withoutOwnerTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => !isReserved(k)));
}

export type Ownership =
  /** Tagged with this object's uid, or recorded in its status before ownership tags existed (`tagged` false). */
  | { kind: 'ours'; tagged: boolean }
  /** Not tagged as ours, but the adopt annotation names it: adopted, and the tags are written. */
  | { kind: 'adopt' }
  /** Someone else's, or nobody's: never written to, never deleted, its settings never reported. */
  | { kind: 'notOurs'; taggedForAnother: boolean };

/** The one ownership rule. */
export function ownershipOf(hsm: DedicatedHsm, existing: HsmState): Ownership {
  const uid = tagValue(existing.tags, OWNER_TAGS.uid);
  const mine = hsm.metadata.uid ?? '';
  if (uid !== undefined && uid === mine && mine !== '') {
    const want = ownerTags(hsm);
    return { kind: 'ours', tagged: Object.entries(want).every(([k, v]) => tagValue(existing.tags, k) === v) };
  }
  if (adoptionRequested(hsm.metadata.annotations, hsm.spec.azure.name ?? hsm.metadata.name ?? '', existing.id)) return { kind: 'adopt' };
  // Created or adopted by this object before ownership tags existed: its status (written only by the operator) says so.
  if (uid === undefined && sameArmId(hsm.status?.resourceId, existing.id)) return { kind: 'ours', tagged: false };
  return { kind: 'notOurs', taggedForAnother: uid !== undefined };
}
