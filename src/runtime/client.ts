/**
 * The runtime's Kubernetes client: typed-enough CRUD, patch, list and watch on any resource type, every request
 * counted in `rest_client_requests_total{code,method,host}` as client-go counts them (a watch is a GET). Small on purpose: caches, status writers, finalizer and
 * event helpers, and leader election all go through it, so the request count is the true count of API calls.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { apiErrorFrom, ApiError } from './errors.js';
import type { RuntimeMetrics } from './metrics.js';
import { apiVersionOf, collectionPath, objectPath, type KubeObject, type ResourceType } from './resource.js';
import { KubeConfigTransport, type ApiRequest, type KubeConfigTransportOptions, type Query, type Transport, type Verb } from './transport.js';

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T = KubeObject> {
  type: WatchEventType;
  object: T;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Server-side watch duration; the server ends the stream (cleanly) after it. */
  timeoutSeconds?: number;
  signal: AbortSignal;
  onOpen?: () => void;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const patchContentType: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

/** Escapes one JSON-pointer segment (`dedicatedhsm.io/reconcile` -> `dedicatedhsm.io~1reconcile`). */

export interface KubeClientOptions {
  metrics?: RuntimeMetrics;
}

export class KubeClient {
  private readonly metrics: RuntimeMetrics | undefined;

  constructor(
    readonly transport: Transport,
    options: KubeClientOptions = {},
  ) {
    this.metrics = options.metrics;
  }

  static fromKubeConfig(kc: KubeConfig, options: KubeClientOptions & KubeConfigTransportOptions = {}): KubeClient {
    return new KubeClient(new KubeConfigTransport(kc, options), options);
  }

  /** The same transport, counted in another metrics registry (one per Manager). */
  withMetrics(metrics: RuntimeMetrics): KubeClient {
    return new KubeClient(this.transport, { metrics });
  }

  private count(method: string, code: number | string): void {
    this.metrics?.restRequests.inc({ code: String(code), method, host: this.transport.host ?? '' });
  }

  /** Sends a request and parses the JSON answer; non-2xx answers throw ApiError. */
  async request<T>(req: ApiRequest): Promise<T> {
    let res;
    try {
      res = await this.transport.request(req);
    } catch (e) {
      this.count(req.verb, '<error>');
      throw e;
    }
    this.count(req.verb, res.status);
    if (res.status < 200 || res.status > 299) throw apiErrorFrom(res.status, res.body, req.verb, req.path);
    return (res.body ? JSON.parse(res.body) : {}) as T;
  }

  private call<T>(verb: Verb, path: string, body?: unknown, query?: Query, contentType?: string): Promise<T> {
    return this.request<T>({ verb, path, body, query, contentType });
  }

  get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.call<T>('GET', objectPath(type, namespace, name)).then((o) => withTypeMeta(type, o));
  }

  /** GET that answers undefined for 404. */
  async getIfExists<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(type, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(type: ResourceType, options: ListOptions = {}): Promise<KubeList<T>> {
    const { namespace, ...q } = options;
    const list = await this.call<KubeList<T>>('GET', collectionPath(type, namespace), undefined, { ...q });
    list.items = (list.items ?? []).map((o) => withTypeMeta(type, o));
    list.metadata ??= {};
    return list;
  }

  create<T extends KubeObject>(type: ResourceType, obj: T, query?: Query): Promise<T> {
    return this.call<T>('POST', collectionPath(type, obj.metadata?.namespace), withTypeMeta(type, obj), query);
  }

  /** PUT; carries the object's resourceVersion, so a stale write fails with 409 Conflict. */
  replace<T extends KubeObject>(type: ResourceType, obj: T, subresource?: string): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error('replace: object has no name');
    return this.call<T>('PUT', objectPath(type, obj.metadata?.namespace, name, subresource), withTypeMeta(type, obj));
  }

  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    patchType: PatchType,
    options: { subresource?: string; fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    const query: Query = { fieldManager: options.fieldManager, force: options.force };
    return this.call<T>('PATCH', objectPath(type, namespace, name, options.subresource), patch, query, patchContentType[patchType]);
  }

  async delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string } = {},
  ): Promise<void> {
    await this.call<unknown>('DELETE', objectPath(type, namespace, name), { apiVersion: 'v1', kind: 'DeleteOptions', ...options });
  }

  /**
   * One watch request: calls `onEvent` for each event until the server ends the stream (resolves), the stream
   * fails or `signal` aborts (rejects). Non-200 answers reject with ApiError (410 Gone included).
   */
  async watch<T extends KubeObject>(type: ResourceType, options: WatchOptions, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
    const { namespace, signal, onOpen, ...q } = options;
    const path = collectionPath(type, namespace);
    let opened = false;
    try {
      await this.transport.stream({
        path,
        query: { watch: true, ...q },
        signal,
        onOpen: () => {
          opened = true;
          this.count('GET', 200);
          onOpen?.();
        },
        onLine: (line) => {
          let e: WatchEvent<T>;
          try {
            e = JSON.parse(line) as WatchEvent<T>;
          } catch {
            return; // a torn line of a broken connection; the stream end will say what happened
          }
          if (e.type !== 'ERROR' && e.type !== 'BOOKMARK') e.object = withTypeMeta(type, e.object);
          onEvent(e);
        },
      });
    } catch (e) {
      if (!opened) this.count('GET', e instanceof ApiError ? e.code : '<error>');
      throw e;
    }
  }
}

/** List items and some answers lack apiVersion/kind; fill them from the resource type. */
export function withTypeMeta<T extends KubeObject>(type: ResourceType, obj: T): T {
  if (!obj || typeof obj !== 'object' || (obj.apiVersion && (obj.kind || !type.kind))) return obj;
  return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(type), ...(obj.kind || !type.kind ? {} : { kind: type.kind }) };
}
