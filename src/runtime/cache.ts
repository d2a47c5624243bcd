/**
 * The keyed store behind an informer: objects by `namespace/name`, plus named secondary indexes so mapping
 * functions can answer "which bindings reference this HSM?" from memory instead of listing the API.
 */
import { objectKey, type KubeObject } from './resource.js';

export type IndexFunc<T> = (obj: T) => string[];

/** Read-only view handed to reconcilers and mapping functions. */
export interface CacheReader<T extends KubeObject = KubeObject> {
  get(key: string): T | undefined;
  list(namespace?: string): T[];
  keys(): string[];
  byIndex(index: string, value: string): T[];
  readonly size: number;
}

export class Store<T extends KubeObject = KubeObject> implements CacheReader<T> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  // index name -> indexed value -> keys
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  list(namespace?: string): T[] {
    const all = [...this.items.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Adds an index; existing objects are indexed at once. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`index ${name} exists`);
    this.indexers.set(name, fn);
    this.indexes.set(name, new Map());
    for (const [key, obj] of this.items) this.indexOne(name, fn, key, obj);
  }

  byIndex(index: string, value: string): T[] {
    const idx = this.indexes.get(index);
    if (!idx) throw new Error(`no index ${index}`);
    return [...(idx.get(value) ?? [])].map((k) => this.items.get(k)).filter((o): o is T => o !== undefined);
  }

  /** Stores `obj`; returns the object it replaced. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexOne(name, fn, key, obj);
    return old;
  }

  /** Removes the object under `key`; returns it. */
  remove(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  private indexOne(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    const idx = this.indexes.get(name);
    if (!idx) return;
    for (const v of safeIndex(fn, obj)) {
      let set = idx.get(v);
      if (!set) idx.set(v, (set = new Set()));
      set.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const idx = this.indexes.get(name);
      if (!idx) continue;
      for (const v of safeIndex(fn, obj)) {
        const set = idx.get(v);
        set?.delete(key);
        if (set && set.size === 0) idx.delete(v);
      }
    }
  }
}

function safeIndex<T>(fn: IndexFunc<T>, obj: T): string[] {
  try {
    return fn(obj);
  } catch {
    return []; // a malformed object must not break the cache; it is simply not indexed
  }
}

/** How a freshly listed set of objects differs from what the store holds. */
export interface StoreDiff<T> {
  added: T[];
  updated: { old: T; obj: T }[];
  deleted: T[];
}

/**
 * Compares the result of a full list with the objects currently held for the same scope. Objects are equal
 * when their resourceVersion is; `inScope` limits deletions to the listed namespace.
 */
export function diffAgainstStore<T extends KubeObject>(store: Store<T>, listed: T[], inScope: (obj: T) => boolean): StoreDiff<T> {
  const seen = new Set<string>();
  const out: StoreDiff<T> = { added: [], updated: [], deleted: [] };
  for (const obj of listed) {
    const key = objectKey(obj);
    seen.add(key);
    const old = store.get(key);
    if (!old) out.added.push(obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) out.updated.push({ old, obj });
  }
  for (const old of store.list()) if (inScope(old) && !seen.has(objectKey(old))) out.deleted.push(old);
  return out;
}
