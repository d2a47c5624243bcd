/**
 * Finalizer add/remove with JSON patches guarded by a `test` op, so two writers never clobber each other's
 * finalizers: a failed precondition (409/422) re-reads the object and tries again on the fresh list.
 */
import type { JsonPatchOp, KubeClient } from './client.js';
import { isConflict, isInvalid, isNotFound } from './errors.js';
import type { KubeObject, ResourceType } from './resource.js';

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

function nameOf(obj: KubeObject): { namespace: string | undefined; name: string } {
  const name = obj.metadata?.name;
  if (!name) throw new Error('finalizer patch: object has no name');
  return { namespace: obj.metadata?.namespace, name };
}

/** Patches with `ops(current)`; on a failed precondition re-reads and recomputes. Undefined when the object is gone. */
export async function patchWithPrecondition<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  obj: T,
  ops: (current: T) => JsonPatchOp[] | undefined,
  maxRetries = 5,
): Promise<T | undefined> {
  const { namespace, name } = nameOf(obj);
  let current: T = obj;
  for (let attempt = 0; ; attempt++) {
    const patch = ops(current);
    if (!patch) return current;
    try {
      return await client.patch<T>(type, namespace, name, patch, 'json');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (!(isConflict(e) || isInvalid(e)) || attempt >= maxRetries) throw e;
      const fresh = await client.getIfExists<T>(type, namespace, name);
      if (!fresh) return undefined;
      current = fresh;
    }
  }
}

/** Adds `finalizer` unless present. Returns the object as stored (undefined if it no longer exists). */
export function addFinalizer<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T, finalizer: string): Promise<T | undefined> {
  return patchWithPrecondition(client, type, obj, (cur) => {
    if (hasFinalizer(cur, finalizer)) return undefined;
    const list = cur.metadata?.finalizers;
    if (!list || list.length === 0) {
      // An absent list can't be tested for; the resourceVersion stands in as the precondition.
      return [
        { op: 'test', path: '/metadata/resourceVersion', value: cur.metadata?.resourceVersion },
        { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
      ];
    }
    return [
      { op: 'test', path: '/metadata/finalizers', value: list },
      { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
    ];
  });
}

/** Removes `finalizer` if present. Undefined when the object is gone (e.g. deleted once its last finalizer went). */
export function removeFinalizer<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T, finalizer: string): Promise<T | undefined> {
  return patchWithPrecondition(client, type, obj, (cur) => {
    const i = cur.metadata?.finalizers?.indexOf(finalizer) ?? -1;
    if (i < 0) return undefined;
    return [
      { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
      { op: 'remove', path: `/metadata/finalizers/${i}` },
    ];
  });
}
