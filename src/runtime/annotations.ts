/**
 * One-shot trigger annotations: read once, cleared, honoured at most once. The names are the caller's; what an
 * annotation means (the reconcile mode included) belongs to the API package, not to the runtime.
 */
import { pointerSegment, type KubeClient } from './client.js';
import { patchWithPrecondition } from './finalizers.js';
import type { KubeObject, ResourceType } from './resource.js';

export function getAnnotation(obj: KubeObject, name: string): string | undefined {
  return obj.metadata?.annotations?.[name];
}

export interface TriggerResult<T> {
  /** True when the trigger was present and this call cleared it: act on it now, exactly once. */
  fired: boolean;
  /** The trigger's value (e.g. a timestamp or a reason the user wrote). */
  value?: string;
  /** The object after the annotation was removed (or as it was, when not fired); undefined if it is gone. */
  object: T | undefined;
}

/**
 * Reads a trigger annotation and removes it, guarded by a `test` op on its value: if it changed meanwhile the
 * fresh value is consumed instead. Clearing happens before the caller acts (at most once): a crash after the
 * clear loses the trigger rather than running a destructive action twice.
 */
export async function consumeTrigger<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T, annotation: string): Promise<TriggerResult<T>> {
  let value: string | undefined;
  const path = `/metadata/annotations/${pointerSegment(annotation)}`;
  const object = await patchWithPrecondition(client, type, obj, (cur) => {
    value = getAnnotation(cur, annotation);
    if (value === undefined) return undefined;
    return [
      { op: 'test', path, value },
      { op: 'remove', path },
    ];
  });
  return value === undefined || object === undefined ? { fired: false, object } : { fired: true, value, object };
}
