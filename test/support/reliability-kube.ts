/**
 * The Kubernetes side of a reliability scenario: create, read, patch and delete the operator's objects and their
 * Secrets in one namespace, on the shared control plane or a private one (any Endpoint), plus bounded waits on
 * conditions. Objects go over the wire as plain JSON (test/support/http.ts).
 */
import { GROUP, VERSION, type Condition } from '../../src/api/index.js';
import type { Manifest } from '../../src/sandbox/manifests.js';
import { call, type Endpoint, type Reply } from './http.js';
import { waitFor } from './wait.js';

export type Kind = 'DedicatedHsm' | 'NtlsClientBinding' | 'HsmHaGroup' | 'Secret';

export const PLURAL: Record<Kind, string> = { DedicatedHsm: 'dedicatedhsms', NtlsClientBinding: 'ntlsclientbindings', HsmHaGroup: 'hsmhagroups', Secret: 'secrets' };

/** A custom object as read back (status included). */
export interface KubeObj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number; annotations?: Record<string, string>; finalizers?: string[]; deletionTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: { conditions?: Condition[]; observedGeneration?: number; [k: string]: unknown };
}

export interface EventObj {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { kind?: string; name?: string };
  series?: { count: number };
  deprecatedCount?: number;
}

function ok(r: Reply, what: string): Reply {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 2000)}`);
  return r;
}

export function condition(o: KubeObj | undefined, type: string): Condition | undefined {
  return o?.status?.conditions?.find((c) => c.type === type);
}

export class KubeOps {
  constructor(
    readonly ep: Endpoint,
    readonly namespace: string,
  ) {}

  path(kind: Kind, name?: string): string {
    const base = kind === 'Secret' ? `/api/v1/namespaces/${this.namespace}/secrets` : `/apis/${GROUP}/${VERSION}/namespaces/${this.namespace}/${PLURAL[kind]}`;
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  /** POST; the raw reply (admission refusals are answers, not exceptions). */
  async create(m: Manifest): Promise<Reply> {
    return call(this.ep, 'POST', `${this.path(m.kind as Kind)}?fieldValidation=Strict`, m);
  }

  async apply(m: Manifest): Promise<KubeObj> {
    return ok(await this.create(m), `create ${m.kind} ${m.metadata.name}`).body as unknown as KubeObj;
  }

  async get(kind: Kind, name: string): Promise<KubeObj> {
    return ok(await call(this.ep, 'GET', this.path(kind, name)), `get ${kind} ${name}`).body as unknown as KubeObj;
  }

  async find(kind: Kind, name: string): Promise<KubeObj | undefined> {
    const r = await call(this.ep, 'GET', this.path(kind, name));
    if (r.status === 404) return undefined;
    return ok(r, `get ${kind} ${name}`).body as unknown as KubeObj;
  }

  async list(kind: Kind): Promise<KubeObj[]> {
    return (ok(await call(this.ep, 'GET', this.path(kind)), `list ${kind}`).body.items ?? []) as KubeObj[];
  }

  async patch(kind: Kind, name: string, patch: unknown): Promise<KubeObj> {
    return ok(await call(this.ep, 'PATCH', this.path(kind, name), patch, 'application/merge-patch+json'), `patch ${kind} ${name}`).body as unknown as KubeObj;
  }

  /** Merge-patch of the status subresource (another writer racing the operator). */
  async patchStatus(kind: Kind, name: string, patch: unknown): Promise<Reply> {
    return call(this.ep, 'PATCH', `${this.path(kind, name)}/status`, patch, 'application/merge-patch+json');
  }

  async remove(kind: Kind, name: string): Promise<void> {
    const r = await call(this.ep, 'DELETE', this.path(kind, name));
    if (r.status !== 404) ok(r, `delete ${kind} ${name}`);
  }

  /** A credential Secret, opted in as a device credential for the world's objects (dedicatedhsm.io/credential-for). */
  async secret(name: string, data: Record<string, string>, type = 'Opaque'): Promise<KubeObj> {
    return this.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, annotations: { 'dedicatedhsm.io/credential-for': 'DedicatedHsm/*, HsmHaGroup/*' } }, type, stringData: data });
  }

  async setSecret(name: string, data: Record<string, string>): Promise<KubeObj> {
    return this.patch('Secret', name, { stringData: data });
  }

  async secretData(name: string): Promise<Record<string, string>> {
    const s = (await this.get('Secret', name)) as unknown as { data?: Record<string, string> };
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  async events(): Promise<EventObj[]> {
    return (ok(await call(this.ep, 'GET', `/apis/events.k8s.io/v1/namespaces/${this.namespace}/events`), 'list events').body.items ?? []) as EventObj[];
  }

  /** Waits until `check` holds for the object; returns it then. */
  async waitObj(kind: Kind, name: string, what: string, check: (o: KubeObj) => boolean, timeoutMs = 30_000): Promise<KubeObj> {
    let last: KubeObj | undefined;
    return waitFor(
      `${kind} ${name}: ${what}`,
      async () => {
        const o = (last = await this.find(kind, name));
        return o !== undefined && check(o) && o;
      },
      timeoutMs,
      150,
    ).catch((e: unknown) => {
      const conds = (last?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message ?? ''}`);
      throw new Error(`${(e as Error).message}\n${last ? conds.join('\n') : 'object not found'}`);
    });
  }

  async waitCondition(kind: Kind, name: string, type: string, match: { status?: string; reason?: string; message?: RegExp }, timeoutMs = 30_000): Promise<KubeObj> {
    return this.waitObj(
      kind,
      name,
      `${type}=${match.status ?? '*'}/${match.reason ?? '*'}`,
      (o) => {
        const c = condition(o, type);
        return !!c && (match.status === undefined || c.status === match.status) && (match.reason === undefined || c.reason === match.reason) && (match.message === undefined || match.message.test(c.message ?? ''));
      },
      timeoutMs,
    );
  }

  /** Ready=True for the current generation. */
  async waitReady(kind: Kind, name: string, timeoutMs = 30_000): Promise<KubeObj> {
    return this.waitObj(kind, name, 'Ready for its generation', (o) => isReady(o), timeoutMs);
  }

  /** Every object of the kinds listed Ready for its generation; returns the names still not ready on timeout. */
  async waitAllReady(names: { kind: Kind; name: string }[], timeoutMs: number): Promise<void> {
    let pending: { kind: Kind; name: string; why: string }[] = names.map((n) => ({ ...n, why: 'not read yet' }));
    await waitFor(
      'all objects Ready',
      async () => {
        const lists = new Map<Kind, KubeObj[]>();
        for (const k of new Set(pending.map((n) => n.kind))) lists.set(k, await this.list(k));
        pending = pending
          .map((n) => ({ n, o: lists.get(n.kind)?.find((o) => o.metadata.name === n.name) }))
          .filter(({ o }) => !isReady(o))
          .map(({ n, o }) => ({ ...n, why: o ? describeReady(o) : 'missing' }));
        return pending.length === 0;
      },
      timeoutMs,
      300,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; not Ready:\n${pending.map((p) => `  ${p.kind}/${p.name}: ${p.why}`).join('\n')}`);
    });
  }
}

/** Ready's status, reason and message, and whether status is behind the generation: for failure messages. */
export function describeReady(o: KubeObj): string {
  const c = condition(o, 'Ready');
  const behind = o.status?.observedGeneration !== o.metadata.generation ? ` (observedGeneration ${String(o.status?.observedGeneration)} of ${String(o.metadata.generation)})` : '';
  return c ? `${c.status}/${c.reason}: ${c.message ?? ''}${behind}` : `no Ready condition${behind}`;
}

export function isReady(o: KubeObj | undefined): boolean {
  const c = condition(o, 'Ready');
  return !!o && c?.status === 'True' && o.status?.observedGeneration === o.metadata.generation;
}
