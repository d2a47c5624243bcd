/**
 * The operator runs as the chart's identity: the `hsm-operator` token user bound (in one namespace) to exactly the
 * ClusterRole, leader-election Role and Secret-watch Role that `helm template` renders for watchNamespaces=[that one]. The DedicatedHsm happy path converges with those
 * rules, leader election included; without the status rule the same path never reports anything, which proves the
 * chart's rules are what the operator really needs (the rule-by-rule probes are in rbac.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { GROUP, VERSION, type DedicatedHsm } from '../../../src/api/index.js';
import type { Operator } from '../../../src/operator.js';
import { applianceSecret, dedicatedHsm, type Manifest as WorldManifest } from '../../../src/sandbox/manifests.js';
import { startWorld, type World } from '../../../src/sandbox/world.js';
import { adminEndpoint, call } from '../../support/http.js';
import { createNamespace } from '../../support/kube.js';
import { startTestOperator } from '../../support/operator.js';
import { waitFor } from '../../support/wait.js';
import { find, helmTemplate } from './render.js';

const ep = adminEndpoint();
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

async function must(method: string, path: string, body?: unknown): Promise<void> {
  const r = await call(ep, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text}`);
}

/** Binds the chart's rules (optionally without some) to the `hsm-operator` user in `namespace`. */
async function bindChartRules(namespace: string, drop: (r: Rule) => boolean = () => false): Promise<void> {
  const rendered = await helmTemplate({ set: [`watchNamespaces={${namespace}}`] });
  const clusterRole = find(rendered, 'ClusterRole', 'hsm-operator-manager') as unknown as { rules: Rule[] };
  const clusterScoped = find(rendered, 'ClusterRole', 'hsm-operator-cluster-scoped') as unknown as { rules: Rule[] };
  const leaseRole = find(rendered, 'Role', 'hsm-operator-leader-election') as unknown as { rules: Rule[] };
  // The operator serves this one namespace: it watches Secrets there, with the chart's per-namespace Role.
  const secretsRole = find(rendered, 'Role', 'hsm-operator-secrets-watch') as unknown as { rules: Rule[] };
  const name = `hsm-operator-chart-${randomBytes(3).toString('hex')}`;
  await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { metadata: { name }, rules: clusterRole.rules.filter((r) => !drop(r)) });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, { metadata: { name: 'leader-election' }, rules: leaseRole.rules });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, { metadata: { name: 'secrets-watch' }, rules: secretsRole.rules.filter((r) => !drop(r)) });
  const subjects = [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'hsm-operator' }];
  // Namespace labels (grants' namespaceSelector): cluster-scoped, so a ClusterRoleBinding, as the chart renders it.
  await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { metadata: { name: `${name}-cluster-scoped` }, rules: clusterScoped.rules.filter((r) => !drop(r)) });
  await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: `${name}-cluster-scoped` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${name}-cluster-scoped` },
    subjects,
  });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
    metadata: { name: 'operator' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects,
  });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
    metadata: { name: 'secrets-watch' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secrets-watch' },
    subjects,
  });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
    metadata: { name: 'leader-election' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader-election' },
    subjects,
  });
}

async function apply(namespace: string, m: WorldManifest): Promise<void> {
  const plural = m.kind === 'Secret' ? 'secrets' : 'dedicatedhsms';
  const base = m.kind === 'Secret' ? `/api/v1/namespaces/${namespace}` : `/apis/${GROUP}/${VERSION}/namespaces/${namespace}`;
  await must('POST', `${base}/${plural}`, m);
}

async function getHsm(namespace: string, name: string): Promise<DedicatedHsm> {
  return (await call(ep, 'GET', `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/dedicatedhsms/${name}`)).body as unknown as DedicatedHsm;
}

describe("the operator with exactly the chart's RBAC", () => {
  let world: World | undefined;
  let operator: Operator | undefined;
  afterEach(async () => {
    await operator?.stop(5_000);
    await world?.stop();
    operator = undefined;
    world = undefined;
  });

  async function scenario(prefix: string, drop?: (r: Rule) => boolean): Promise<string> {
    const namespace = await createNamespace(prefix);
    await bindChartRules(namespace, drop);
    world = await startWorld({ hsms: [{ name: 'hsm1', stampId: 'stamp1' }] });
    operator = await startTestOperator({
      namespace,
      world,
      user: 'hsm-operator',
      controllers: ['dedicatedhsm'],
      leaderElection: { namespace, name: 'hsm-operator', identity: `test-${prefix}`, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
    });
    await apply(namespace, applianceSecret('hsm1-appliance'));
    await apply(namespace, dedicatedHsm(world, 'hsm1'));
    return namespace;
  }

  it('deploys and observes an HSM to Ready, with leader election, as the chart identity', async () => {
    const namespace = await scenario('rbac-happy');
    const hsm = await waitFor('Ready', async () => {
      const h = await getHsm(namespace, 'hsm1');
      return h.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && h;
    }, 60_000);
    expect(hsm.metadata.finalizers).toContain('dedicatedhsm.io/finalizer');
    expect(hsm.status?.appliance?.softwareVersion).toBe('7.2.0-220');
    expect(world?.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' })).toBe(1);
  });

  it('reports nothing without the status rule: the chart rule is needed', async () => {
    const namespace = await scenario('rbac-nostatus', (r) => r.resources.some((x) => x.endsWith('/status')));
    // The operator tries to report (and is refused), so the object never says anything, let alone Ready.
    await waitFor('a refused status write', async () => /rest_client_requests_total\{[^}]*code="403"[^}]*\} [1-9]/.test(await operator!.manager.metrics.registry.metrics()), 30_000);
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await getHsm(namespace, 'hsm1')).status?.conditions ?? []).toEqual([]);
  });
});
