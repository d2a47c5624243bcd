/**
 * Least privilege, proved on the real API server with the chart's own ClusterRole and Role:
 * (a) bound to the `hsm-operator` token user, the runtime's own code (finalizer patches, status writer, Event
 *     recorder, leader election) and its list/watch/get/write calls succeed;
 * (b) the effective rules the server reports equal src/rbac.ts, nothing more;
 * (c) each rule is needed: without it, the one operation it exists for is refused with 403 while the others
 *     still work.
 * Bindings are RoleBindings (never cluster-wide, but for the cluster-scoped reviews of secure metrics and the
 * all-namespaces install, bound to fresh users), so no other test's user gains anything. The work namespace stands for a
 * served namespace (watchNamespaces): it also gets the chart's Role that lets the operator watch Secrets there.
 * (d) serving all namespaces, the ClusterRole alone has no list or watch of Secrets anywhere, and the operator's
 *     Secret cache still reads the Secrets by name and notices a rotation. The rule-removal
 * probes run as fresh impersonated users, so a broader grant another test gives `hsm-operator` cannot mask them.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../../src/api/group.js';
import { clusterRules, clusterScopedRules, metricsAuthRules, namespaceRules, OWN_RESOURCES, PERMISSIONS, servedNamespaceRules, type Permission, type PolicyRule } from '../../../src/rbac.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import { SecretCache, type SecretObject } from '../../../src/runtime/secrets.js';
import { KubeClient } from '../../../src/runtime/client.js';
import { EventRecorder, toMicroTime } from '../../../src/runtime/events.js';
import { addFinalizer, removeFinalizer } from '../../../src/runtime/finalizers.js';
import { LeaderElector, type LeaseObject } from '../../../src/runtime/leader.js';
import { CoreTypes, type KubeObject, type ResourceType } from '../../../src/runtime/resource.js';
import { StatusWriter } from '../../../src/runtime/status.js';
import { adminConfig, createNamespace, extraUserConfig } from '../../support/kube.js';
import { RBAC_SETTLE_MS, impersonating, status } from './access.js';
import { waitFor } from '../../support/wait.js';
import { loadSamples } from '../../../src/sandbox/samples.js';
import { find, helmTemplate, repoRoot, type Manifest } from './render.js';

const FINALIZER = 'dedicatedhsm.io/finalizer';
const KINDS: Record<(typeof OWN_RESOURCES)[number], string> = { dedicatedhsms: 'DedicatedHsm', ntlsclientbindings: 'NtlsClientBinding', hsmhagroups: 'HsmHaGroup' };
const typeOf = (plural: (typeof OWN_RESOURCES)[number]): ResourceType => ({ group: GROUP, version: VERSION, plural, namespaced: true, kind: KINDS[plural] });
const hsmType = typeOf('dedicatedhsms');
const grantType: ResourceType = { group: GROUP, version: VERSION, plural: 'hsmgrants', namespaced: true, kind: 'HsmGrant' };
const rbacType = (plural: string, namespaced: boolean): ResourceType => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, namespaced });
const suffix = () => randomBytes(3).toString('hex');

/**
 * One sample object of each of the operator's own kinds from config/samples (the API tests keep them valid). HsmGrant
 * is not one: the operator only reads grants (a separate rule), it never writes them, so it has no place here.
 */
function samples(): Map<string, KubeObject> {
  const own = new Set<string>(Object.values(KINDS));
  const out = new Map<string, KubeObject>();
  for (const m of loadSamples(join(repoRoot, 'config/samples'))) {
    if (m.apiVersion.startsWith(`${GROUP}/`) && own.has(m.kind) && !out.has(m.kind)) out.set(m.kind, m as KubeObject);
  }
  return out;
}

interface Review {
  status?: { allowed?: boolean; resourceRules?: PolicyRule[] };
}

/** SelfSubjectAccessReview: may the caller do `verb` on `resource` in `namespace`? */
async function allowed(client: KubeClient, namespace: string, group: string, resource: string, verb: string): Promise<boolean> {
  const [res, sub] = resource.split('/');
  const r = await client.request<Review>({
    verb: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace, group, resource: res, subresource: sub, verb } } },
  });
  return r.status?.allowed === true;
}

/** The caller's effective (group, resource, verb) triples in `namespace`, as the server computes them. */
async function effective(client: KubeClient, namespace: string): Promise<string[]> {
  const r = await client.request<Review>({
    verb: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
  });
  // Every authenticated user may review itself (system:basic-user); that is not the operator's.
  const basic = new Set(['authorization.k8s.io', 'authentication.k8s.io']);
  return triples((r.status?.resourceRules ?? []).filter((x) => !x.apiGroups.every((g) => basic.has(g))));
}

const triples = (rules: PolicyRule[]): string[] =>
  [...new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))))].sort();

describe('operator RBAC on the real API server', () => {
  const admin = KubeClient.fromKubeConfig(adminConfig());
  const cleanup: (() => Promise<void>)[] = [];
  let workNs: string; // where the custom resources and their Secrets live
  let opNs: string; // where the operator runs (its Lease)
  let clusterRole: Manifest & { rules: PolicyRule[] };
  let role: Manifest & { rules: PolicyRule[] };
  let servedRole: Manifest & { rules: PolicyRule[] };
  let metricsAuth: Manifest & { rules: PolicyRule[] };
  let clusterScoped: Manifest & { rules: PolicyRule[] };
  const objects = new Map<string, KubeObject>();

  /** Creates the chart's roles (optionally without some permissions) under fresh names and binds them to `user`. */
  async function grant(user: string, without: readonly Permission[] = []): Promise<void> {
    const keep = PERMISSIONS.filter((p) => !without.includes(p));
    const name = `hsm-operator-test-${suffix()}`;
    const cr = { ...clusterRole, metadata: { name }, rules: without.length ? clusterRules(keep) : clusterRole.rules };
    await admin.create(rbacType('clusterroles', false), cr);
    cleanup.push(() => admin.delete(rbacType('clusterroles', false), undefined, name));
    await admin.create(rbacType('roles', true), { ...role, metadata: { name, namespace: opNs }, rules: without.length ? namespaceRules(keep) : role.rules });
    await admin.create(rbacType('roles', true), { ...servedRole, metadata: { name, namespace: workNs }, rules: without.length ? servedNamespaceRules(keep) : servedRole.rules });
    const subjects = [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }];
    await admin.create(rbacType('rolebindings', true), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${name}-served`, namespace: workNs }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects });
    await admin.create(rbacType('rolebindings', true), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: workNs }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects });
    await admin.create(rbacType('rolebindings', true), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: opNs }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects });
    // Secure metrics: TokenReviews and SubjectAccessReviews are cluster-scoped, so a ClusterRoleBinding (of a fresh user).
    const reviews = `${name}-metrics-auth`;
    await admin.create(rbacType('clusterroles', false), { ...metricsAuth, metadata: { name: reviews }, rules: without.length ? metricsAuthRules(keep) : metricsAuth.rules });
    cleanup.push(() => admin.delete(rbacType('clusterroles', false), undefined, reviews));
    await admin.create(rbacType('clusterrolebindings', false), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: reviews }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: reviews }, subjects });
    cleanup.push(() => admin.delete(rbacType('clusterrolebindings', false), undefined, reviews));
    // Cluster-scoped reads (namespace labels): also a ClusterRoleBinding.
    const reads = `${name}-cluster-scoped`;
    await admin.create(rbacType('clusterroles', false), { ...clusterScoped, metadata: { name: reads }, rules: without.length ? clusterScopedRules(keep) : clusterScoped.rules });
    cleanup.push(() => admin.delete(rbacType('clusterroles', false), undefined, reads));
    await admin.create(rbacType('clusterrolebindings', false), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: reads }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: reads }, subjects });
    cleanup.push(() => admin.delete(rbacType('clusterrolebindings', false), undefined, reads));
    const expectWork = triples([...clusterRules(keep), ...servedNamespaceRules(keep), ...clusterScopedRules(keep)]);
    const expectOp = triples([...namespaceRules(keep), ...clusterScopedRules(keep)]);
    const client = user === 'hsm-operator' ? KubeClient.fromKubeConfig(extraUserConfig(user)) : impersonating(user);
    await waitFor(`the bindings of ${user}`, async () => JSON.stringify([await effective(client, workNs), await effective(client, opNs)]) === JSON.stringify([expectWork, expectOp]), RBAC_SETTLE_MS);
    // The self-reviews above leave out the review APIs; wait for the cluster-wide binding of those separately.
    for (const p of keep.filter((k) => k.scope === 'metrics-auth')) {
      await waitFor(`${user} may create ${p.resources[0]}`, () => allowed(client, '', p.apiGroup, p.resources[0]!, 'create'), RBAC_SETTLE_MS);
    }
  }

  beforeAll(async () => {
    workNs = await createNamespace('pkg-rbac-work');
    opNs = await createNamespace('pkg-rbac-op');
    const rendered = await helmTemplate({ namespace: opNs, release: 'hsm-operator', set: [`watchNamespaces={${workNs}}`] });
    clusterRole = find(rendered, 'ClusterRole', 'hsm-operator-manager') as typeof clusterRole;
    metricsAuth = find(rendered, 'ClusterRole', 'hsm-operator-metrics-auth') as typeof metricsAuth;
    clusterScoped = find(rendered, 'ClusterRole', 'hsm-operator-cluster-scoped') as typeof clusterScoped;
    role = find(rendered, 'Role', 'hsm-operator-leader-election') as typeof role;
    servedRole = find(rendered, 'Role', 'hsm-operator-secrets-watch') as typeof servedRole;
    expect(servedRole.metadata.namespace).toBe(workNs);
    for (const [kind, sample] of samples()) {
      const plural = OWN_RESOURCES.find((p) => KINDS[p] === kind)!;
      const created = await admin.create(typeOf(plural), { ...sample, metadata: { ...sample.metadata, namespace: workNs } });
      objects.set(plural, created);
    }
    expect([...objects.keys()].sort()).toEqual([...OWN_RESOURCES].sort());
    await admin.create(CoreTypes.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'appliance-credentials', namespace: workNs }, stringData: { password: 'not-a-real-one' } });
  });

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  describe('as the hsm-operator user with the chart roles', () => {
    let op: KubeClient;
    beforeAll(async () => {
      await grant('hsm-operator');
      op = KubeClient.fromKubeConfig(extraUserConfig('hsm-operator'));
    });

    it('lists, watches and reads the three kinds', async () => {
      for (const plural of OWN_RESOURCES) {
        const type = typeOf(plural);
        const list = await op.list(type, { namespace: workNs, limit: 500 });
        expect(list.items.map((o) => o.metadata?.name)).toEqual([objects.get(plural)?.metadata?.name]);
        const seen: string[] = [];
        await op.watch(type, { namespace: workNs, resourceVersion: '0', allowWatchBookmarks: true, timeoutSeconds: 1, signal: new AbortController().signal }, (e) => seen.push(e.type));
        expect(seen).toContain('ADDED');
        expect((await op.get(type, workNs, objects.get(plural)!.metadata!.name!)).metadata?.uid).toBe(objects.get(plural)?.metadata?.uid);
      }
    });

    it('adds and removes its finalizer with the runtime helpers', async () => {
      for (const plural of OWN_RESOURCES) {
        const type = typeOf(plural);
        const withIt = await addFinalizer(op, type, await op.get(type, workNs, objects.get(plural)!.metadata!.name!), FINALIZER);
        expect(withIt?.metadata?.finalizers).toContain(FINALIZER);
        const without = await removeFinalizer(op, type, withIt!, FINALIZER);
        expect(without?.metadata?.finalizers ?? []).not.toContain(FINALIZER);
        // A plain update (PUT) of the object, as annotation writes do.
        const fresh = await op.get(type, workNs, objects.get(plural)!.metadata!.name!);
        const updated = await op.replace(type, { ...fresh, metadata: { ...fresh.metadata, annotations: { ...fresh.metadata?.annotations, 'dedicatedhsm.io/test': 'rbac' } } });
        expect(updated.metadata?.annotations?.['dedicatedhsm.io/test']).toBe('rbac');
      }
    });

    it('writes status through the status subresource, by update and by merge patch', async () => {
      const writer = new StatusWriter(op);
      for (const plural of OWN_RESOURCES) {
        const type = typeOf(plural);
        const obj = await op.get(type, workNs, objects.get(plural)!.metadata!.name!);
        const put = await writer.update(type, obj, () => undefined);
        expect(put.written).toBe(true);
        expect((put.object as { status?: { observedGeneration?: number } }).status?.observedGeneration).toBe(obj.metadata?.generation);
        const patched = await op.patch(type, workNs, obj.metadata!.name!, { status: { observedGeneration: 0 } }, 'merge', { subresource: 'status' });
        expect((patched as { status?: { observedGeneration?: number } }).status?.observedGeneration).toBe(0);
        expect(await status(op.request({ verb: 'GET', path: `/apis/${GROUP}/${VERSION}/namespaces/${workNs}/${plural}/${obj.metadata!.name}/status` }))).toBe(200);
      }
    });

    it('may set blockOwnerDeletion owner references (update on the finalizers subresource)', async () => {
      for (const plural of OWN_RESOURCES) expect(await allowed(op, workNs, GROUP, `${plural}/finalizers`, 'update')).toBe(true);
    });

    it('reads credentials and writes output Secrets', async () => {
      const list = await op.list(CoreTypes.secrets, { namespace: workNs });
      expect(list.items.map((s) => s.metadata?.name)).toContain('appliance-credentials');
      const seen: string[] = [];
      await op.watch(CoreTypes.secrets, { namespace: workNs, resourceVersion: '0', timeoutSeconds: 1, signal: new AbortController().signal }, (e) => seen.push(e.type));
      expect(seen).toContain('ADDED');
      expect((await op.get(CoreTypes.secrets, workNs, 'appliance-credentials')).metadata?.name).toBe('appliance-credentials');
      const hsm = objects.get('dedicatedhsms')!;
      const out = await op.create(CoreTypes.secrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'client-ntls', namespace: workNs, ownerReferences: [{ apiVersion: hsm.apiVersion!, kind: hsm.kind!, name: hsm.metadata!.name!, uid: hsm.metadata!.uid!, controller: true, blockOwnerDeletion: true }] },
        stringData: { 'server.pem': 'x' },
      });
      const patched = await op.patch(CoreTypes.secrets, workNs, 'client-ntls', { stringData: { 'Chrystoki.conf': 'y' } }, 'merge');
      expect(Object.keys((patched as { data?: object }).data ?? {}).sort()).toEqual(['Chrystoki.conf', 'server.pem']);
      const replaced = await op.replace(CoreTypes.secrets, { ...patched, metadata: { ...patched.metadata, labels: { renewed: 'yes' } } });
      expect(replaced.metadata?.labels?.renewed).toBe('yes');
      expect(out.metadata?.ownerReferences?.[0]?.blockOwnerDeletion).toBe(true);
    });

    it('records Events and Event series with the runtime recorder', async () => {
      const recorder = new EventRecorder({ client: op, instance: 'rbac-test', seriesFlushMs: 1 });
      const hsm = await op.get(hsmType, workNs, objects.get('dedicatedhsms')!.metadata!.name!);
      recorder.normal(hsm, 'RbacProbe', 'first');
      await recorder.flush();
      recorder.normal(hsm, 'RbacProbe', 'first');
      await recorder.flush();
      const events = await admin.list<KubeObject & { reason?: string; series?: { count: number } }>(CoreTypes.events, { namespace: workNs });
      const mine = events.items.filter((e) => e.reason === 'RbacProbe');
      expect(mine).toHaveLength(1);
      expect(mine[0]?.series?.count).toBe(2); // created, then patched
    });

    it('takes, renews and releases the leader Lease in its own namespace only', async () => {
      const elector = new LeaderElector({ client: op, namespace: opNs, name: 'hsm-operator-leader', identity: 'pod-a', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 });
      elector.start();
      await waitFor('leadership', async () => elector.isLeader(), 10_000);
      const first = await admin.get<LeaseObject>(CoreTypes.leases, opNs, 'hsm-operator-leader');
      await waitFor('a renewal', async () => (await admin.get<LeaseObject>(CoreTypes.leases, opNs, 'hsm-operator-leader')).spec?.renewTime !== first.spec?.renewTime, 10_000);
      await elector.stop({ release: true });
      expect((await admin.get<LeaseObject>(CoreTypes.leases, opNs, 'hsm-operator-leader')).spec?.holderIdentity).toBeUndefined();
      const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'elsewhere', namespace: workNs }, spec: {} };
      expect(await status(op.create(CoreTypes.leases, lease))).toBe(403);
    });

    it('may not delete, create custom resources, or touch anything else', async () => {
      const name = objects.get('dedicatedhsms')!.metadata!.name!;
      expect(await status(op.delete(hsmType, workNs, name))).toBe(403);
      expect(await status(op.create(hsmType, { ...objects.get('dedicatedhsms')!, metadata: { name: 'second', namespace: workNs } }))).toBe(403);
      expect(await status(op.delete(CoreTypes.secrets, workNs, 'appliance-credentials'))).toBe(403);
      expect(await status(op.list(CoreTypes.configMaps, { namespace: workNs }))).toBe(403);
      expect(await status(op.list(hsmType, {}))).toBe(403); // cluster-wide needs the chart's ClusterRoleBinding, not given here
      expect(await status(op.list(CoreTypes.secrets, { namespace: opNs }))).toBe(403);
    });
  });

  describe('least privilege', () => {
    it('the server grants exactly the declared rules: ClusterRole rules where bound, the Lease rule in the operator namespace', async () => {
      const user = `hsm-operator-exact-${suffix()}`;
      await grant(user);
      const client = impersonating(user);
      expect(await effective(client, workNs)).toEqual(triples([...clusterRules(), ...servedNamespaceRules(), ...clusterScopedRules()]));
      expect(await effective(client, opNs)).toEqual(triples([...namespaceRules(), ...clusterScopedRules()]));
    });

    /** For each permission, the one operation of the operator that only it allows. */
    const probes: { permission: Permission; what: string; run: (c: KubeClient) => Promise<number> }[] = [
      { permission: PERMISSIONS[0]!, what: 'list DedicatedHsms', run: (c) => status(c.list(hsmType, { namespace: workNs })) },
      {
        permission: PERMISSIONS[1]!,
        what: 'patch DedicatedHsm status',
        run: (c) => status(c.patch(hsmType, workNs, objects.get('dedicatedhsms')!.metadata!.name!, { status: { observedGeneration: 1 } }, 'merge', { subresource: 'status' })),
      },
      { permission: PERMISSIONS[2]!, what: 'update DedicatedHsm finalizers', run: async (c) => ((await allowed(c, workNs, GROUP, 'dedicatedhsms/finalizers', 'update')) ? 200 : 403) },
      { permission: PERMISSIONS[3]!, what: 'get a credentials Secret', run: (c) => status(c.get(CoreTypes.secrets, workNs, 'appliance-credentials')) },
      { permission: PERMISSIONS[4]!, what: 'list the Secrets of a served namespace', run: (c) => status(c.list(CoreTypes.secrets, { namespace: workNs })) },
      {
        permission: PERMISSIONS[5]!,
        what: 'create an output Secret',
        run: (c) => status(c.create(CoreTypes.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `out-${suffix()}`, namespace: workNs }, stringData: { 'server.pem': 'x' } })),
      },
      {
        permission: PERMISSIONS[6]!,
        what: 'create an Event',
        run: (c) =>
          status(
            c.create(CoreTypes.events, {
              apiVersion: 'events.k8s.io/v1',
              kind: 'Event',
              metadata: { name: `probe.${suffix()}`, namespace: workNs },
              eventTime: toMicroTime(Date.now()),
              reportingController: 'dedicatedhsm.io/hsm-operator',
              reportingInstance: 'probe',
              action: 'Reconcile',
              reason: 'Probe',
              type: 'Normal',
              regarding: { apiVersion: `${GROUP}/${VERSION}`, kind: 'DedicatedHsm', name: 'x', namespace: workNs },
            }),
          ),
      },
      {
        permission: PERMISSIONS[7]!,
        what: 'create the leader Lease',
        run: (c) => status(c.create(CoreTypes.leases, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: `leader-${suffix()}`, namespace: opNs }, spec: {} })),
      },
      { permission: PERMISSIONS[8]!, what: 'list HsmGrants', run: (c) => status(c.list(grantType, { namespace: workNs })) },
      { permission: PERMISSIONS[9]!, what: 'list namespaces (their labels)', run: (c) => status(c.list(CoreTypes.namespaces, {})) },
      {
        permission: PERMISSIONS[10]!,
        what: 'review a scraper\'s token (TokenReview)',
        run: (c) =>
          status(c.request({ verb: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'not-a-token' } } })),
      },
      {
        permission: PERMISSIONS[11]!,
        what: 'ask whether a scraper may GET /metrics (SubjectAccessReview)',
        run: (c) =>
          status(
            c.request({
              verb: 'POST',
              path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
              body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'prometheus', nonResourceAttributes: { path: '/metrics', verb: 'get' } } },
            }),
          ),
      },
    ];

    it('has a probe for every permission', () => {
      expect(probes.map((p) => p.permission)).toEqual([...PERMISSIONS]);
    });

    it('with every rule, every probe succeeds', async () => {
      const user = `hsm-operator-full-${suffix()}`;
      await grant(user);
      const client = impersonating(user);
      for (const p of probes) expect(await p.run(client), p.what).toBe(200);
    });

    for (const [i, probe] of probes.entries()) {
      const rule = `${probe.permission.apiGroup || 'core'} ${probe.permission.resources[0]}${probe.permission.resources.length > 1 ? ',…' : ''} [${probe.permission.verbs.join(',')}]`;
      it(`without the rule ${rule}, "${probe.what}" is forbidden and the rest still works`, async () => {
        const user = `hsm-operator-minus${i}-${suffix()}`;
        await grant(user, [probe.permission]);
        const client = impersonating(user);
        for (const p of probes) expect(await p.run(client), p.what).toBe(p === probe ? 403 : 200);
      });
    }
  });

  describe('serving all namespaces: the ClusterRole bound cluster-wide, no Role for Secrets', () => {
    let user: string;
    let client: KubeClient;
    beforeAll(async () => {
      user = `hsm-operator-all-${suffix()}`;
      const name = `hsm-operator-test-${suffix()}`;
      await admin.create(rbacType('clusterroles', false), { ...clusterRole, metadata: { name } });
      cleanup.push(() => admin.delete(rbacType('clusterroles', false), undefined, name));
      const subjects = [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }];
      await admin.create(rbacType('clusterrolebindings', false), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects });
      cleanup.push(() => admin.delete(rbacType('clusterrolebindings', false), undefined, name));
      client = impersonating(user);
      await waitFor(`the cluster-wide binding of ${user}`, () => allowed(client, '', GROUP, 'dedicatedhsms', 'list'), RBAC_SETTLE_MS);
    });

    it('has no list or watch of Secrets, cluster-wide or in any namespace; get and the writes it needs', async () => {
      for (const ns of ['', workNs, opNs]) {
        expect(await allowed(client, ns, '', 'secrets', 'list'), `list in "${ns}"`).toBe(false);
        expect(await allowed(client, ns, '', 'secrets', 'watch'), `watch in "${ns}"`).toBe(false);
      }
      expect(await status(client.list(CoreTypes.secrets, {}))).toBe(403);
      expect(await status(client.list(CoreTypes.secrets, { namespace: workNs }))).toBe(403);
      for (const verb of ['get', 'create', 'update', 'patch']) expect(await allowed(client, workNs, '', 'secrets', verb), verb).toBe(true);
      expect(await allowed(client, workNs, '', 'secrets', 'delete')).toBe(false);
    });

    it('the operator\'s Secret cache still works: reads by name, notices a rotation, never lists or watches', async () => {
      const clock = new FakeClock(Date.now());
      const cache = new SecretCache({ client, clock, refreshAfterMs: 30_000 });
      expect(cache.byName).toBe(true);
      const changed: string[] = [];
      cache.informer.addHandlers({ onUpdate: (_o, sec) => changed.push(...cache.ownersOf('DedicatedHsm', `${sec.metadata?.namespace}/${sec.metadata?.name}`)) });
      cache.informer.start();
      try {
        const key = `${workNs}/appliance-credentials`;
        cache.track('DedicatedHsm', `${workNs}/hsm-a`, [key]);
        const first = await cache.get(key);
        expect(Buffer.from(first?.data?.password ?? '', 'base64').toString()).toBe('not-a-real-one');
        await admin.patch<SecretObject>(CoreTypes.secrets, workNs, 'appliance-credentials', { stringData: { password: 'rotated' } }, 'merge');
        clock.advance(30_000);
        await cache.refresh();
        expect(changed).toEqual([`${workNs}/hsm-a`]);
        expect(Buffer.from((await cache.get(key))?.data?.password ?? '', 'base64').toString()).toBe('rotated');
        expect(cache.gets).toBe(2);
      } finally {
        await cache.informer.stop();
      }
    });
  });
});
