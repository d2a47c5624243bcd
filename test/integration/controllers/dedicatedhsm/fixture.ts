/**
 * One scenario of the DedicatedHsm controller: its own namespace, its own simulated world (ARM + appliances),
 * and the real operator running only the DedicatedHsm controller against the shared real API server.
 */
import { GROUP, VERSION, type Condition, type DedicatedHsm } from '../../../../src/api/index.js';
import type { Operator } from '../../../../src/operator.js';
import { applianceSecret, dedicatedHsm, type DedicatedHsmOptions, type Manifest } from '../../../../src/sandbox/manifests.js';
import { startWorld, type World, type WorldOptions } from '../../../../src/sandbox/world.js';
import { adminEndpoint, call, type Reply } from '../../../support/http.js';
import { createNamespace } from '../../../support/kube.js';
import { startTestOperator, type TestOperatorOptions } from '../../../support/operator.js';
import { waitFor } from '../../../support/wait.js';

const ep = adminEndpoint();
const hsmPath = (ns: string, name?: string) => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/dedicatedhsms${name ? `/${name}` : ''}`;

function ok(r: Reply, what: string): Reply {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
  return r;
}

export interface EventLike {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { name?: string };
}

export interface Scenario {
  namespace: string;
  world: World;
  readonly operator: Operator;
  /** Creates the appliance Secret and the DedicatedHsm for one of the world's HSMs. */
  deploy(name: string, o?: DedicatedHsmOptions & { password?: string }): Promise<void>;
  get(name: string): Promise<DedicatedHsm>;
  /** Undefined once the object is gone. */
  find(name: string): Promise<DedicatedHsm | undefined>;
  patch(name: string, patch: unknown): Promise<void>;
  remove(name: string): Promise<void>;
  setPassword(secret: string, password: string): Promise<void>;
  /** Waits for a condition to match; returns the object then. */
  waitFor(name: string, type: string, match: Partial<Pick<Condition, 'status' | 'reason'>>, timeoutMs?: number): Promise<DedicatedHsm>;
  events(name: string, reason?: string): Promise<EventLike[]>;
  /**
   * The Events of one reason once at least `n` exist: the operator posts a pass's Events after its status write, so
   * a test that has just seen the status may look before they land.
   */
  eventsAtLeast(name: string, reason: string, n: number): Promise<EventLike[]>;
  /** `kubectl get dhsm` as the API server renders it (the CRD's printer columns). */
  table(): Promise<{ columns: string[]; rows: Record<string, unknown>[] }>;
  restartOperator(): Promise<void>;
  stopOperator(): Promise<void>;
  startOperator(): Promise<void>;
  stop(): Promise<void>;
}

export function condition(hsm: DedicatedHsm | undefined, type: string): Condition | undefined {
  return hsm?.status?.conditions?.find((c) => c.type === type);
}

export interface ScenarioOptions {
  prefix: string;
  world?: WorldOptions;
  operator?: Omit<TestOperatorOptions, 'namespace' | 'world'>;
}

export async function startScenario(o: ScenarioOptions): Promise<Scenario> {
  const namespace = await createNamespace(o.prefix);
  const world = await startWorld({ hsms: [{ name: 'hsm1', stampId: 'stamp1' }], ...o.world });
  const start = () =>
    startTestOperator({
      namespace,
      world,
      controllers: ['dedicatedhsm'],
      ...o.operator,
    });
  let operator: Operator | undefined = await start();
  const secretsPath = `/api/v1/namespaces/${namespace}/secrets`;

  const get = async (name: string) => ok(await call(ep, 'GET', hsmPath(namespace, name)), `get ${name}`).body as unknown as DedicatedHsm;
  const s: Scenario = {
    namespace,
    world,
    get operator() {
      if (!operator) throw new Error('operator is stopped');
      return operator;
    },
    async deploy(name, opts = {}) {
      const secret = opts.credentialsSecret ?? `${name}-appliance`;
      const existing = await call(ep, 'GET', `${secretsPath}/${secret}`);
      if (existing.status === 404) ok(await call(ep, 'POST', secretsPath, applianceSecret(secret, opts.password)), `create Secret ${secret}`);
      const { password: _p, ...hsmOpts } = opts;
      const m: Manifest = dedicatedHsm(world, name, hsmOpts);
      ok(await call(ep, 'POST', `${hsmPath(namespace)}?fieldValidation=Strict`, m), `create DedicatedHsm ${name}`);
    },
    get,
    async find(name) {
      const r = await call(ep, 'GET', hsmPath(namespace, name));
      if (r.status === 404) return undefined;
      return ok(r, `get ${name}`).body as unknown as DedicatedHsm;
    },
    async patch(name, patch) {
      ok(await call(ep, 'PATCH', hsmPath(namespace, name), patch, 'application/merge-patch+json'), `patch ${name}`);
    },
    async remove(name) {
      ok(await call(ep, 'DELETE', hsmPath(namespace, name)), `delete ${name}`);
    },
    async setPassword(secret, password) {
      ok(await call(ep, 'PATCH', `${secretsPath}/${secret}`, { stringData: { password } }, 'application/merge-patch+json'), `patch Secret ${secret}`);
    },
    async waitFor(name, type, match, timeoutMs = 30_000) {
      return waitFor(
        `${name} ${type}=${match.status ?? '*'}/${match.reason ?? '*'}`,
        async () => {
          const hsm = await get(name);
          const c = condition(hsm, type);
          if (!c) return undefined;
          if (match.status !== undefined && c.status !== match.status) return undefined;
          if (match.reason !== undefined && c.reason !== match.reason) return undefined;
          return hsm;
        },
        timeoutMs,
      );
    },
    async events(name, reason) {
      const r = await call(ep, 'GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
      return ((r.body.items ?? []) as EventLike[]).filter((e) => e.regarding?.name === name && (reason === undefined || e.reason === reason));
    },
    async eventsAtLeast(name, reason, n) {
      let found: EventLike[] = [];
      await waitFor(`${n} ${reason} Event(s) of ${name}`, async () => (found = await s.events(name, reason)).length >= n, 15_000);
      return found;
    },
    async table() {
      const r = ok(
        await callWithAccept(hsmPath(namespace), 'application/json;as=Table;v=v1;g=meta.k8s.io'),
        'list as Table',
      );
      const body = r.body as { columnDefinitions?: { name: string }[]; rows?: { cells: unknown[] }[] };
      const columns = (body.columnDefinitions ?? []).map((c) => c.name);
      const rows = (body.rows ?? []).map((row) => Object.fromEntries(columns.map((c, i) => [c, row.cells[i]])));
      return { columns, rows };
    },
    async restartOperator() {
      await s.stopOperator();
      await s.startOperator();
    },
    async stopOperator() {
      await operator?.stop(5_000);
      operator = undefined;
    },
    async startOperator() {
      operator = await start();
    },
    async stop() {
      await operator?.stop(5_000);
      await world.stop();
    },
  };
  return s;
}

/** GET with a custom Accept header (server-side printing). */
async function callWithAccept(path: string, accept: string): Promise<Reply> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(`${ep.server}${path}`, { method: 'GET', ca: ep.ca, headers: { Authorization: `Bearer ${ep.token}`, Accept: accept } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
