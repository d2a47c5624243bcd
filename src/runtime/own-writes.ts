/**
 * The watch cache lags behind the operator's own writes: a pass triggered by the finalizer patch may still see the
 * object without the resume token written a moment later, or with a token already cleared. Decisions must start
 * from the newest state this process knows, so every write records "version A became object B"; a cached object
 * at version A is replaced by B (and B's successors). A version nobody here wrote ends the chain, so changes by
 * others are never hidden.
 */
import type { KubeObject } from './resource.js';

const MAX_PER_OBJECT = 8;
/** Objects remembered at most (the oldest chain goes first): a bound, not a cache size anyone tunes. */
const MAX_OBJECTS = 10_000;

export class OwnWrites<T extends KubeObject> {
  readonly #chains = new Map<string, Map<string, T>>();

  /** `before` (the version the write started from) became `after`. */
  record(before: KubeObject, after: T | undefined): void {
    const uid = before.metadata?.uid;
    const from = before.metadata?.resourceVersion;
    if (!uid || !from || !after?.metadata?.resourceVersion || after.metadata.resourceVersion === from) return;
    let chain = this.#chains.get(uid);
    if (!chain) {
      if (this.#chains.size >= MAX_OBJECTS) {
        const oldest = this.#chains.keys().next().value;
        if (oldest !== undefined) this.#chains.delete(oldest);
      }
      this.#chains.set(uid, (chain = new Map()));
    }
    chain.set(from, after);
    while (chain.size > MAX_PER_OBJECT) {
      const oldest = chain.keys().next().value;
      if (oldest === undefined) break;
      chain.delete(oldest);
    }
  }

  /** The newest known version of `obj`: obj itself unless this process wrote past it. */
  resolve(obj: T): T {
    const uid = obj.metadata?.uid;
    const chain = uid ? this.#chains.get(uid) : undefined;
    if (!chain) return obj;
    let current = obj;
    for (let i = 0; i < MAX_PER_OBJECT; i++) {
      const next = chain.get(current.metadata?.resourceVersion ?? '');
      if (!next) break;
      current = next;
    }
    if (current === obj && [...chain.values()].some((v) => v.metadata?.resourceVersion === obj.metadata?.resourceVersion)) {
      // The cache caught up with the last write made here: the chain has served its purpose.
      this.#chains.delete(uid ?? '');
    }
    return current;
  }

  forget(uid: string | undefined): void {
    if (uid) this.#chains.delete(uid);
  }
}
