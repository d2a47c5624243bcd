/**
 * An in-memory stand-in for the API server's REST and watch protocol, for unit tests of the runtime's
 * mechanics (the integration tests use the real kube-apiserver). It keeps objects by collection path,
 * bumps a global resourceVersion, rejects stale PUTs with 409, applies merge and JSON patches (test op
 * included, 422 on failure), serves lists and watch streams, and records every request.
 */
import type { ApiRequest, ApiResponse, StreamRequest, Transport } from '../../../src/runtime/index.js';

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number; [k: string]: unknown }; [k: string]: unknown };

interface Watcher {
  collection: string;
  req: StreamRequest;
  stalled: boolean;
  close: (err?: Error) => void;
}

const status = (code: number, reason: string, message: string) => ({ status: code, body: JSON.stringify({ kind: 'Status', code, reason, message }) });

function applyMerge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMerge(out[k], v);
  }
  return out;
}

function pointer(path: string): string[] {
  return path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyJsonPatch(doc: Obj, ops: { op: string; path: string; value?: unknown }[]): Obj | 'test-failed' {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop() as string;
    let parent: unknown = out;
    for (const p of parts) parent = (parent as Record<string, unknown>)?.[p];
    if (op.op === 'test') {
      const cur = Array.isArray(parent) ? parent[Number(last)] : (parent as Record<string, unknown> | undefined)?.[last];
      if (JSON.stringify(cur) !== JSON.stringify(op.value)) return 'test-failed';
    } else if (op.op === 'add' || op.op === 'replace') {
      if (Array.isArray(parent)) {
        if (last === '-') parent.push(op.value);
        else parent.splice(Number(last), op.op === 'add' ? 0 : 1, op.value);
      } else (parent as Record<string, unknown>)[last] = op.value;
    } else if (op.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete (parent as Record<string, unknown>)[last];
    }
  }
  return out as Obj;
}

export class FakeApi implements Transport {
  rv = 100;
  /** collection path -> name -> object */
  readonly collections = new Map<string, Map<string, Obj>>();
  readonly requests: { verb: string; path: string; body?: unknown }[] = [];
  readonly watchers = new Set<Watcher>();
  /** The oldest resourceVersion a watch may start from (etcd compaction). */
  compactedAt = 0;
  /** When set, every request fails with this error (API server down). */
  down: Error | undefined;
  private uid = 0;

  private split(path: string): { collection: string; name?: string; sub?: string } {
    // /api/v1/namespaces/ns/configmaps[/name[/status]]  or  /apis/g/v/namespaces/ns/plural[/name[/sub]]
    const parts = path.split('/').filter(Boolean);
    const base = parts[0] === 'api' ? 2 : 3;
    const nsd = parts[base] === 'namespaces' && parts.length > base + 2;
    const collLen = nsd ? base + 3 : base + 1;
    return { collection: '/' + parts.slice(0, collLen).join('/'), name: parts[collLen], sub: parts[collLen + 1] };
  }

  private coll(c: string): Map<string, Obj> {
    let m = this.collections.get(c);
    if (!m) this.collections.set(c, (m = new Map()));
    return m;
  }

  /** Objects of every collection whose path ends with `/plural` (all namespaces). */
  private matching(collection: string): Obj[] {
    const out: Obj[] = [];
    const plural = collection.split('/').at(-1) as string;
    const nsMatch = /\/namespaces\/([^/]+)\//.exec(collection + '/')?.[1];
    for (const [c, m] of this.collections) {
      if (c.split('/').at(-1) !== plural) continue;
      const cNs = /\/namespaces\/([^/]+)\//.exec(c + '/')?.[1];
      if (nsMatch && cNs !== nsMatch) continue;
      out.push(...m.values());
    }
    return out;
  }

  private readonly history: { rv: number; collection: string; type: string; obj: Obj }[] = [];

  private deliver(w: Watcher, collection: string, type: string, obj: Obj): void {
    const wPlural = w.collection.split('/').at(-1);
    const wNs = /\/namespaces\/([^/]+)\//.exec(w.collection + '/')?.[1];
    if (wPlural !== collection.split('/').at(-1)) return;
    if (wNs && obj.metadata.namespace !== wNs) return;
    if (!w.stalled) w.req.onLine(JSON.stringify({ type, object: obj }));
  }

  private notify(collection: string, type: string, obj: Obj): void {
    this.history.push({ rv: Number(obj.metadata.resourceVersion), collection, type, obj });
    for (const w of this.watchers) this.deliver(w, collection, type, obj);
  }

  /** Writes an object as another client would (not recorded as a request of the code under test). */
  put(collection: string, obj: Obj): Obj {
    const m = this.coll(collection);
    const existed = m.has(obj.metadata.name);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.uid ??= m.get(obj.metadata.name)?.metadata.uid ?? `uid-${++this.uid}`;
    m.set(obj.metadata.name, stored);
    this.notify(collection, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  remove(collection: string, name: string): void {
    const m = this.coll(collection);
    const old = m.get(name);
    if (!old) return;
    m.delete(name);
    const gone = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.notify(collection, 'DELETED', gone);
  }

  /** Sends a raw watch line to every open watch (BOOKMARK, ERROR ...). */
  broadcast(event: unknown): void {
    for (const w of this.watchers) if (!w.stalled) w.req.onLine(JSON.stringify(event));
  }

  /** Open watches stop receiving anything, without being closed (a stalled load balancer). */
  stallWatches(): void {
    for (const w of this.watchers) w.stalled = true;
  }

  /** Ends every open watch with an error (connection reset). */
  breakWatches(): void {
    for (const w of [...this.watchers]) w.close(new Error('connection reset'));
  }

  async request(req: ApiRequest): Promise<ApiResponse> {
    this.requests.push({ verb: req.verb, path: req.path, body: req.body });
    if (this.down) throw this.down;
    const { collection, name, sub } = this.split(req.path);
    const m = this.coll(collection);
    const body = typeof req.body === 'string' ? (JSON.parse(req.body) as unknown) : req.body;
    if (req.verb === 'GET' && !name) {
      const items = this.matching(collection);
      return { status: 200, body: JSON.stringify({ kind: 'List', metadata: { resourceVersion: String(this.rv) }, items }) };
    }
    if (req.verb === 'POST') {
      const o = body as Obj;
      if (m.has(o.metadata.name)) return status(409, 'AlreadyExists', `${o.metadata.name} already exists`);
      return { status: 201, body: JSON.stringify(this.put(collection, o)) };
    }
    const cur = name ? m.get(name) : undefined;
    if (!cur) return status(404, 'NotFound', `${name} not found`);
    if (req.verb === 'GET') return { status: 200, body: JSON.stringify(cur) };
    if (req.verb === 'DELETE') {
      this.remove(collection, name as string);
      return { status: 200, body: JSON.stringify(cur) };
    }
    if (req.verb === 'PUT') {
      const o = body as Obj;
      if (o.metadata.resourceVersion && o.metadata.resourceVersion !== cur.metadata.resourceVersion) return status(409, 'Conflict', 'the object has been modified');
      const next = sub === 'status' ? { ...cur, status: o.status } : { ...o, status: cur.status };
      return { status: 200, body: JSON.stringify(this.put(collection, next as Obj)) };
    }
    if (req.verb === 'PATCH') {
      let next: Obj;
      if (req.contentType === 'application/json-patch+json') {
        const r = applyJsonPatch(cur, body as { op: string; path: string }[]);
        if (r === 'test-failed') return status(422, 'Invalid', 'test operation failed');
        next = r;
      } else {
        const p = body as Obj;
        if (p.metadata?.resourceVersion && p.metadata.resourceVersion !== cur.metadata.resourceVersion) return status(409, 'Conflict', 'the object has been modified');
        next = applyMerge(cur, p) as Obj;
      }
      return { status: 200, body: JSON.stringify(this.put(collection, next)) };
    }
    return status(405, 'MethodNotAllowed', req.verb);
  }

  stream(req: StreamRequest): Promise<void> {
    this.requests.push({ verb: 'WATCH', path: req.path });
    if (this.down) return Promise.reject(this.down);
    const { collection } = this.split(req.path);
    const from = Number(req.query?.resourceVersion ?? 0);
    if (from && from < this.compactedAt) {
      // Real servers answer 200 and then send an ERROR event with code 410.
      return new Promise<void>((_resolve, reject) => {
        req.signal.addEventListener('abort', () => reject(req.signal.reason instanceof Error ? req.signal.reason : new Error('aborted')), { once: true });
        req.onOpen?.();
        req.onLine(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }));
      });
    }
    return new Promise<void>((resolve, reject) => {
      const w: Watcher = {
        collection,
        req,
        stalled: false,
        close: (err) => {
          this.watchers.delete(w);
          if (err) reject(err);
          else resolve();
        },
      };
      this.watchers.add(w);
      req.signal.addEventListener('abort', () => w.close(req.signal.reason instanceof Error ? req.signal.reason : new Error('aborted')), { once: true });
      req.onOpen?.();
      // Replay what happened since the requested resourceVersion, as the server's watch cache does.
      if (from) for (const h of this.history) if (h.rv > from) this.deliver(w, h.collection, h.type, h.obj);
    });
  }

  count(verb: string, pathIncludes = ''): number {
    return this.requests.filter((r) => r.verb === verb && r.path.includes(pathIncludes)).length;
  }
}
