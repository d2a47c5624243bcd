/**
 * The chart's `<fullname>-edit` and `<fullname>-view` ClusterRoles on the real API server: the built-in
 * admin, edit and view roles select them by label, and a user bound to the built-in `edit` role in a namespace
 * may then create, change and delete DedicatedHsms there (not before), one bound to `view` may only read them.
 *
 * The control plane runs no kube-controller-manager, so nothing aggregates ClusterRoles by itself: the test does
 * what its clusterrole-aggregation controller does, with the server choosing the roles: it lists the ClusterRoles
 * each selector of the built-in role matches (a server-side label selection) and writes the union of their rules
 * into the built-in role. The built-in roles' rules are restored afterwards.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../../src/api/group.js';
import { KubeClient } from '../../../src/runtime/client.js';
import type { KubeObject, ResourceType } from '../../../src/runtime/resource.js';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { RBAC_SETTLE_MS, impersonating, status } from './access.js';
import { waitFor } from '../../support/wait.js';
import { find, helmTemplate, repoRoot, type Manifest } from './render.js';

type ClusterRole = KubeObject & {
  rules?: unknown[];
  aggregationRule?: { clusterRoleSelectors?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }[] };
};
const clusterRoles: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false, kind: 'ClusterRole' };
const roleBindings: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true, kind: 'RoleBinding' };
const hsms: ResourceType = { group: GROUP, version: VERSION, plural: 'dedicatedhsms', namespaced: true, kind: 'DedicatedHsm' };
const BUILT_IN = ['admin', 'edit', 'view'] as const;

describe('roles for the people who write the resources', () => {
  const admin = KubeClient.fromKubeConfig(adminConfig());
  const original = new Map<string, unknown[] | undefined>();
  const cleanup: (() => Promise<unknown>)[] = [];
  const id = randomBytes(3).toString('hex');
  let ns: string;
  let fullname: string;
  let ours: Manifest[];
  const sample = parse(readFileSync(join(repoRoot, 'config/samples/platform/dedicatedhsm-stamp1.yaml'), 'utf8')) as KubeObject;

  /** What the clusterrole-aggregation controller does for `name`: the union of the rules of the ClusterRoles its selectors match. */
  async function aggregate(name: string): Promise<ClusterRole> {
    const role = await admin.get<ClusterRole>(clusterRoles, undefined, name);
    const selectors = role.aggregationRule?.clusterRoleSelectors ?? [];
    expect(selectors.length, `${name} has an aggregation rule`).toBeGreaterThan(0);
    const rules: unknown[] = [];
    const seen = new Set<string>();
    for (const s of selectors) {
      expect(s.matchExpressions ?? [], 'only matchLabels selectors are expected').toEqual([]);
      const labelSelector = Object.entries(s.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const matched = await admin.list<ClusterRole>(clusterRoles, { labelSelector });
      for (const m of matched.items.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
        if (m.metadata?.name === name) continue;
        for (const r of m.rules ?? []) {
          const key = JSON.stringify(r);
          if (seen.has(key)) continue;
          seen.add(key);
          rules.push(r);
        }
      }
    }
    const fresh = await admin.get<ClusterRole>(clusterRoles, undefined, name);
    return admin.replace<ClusterRole>(clusterRoles, { ...fresh, rules });
  }

  /** Binds `user` to the built-in `role` in the test namespace. */
  async function bind(user: string, role: (typeof BUILT_IN)[number]): Promise<KubeClient> {
    await admin.create(roleBindings, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${user}-${role}`, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }],
    });
    return impersonating(user);
  }

  const hsm = (name: string): KubeObject => ({ ...sample, metadata: { name, namespace: ns } });
  /** SelfSubjectAccessReview of the client on DedicatedHsms in the namespace. */
  const can = async (c: KubeClient, verb: string, subresource?: string) =>
    (
      await c.request<{ status?: { allowed?: boolean } }>({
        verb: 'POST',
        path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: ns, group: GROUP, resource: 'dedicatedhsms', subresource, verb } } },
      })
    ).status?.allowed === true;

  beforeAll(async () => {
    ns = await createNamespace('pkg-user-roles');
    for (const name of BUILT_IN) original.set(name, (await admin.get<ClusterRole>(clusterRoles, undefined, name)).rules);
    const rendered = await helmTemplate({ release: `r${id}` });
    fullname = find(rendered, 'Deployment').metadata.name;
    ours = [find(rendered, 'ClusterRole', `${fullname}-edit`), find(rendered, 'ClusterRole', `${fullname}-view`)];
  });

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    for (const [name, rules] of original) {
      const fresh = await admin.get<ClusterRole>(clusterRoles, undefined, name).catch(() => undefined);
      if (fresh) await admin.replace(clusterRoles, { ...fresh, rules: rules ?? [] }).catch(() => undefined);
    }
  });

  it('without the chart\'s roles, the built-in edit role does not cover DedicatedHsms', async () => {
    await aggregate('edit');
    const before = await bind(`editor-before-${id}`, 'edit');
    // Built-in edit works (it covers ConfigMaps) but says nothing of DedicatedHsms.
    const configMaps: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
    let n = 0;
    await waitFor('edit covers configmaps', async () => (await status(before.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${n++}`, namespace: ns } }))) === 200, RBAC_SETTLE_MS);
    expect(await status(before.create(hsms, hsm('before')))).toBe(403);
  });

  it('the built-in admin, edit and view roles select the chart\'s roles by label', async () => {
    for (const o of ours) {
      await admin.create(clusterRoles, o as KubeObject);
      cleanup.push(() => admin.delete(clusterRoles, undefined, o.metadata.name));
    }
    const selected = async (builtIn: string) => {
      const names: string[] = [];
      for (const s of (await admin.get<ClusterRole>(clusterRoles, undefined, builtIn)).aggregationRule?.clusterRoleSelectors ?? []) {
        const labelSelector = Object.entries(s.matchLabels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        names.push(...(await admin.list(clusterRoles, { labelSelector })).items.map((r) => r.metadata?.name ?? ''));
      }
      return names.filter((n) => n.startsWith(fullname)).sort();
    };
    expect(await selected('admin')).toEqual([`${fullname}-edit`]);
    expect(await selected('edit')).toEqual([`${fullname}-edit`]);
    expect(await selected('view')).toEqual([`${fullname}-view`]);
  });

  it('a user bound to the built-in edit role may then create, change and delete DedicatedHsms, but not write their status', async () => {
    await aggregate('edit');
    const editor = await bind(`editor-${id}`, 'edit');
    await waitFor('edit covers dedicatedhsms', () => can(editor, 'create'), RBAC_SETTLE_MS);
    const created = await editor.create(hsms, hsm('team-hsm'));
    expect(created.metadata?.uid).toBeTruthy();
    expect((await editor.list(hsms, { namespace: ns })).items.map((o) => o.metadata?.name)).toContain('team-hsm');
    const changed = await editor.patch(hsms, ns, 'team-hsm', { metadata: { labels: { team: 'payments' } } }, 'merge');
    expect(changed.metadata?.labels?.team).toBe('payments');
    expect(await status(editor.request({ verb: 'GET', path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/dedicatedhsms/team-hsm/status` }))).toBe(200);
    expect(await status(editor.patch(hsms, ns, 'team-hsm', { status: { observedGeneration: 7 } }, 'merge', { subresource: 'status' }))).toBe(403);
    expect(await status(editor.delete(hsms, ns, 'team-hsm'))).toBe(200);
  });

  it('a user bound to the built-in admin role may too', async () => {
    await aggregate('admin');
    const nsAdmin = await bind(`admin-${id}`, 'admin');
    await waitFor('admin covers dedicatedhsms', () => can(nsAdmin, 'create'), RBAC_SETTLE_MS);
    expect(await status(nsAdmin.create(hsms, hsm('admin-hsm')))).toBe(200);
    expect(await status(nsAdmin.delete(hsms, ns, 'admin-hsm'))).toBe(200);
  });

  it('a user bound to the built-in view role may read DedicatedHsms and their status, and change nothing', async () => {
    await admin.create(hsms, hsm('seen'));
    await aggregate('view');
    const viewer = await bind(`viewer-${id}`, 'view');
    await waitFor('view covers dedicatedhsms', () => can(viewer, 'list'), RBAC_SETTLE_MS);
    expect((await viewer.list(hsms, { namespace: ns })).items.map((o) => o.metadata?.name)).toContain('seen');
    expect(await status(viewer.get(hsms, ns, 'seen'))).toBe(200);
    expect(await status(viewer.request({ verb: 'GET', path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/dedicatedhsms/seen/status` }))).toBe(200);
    expect(await status(viewer.create(hsms, hsm('not-mine')))).toBe(403);
    expect(await status(viewer.patch(hsms, ns, 'seen', { metadata: { labels: { x: 'y' } } }, 'merge'))).toBe(403);
    expect(await status(viewer.delete(hsms, ns, 'seen'))).toBe(403);
  });
});
