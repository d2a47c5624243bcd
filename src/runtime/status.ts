/**
 * Status writes through the `/status` subresource, only when the status really changed, with conflict retries.
 *
 * `update(type, obj, mutate)` computes the desired status from the object's current one, compares it with the
 * current status (ignoring `lastTransitionTime` churn) and writes only on a difference: a replace carrying the
 * resourceVersion (or a merge patch with the resourceVersion as precondition). On 409 Conflict it re-reads the
 * object and re-applies `mutate` to the fresh status. Every write is recorded in the process's one `OwnWrites`
 * (shared with the finalizer and trigger patches), so a reconcile that runs again before the cache has caught up
 * with that write starts from it and does not mistake it for a change.
 */
import type { KubeClient } from './client.js';
import { isConflict } from './errors.js';
import { deepEqual, mergePatchBetween } from './equality.js';
import { OwnWrites } from './own-writes.js';
import type { KubeObject, ResourceType } from './resource.js';

export type StatusOf<T> = T extends { status?: infer S } ? (S extends object ? S : Record<string, unknown>) : Record<string, unknown>;

/** Returns the new status, or mutates the one given (a deep copy) and returns nothing. */
export type StatusMutator<T extends KubeObject> = (status: StatusOf<T>, obj: T) => StatusOf<T> | void;

export interface StatusUpdateOptions {
  /** `replace` (PUT with resourceVersion, default) or `merge` (merge patch with resourceVersion precondition). */
  strategy?: 'replace' | 'merge';
  /** Set `status.observedGeneration` to `metadata.generation` (default true). */
  observedGeneration?: boolean;
  /** Conflict retries (default 5). */
  maxRetries?: number;
}

export interface StatusUpdateResult<T> {
  /** The object as it is now (the server's answer after a write, else the input or the re-read object). */
  object: T;
  written: boolean;
}

const ignoreChurn = new Set(['lastTransitionTime']);

/** True when two statuses differ in nothing but `lastTransitionTime`. */
export function statusEqual(a: unknown, b: unknown): boolean {
  return deepEqual(a ?? {}, b ?? {}, ignoreChurn);
}

export class StatusWriter {
  constructor(
    private readonly client: KubeClient,
    /** This process's writes (the Manager's registry); a writer of its own when none is given. */
    readonly own: OwnWrites<KubeObject> = new OwnWrites(),
  ) {}

  async update<T extends KubeObject>(type: ResourceType, obj: T, mutate: StatusMutator<T>, options: StatusUpdateOptions = {}): Promise<StatusUpdateResult<T>> {
    const maxRetries = options.maxRetries ?? 5;
    const name = obj.metadata?.name;
    if (!name) throw new Error('status update: object has no name');
    const namespace = obj.metadata?.namespace;
    let current = this.own.resolve(obj) as T;
    for (let attempt = 0; ; attempt++) {
      const before = (current.status ?? {}) as StatusOf<T>;
      const draft = structuredClone(before);
      const desired = (mutate(draft, current) ?? draft) as Record<string, unknown>;
      if (options.observedGeneration !== false && current.metadata?.generation !== undefined) desired.observedGeneration = current.metadata.generation;
      if (statusEqual(before, desired)) return { object: current, written: false };
      try {
        const written =
          options.strategy === 'merge'
            ? await this.client.patch<T>(
                type,
                namespace,
                name,
                { metadata: { resourceVersion: current.metadata?.resourceVersion }, status: mergePatchBetween(before, desired) },
                'merge',
                { subresource: 'status' },
              )
            : await this.client.replace<T>(type, { ...current, status: desired }, 'status');
        this.own.record(current, written);
        return { object: written, written: true };
      } catch (e) {
        if (!isConflict(e) || attempt >= maxRetries) throw e;
        current = await this.client.get<T>(type, namespace, name);
      }
    }
  }

  /** Forgets remembered writes of a deleted object. */
  forget(uid: string): void {
    this.own.forget(uid);
  }
}
