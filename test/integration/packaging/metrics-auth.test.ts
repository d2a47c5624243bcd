/**
 * Secure metrics against the real kube-apiserver, with the chart's own RBAC: the operator (a Manager with
 * `metricsSecure`, authenticated as the chart's ServiceAccount bound to `<fullname>-metrics-auth`) serves
 * /metrics over HTTPS and answers 401 without a valid token, 403 to a token without `<fullname>-metrics-reader`,
 * 200 to the Prometheus ServiceAccount the chart binds to it; and without the metrics-auth binding it cannot
 * check at all (500).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../../src/runtime/client.js';
import { Manager } from '../../../src/runtime/manager.js';
import { RuntimeMetrics } from '../../../src/runtime/metrics.js';
import { silentLogger } from '../../../src/runtime/log.js';
import type { KubeObject, ResourceType } from '../../../src/runtime/resource.js';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { RBAC_SETTLE_MS, serviceAccountToken, tokenConfig } from './access.js';
import { waitFor } from '../../support/wait.js';
import { find, helmTemplate, type Manifest } from './render.js';

const rbac = (plural: string): ResourceType => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, namespaced: false });
const serviceAccounts: ResourceType = { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount' };

/** GET over HTTPS, accepting the operator's self-signed certificate. */
function scrape(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, agent: false, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('secure metrics on the real API server', () => {
  const admin = KubeClient.fromKubeConfig(adminConfig());
  const cleanup: (() => Promise<unknown>)[] = [];
  const managers: Manager[] = [];
  let ns: string;
  let fullname: string;
  let operator: Manager;
  let prometheusToken: string;
  let intruderToken: string;

  async function create(type: ResourceType, obj: KubeObject): Promise<void> {
    await admin.create(type, obj);
    if (!type.namespaced) cleanup.push(() => admin.delete(type, undefined, obj.metadata!.name!));
  }

  /** Asks the API server (as admin) whether `user` may do something: RBAC reaches the authorizer asynchronously. */
  async function may(user: string, attributes: Record<string, unknown>): Promise<boolean> {
    const r = await admin.request<{ status?: { allowed?: boolean } }>({
      verb: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups: ['system:serviceaccounts', 'system:authenticated'], ...attributes } },
    });
    return r.status?.allowed === true;
  }

  async function startOperator(serviceAccount: string): Promise<Manager> {
    const token = await serviceAccountToken(admin, ns, serviceAccount);
    // cacheTtlMs 0: every scrape asks the API server, so each answer below is the server's.
    const m = new Manager({ kubeConfig: tokenConfig(token), metricsBindAddress: '127.0.0.1:0', healthProbeBindAddress: '0', metricsSecure: { cacheTtlMs: 0 }, metrics: new RuntimeMetrics(), log: silentLogger });
    managers.push(m);
    await m.start();
    return m;
  }

  beforeAll(async () => {
    ns = await createNamespace('pkg-metrics');
    const release = `m${randomBytes(3).toString('hex')}`;
    const rendered = await helmTemplate({
      namespace: ns,
      release,
      set: ['metrics.readerSubjects[0].kind=ServiceAccount', 'metrics.readerSubjects[0].name=prometheus', `metrics.readerSubjects[0].namespace=${ns}`],
    });
    fullname = find(rendered, 'Deployment').metadata.name;
    const sa = find(rendered, 'ServiceAccount');
    expect(sa.metadata.name).toBe(fullname);
    await create(serviceAccounts, sa as KubeObject);
    for (const name of ['prometheus', 'intruder', 'unbound-operator']) await create(serviceAccounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } });
    const objects: Manifest[] = [
      find(rendered, 'ClusterRole', `${fullname}-metrics-auth`),
      find(rendered, 'ClusterRoleBinding', `${fullname}-metrics-auth`),
      find(rendered, 'ClusterRole', `${fullname}-metrics-reader`),
      find(rendered, 'ClusterRoleBinding', `${fullname}-metrics-reader`),
    ];
    for (const o of objects) await create(rbac(o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'), o as KubeObject);
    const sa_ = (n: string) => `system:serviceaccount:${ns}:${n}`;
    await waitFor('the operator may review tokens', () => may(sa_(fullname), { resourceAttributes: { group: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' } }), RBAC_SETTLE_MS);
    await waitFor('the operator may review access', () => may(sa_(fullname), { resourceAttributes: { group: 'authorization.k8s.io', resource: 'subjectaccessreviews', verb: 'create' } }), RBAC_SETTLE_MS);
    await waitFor('prometheus may read /metrics', () => may(sa_('prometheus'), { nonResourceAttributes: { path: '/metrics', verb: 'get' } }), RBAC_SETTLE_MS);
    prometheusToken = await serviceAccountToken(admin, ns, 'prometheus');
    intruderToken = await serviceAccountToken(admin, ns, 'intruder');
    operator = await startOperator(fullname);
  });

  afterAll(async () => {
    for (const m of managers) await m.stop(1_000).catch(() => undefined);
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('serves HTTPS only', async () => {
    expect(operator.metricsUrl).toMatch(/^https:\/\//);
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest(`${operator.metricsUrl!.replace('https:', 'http:')}/metrics`, { headers: { Authorization: `Bearer ${prometheusToken}` } }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    expect(plain).not.toBe('status 200');
  });

  it('answers 401 to a scrape without a token, or with one the API server does not accept', async () => {
    expect((await scrape(`${operator.metricsUrl}/metrics`)).status).toBe(401);
    expect((await scrape(`${operator.metricsUrl}/metrics`, 'not-a-real-token')).status).toBe(401);
    // A token of another cluster's issuer is not accepted either: a forged ServiceAccount token.
    const [h, , s] = prometheusToken.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${ns}:prometheus`, iss: 'https://kubernetes.default.svc' })).toString('base64url')}.${s}`;
    expect((await scrape(`${operator.metricsUrl}/metrics`, forged)).status).toBe(401);
  });

  it('answers 403 to an authenticated caller without the metrics-reader role', async () => {
    const intruder = await scrape(`${operator.metricsUrl}/metrics`, intruderToken);
    expect(intruder.status).toBe(403);
    expect(intruder.body).toContain(`system:serviceaccount:${ns}:intruder`);
    expect(intruder.body).not.toContain('# HELP');
    // A token user of the control plane, with no RBAC at all.
    expect((await scrape(`${operator.metricsUrl}/metrics`, inject('controlPlane').userToken)).status).toBe(403);
  });

  it('answers 200 with the metrics to the ServiceAccount the chart bound to metrics-reader, and only for /metrics', async () => {
    const ok = await scrape(`${operator.metricsUrl}/metrics`, prometheusToken);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^# (HELP|TYPE) /m);
    // The role names /metrics, nothing else the server might serve.
    expect((await scrape(`${operator.metricsUrl}/debug/pprof`, prometheusToken)).status).toBe(403);
  });

  it('without the chart\'s metrics-auth binding the operator cannot check a scrape, and says so with 500', async () => {
    const unbound = await startOperator('unbound-operator');
    const r = await scrape(`${unbound.metricsUrl}/metrics`, prometheusToken);
    expect(r.status).toBe(500);
    expect(r.body).not.toContain('# HELP');
    // The same token, through the operator with the binding, works.
    expect((await scrape(`${operator.metricsUrl}/metrics`, prometheusToken)).status).toBe(200);
  });
});
