/**
 * The destructive-actions admission policy on the real API server, as the packaging ships it: the chart's (rendered
 * by helm with the two-person rule on) and kustomize's (config/admission, built by kustomize). Users in and out of
 * the group (impersonated, with the group as the API server would authenticate it) try what deletion needs: setting
 * deletionPolicy Delete, recording who asked, the confirm annotation and the acceptance of key-material loss. Each
 * refusal must say what is needed; each admitted write proves the policy lets the right people through.
 *
 * Each policy is bound to one test namespace only (a namespaceSelector added to the shipped binding), so the other
 * test files sharing this control plane are not affected.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Annotations } from '../../../src/api/annotations.js';
import { GROUP, VERSION } from '../../../src/api/group.js';
import { USER_ROLES, userRules } from '../../../src/rbac.js';
import { KubeClient } from '../../../src/runtime/client.js';
import { ApiError } from '../../../src/runtime/errors.js';
import type { KubeObject, ResourceType } from '../../../src/runtime/resource.js';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { waitFor } from '../../support/wait.js';
import { RBAC_SETTLE_MS } from './access.js';
import { find, helmTemplate, kustomizeBuild, repoRoot, type Manifest } from './render.js';

const hsms: ResourceType = { group: GROUP, version: VERSION, plural: 'dedicatedhsms', namespaced: true, kind: 'DedicatedHsm' };
const bindings: ResourceType = { group: GROUP, version: VERSION, plural: 'ntlsclientbindings', namespaced: true, kind: 'NtlsClientBinding' };
const policies: ResourceType = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies', namespaced: false, kind: 'ValidatingAdmissionPolicy' };
const policyBindings: ResourceType = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings', namespaced: false, kind: 'ValidatingAdmissionPolicyBinding' };
const roles: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true, kind: 'Role' };
const roleBindings: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true, kind: 'RoleBinding' };

const CONFIRM = Annotations.confirmZeroize;
const REQUESTED_BY = Annotations.deletionRequestedBy;
const ACCEPT = Annotations.acceptKeyMaterialLoss;

/** A KubeConfig of the admin that impersonates `user`, with `group` (the API server adds system:authenticated). */
class Impersonating extends KubeConfig {
  constructor(
    private readonly user: string,
    private readonly group: string | undefined,
  ) {
    super();
    const admin = adminConfig();
    this.loadFromOptions({ clusters: admin.clusters, users: admin.users, contexts: admin.contexts, currentContext: admin.currentContext });
  }

  override async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    opts.headers = { ...(opts.headers as Record<string, string> | undefined), 'Impersonate-User': this.user, ...(this.group ? { 'Impersonate-Group': this.group } : {}) };
  }
}

const as = (user: string, group?: string): KubeClient => KubeClient.fromKubeConfig(new Impersonating(user, group));

/** The API server's answer: 'admitted', or the refusal's code and message. */
async function attempt(p: Promise<unknown>): Promise<'admitted' | { code: number; message: string }> {
  try {
    await p;
    return 'admitted';
  } catch (e) {
    if (e instanceof ApiError) return { code: e.code, message: e.message };
    throw e;
  }
}

const sample = (file: string): KubeObject => parse(readFileSync(join(repoRoot, 'config/samples', file), 'utf8')) as KubeObject;

function hsm(ns: string, name: string, deletionPolicy: 'Orphan' | 'Delete', annotations: Record<string, string> = {}): KubeObject {
  const o = structuredClone(sample('platform/dedicatedhsm-stamp1.yaml')) as KubeObject & { spec: { deletionPolicy: string } };
  o.metadata = { name: `hsm-${name}`, namespace: ns, annotations };
  o.spec.deletionPolicy = deletionPolicy;
  return o;
}

function binding(ns: string, name: string, deletionPolicy: 'Orphan' | 'Delete'): KubeObject {
  const o = structuredClone(sample('app-a/ntlsclientbinding-generated.yaml')) as KubeObject & { spec: { deletionPolicy: string; clientName: string } };
  o.metadata = { name, namespace: ns };
  o.spec.clientName = name;
  o.spec.deletionPolicy = deletionPolicy;
  return o;
}

const merge = (c: KubeClient, type: ResourceType, ns: string, name: string, patch: unknown) => c.patch(type, ns, type === hsms ? `hsm-${name}` : name, patch, 'merge');
const annotate = (c: KubeClient, ns: string, name: string, annotations: Record<string, string | null>) => merge(c, hsms, ns, name, { metadata: { annotations } });

describe('the destructive-actions admission policy on the real API server', () => {
  const admin = KubeClient.fromKubeConfig(adminConfig());
  const id = randomBytes(3).toString('hex');
  const group = `hsm-destroyers-${id}`;
  const [alice, bob, mallory] = ['alice', 'bob', 'mallory'].map((u) => `${u}-${id}`) as [string, string, string];
  const installed: { type: ResourceType; name: string }[] = [];
  let one: string; // kustomize's policy: one person may do both
  let two: string; // the chart's policy with the two-person rule
  const c = { alice: as(alice, group), bob: as(bob, group), mallory: as(mallory) };

  /** Installs a policy and its binding, bound to namespace `ns` only; returns once it refuses an outsider. */
  async function install(ms: Manifest[], ns: string, name: string): Promise<void> {
    const policy = structuredClone(find(ms, 'ValidatingAdmissionPolicy'));
    const bound = structuredClone(find(ms, 'ValidatingAdmissionPolicyBinding')) as Manifest & { spec: Record<string, unknown> };
    policy.metadata = { ...policy.metadata, name };
    delete policy.metadata.namespace;
    bound.metadata = { ...bound.metadata, name };
    delete bound.metadata.namespace;
    bound.spec = { ...bound.spec, policyName: name, matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } };
    await admin.create(policies, policy as KubeObject);
    installed.push({ type: policies, name });
    await admin.create(policyBindings, bound as KubeObject);
    installed.push({ type: policyBindings, name });
    // RBAC first (an outsider's refusal must come from the policy, not from RBAC), then the policy in force.
    await admin.create(roles, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'hsm-edit', namespace: ns }, rules: userRules(USER_ROLES.find((r) => r.suffix === 'edit')!) } as KubeObject);
    await admin.create(roleBindings, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'hsm-edit', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'hsm-edit' },
      subjects: [alice, bob, mallory].map((u) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: u })),
    } as KubeObject);
    await waitFor(`${mallory} may create an Orphan DedicatedHsm in ${ns}`, async () => (await attempt(c.mallory.create(hsms, hsm(ns, 'probe', 'Orphan'), { dryRun: 'All' }))) === 'admitted', RBAC_SETTLE_MS);
    await waitFor(`policy ${name} in force`, async () => {
      const r = await attempt(c.mallory.create(hsms, hsm(ns, 'probe', 'Delete', { [REQUESTED_BY]: mallory }), { dryRun: 'All' }));
      return r !== 'admitted' && r.code === 403;
    }, 30_000);
  }

  beforeAll(async () => {
    one = await createNamespace('vap-one');
    two = await createNamespace('vap-two');
    // kustomize's component as config/default ships it, with the group of this test.
    const kust = (await kustomizeBuild('config/default')).filter((m) => m.apiVersion.startsWith('admissionregistration.k8s.io/'));
    const kustGroup = JSON.parse(JSON.stringify(kust).replace('"\\"hsm-destructive-actions\\""', JSON.stringify(JSON.stringify(group)))) as Manifest[];
    expect(JSON.stringify(kustGroup)).toContain(group);
    await install(kustGroup, one, `vap-one-${id}`);
    // The chart's, with the two-person rule.
    const chart = await helmTemplate({ set: [`destructiveActions.group=${group}`, 'destructiveActions.twoPersonRule=true'] });
    await install(chart, two, `vap-two-${id}`);
  }, 120_000);

  afterAll(async () => {
    for (const o of installed.reverse()) await admin.delete(o.type, undefined, o.name).catch(() => undefined);
  });

  it('kustomize ships the group as a variable the test could replace (the policy under test is the shipped one)', async () => {
    const kust = await kustomizeBuild('config/default');
    const policy = find(kust, 'ValidatingAdmissionPolicy') as Manifest & { spec: { variables: { name: string; expression: string }[] } };
    expect(policy.spec.variables.slice(0, 2)).toEqual([
      { name: 'group', expression: '"hsm-destructive-actions"' },
      { name: 'twoPersonRule', expression: 'false' },
    ]);
    expect(policy.metadata.namespace).toBeUndefined();
  });

  it('outside the group: Delete is refused (create or update), saying which group may set it; Orphan and everything else is admitted', async () => {
    const refused = await attempt(c.mallory.create(hsms, hsm(one, 'm1', 'Delete', { [REQUESTED_BY]: mallory })));
    expect(refused).toMatchObject({ code: 403 });
    if (refused === 'admitted') return;
    expect(refused.message).toContain(`spec.deletionPolicy: Delete may only be set by a member of the group ${group}`);
    expect(refused.message).toContain(`${mallory} is not a member`);
    expect(refused.message).toContain('Ask a member of that group');

    expect(await attempt(c.mallory.create(hsms, hsm(one, 'm1', 'Orphan')))).toBe('admitted');
    expect(await attempt(merge(c.mallory, hsms, one, 'm1', { spec: { appliance: { port: 2222 } } }))).toBe('admitted');
    expect(await attempt(merge(c.mallory, hsms, one, 'm1', { metadata: { annotations: { [REQUESTED_BY]: mallory } }, spec: { deletionPolicy: 'Delete' } }))).toMatchObject({ code: 403, message: expect.stringContaining(group) });
    const confirm = await attempt(annotate(c.mallory, one, 'm1', { [CONFIRM]: 'hsm-eastus-1' }));
    expect(confirm).toMatchObject({ code: 403, message: expect.stringContaining(`the annotation ${CONFIRM} (the second key`) });
    expect(await attempt(annotate(c.mallory, one, 'm1', { [ACCEPT]: 'the key material on hsm-eastus-1 may be lost' }))).toMatchObject({ code: 403, message: expect.stringContaining(ACCEPT) });
    expect(((await admin.get(hsms, one, 'hsm-m1')) as KubeObject & { spec: { deletionPolicy: string } }).spec.deletionPolicy).toBe('Orphan');
  });

  it('inside the group: Delete is admitted only with deletion-requested-by naming the requesting user, which then cannot change', async () => {
    expect(await attempt(c.alice.create(hsms, hsm(one, 'a1', 'Orphan')))).toBe('admitted');
    const bare = await attempt(merge(c.alice, hsms, one, 'a1', { spec: { deletionPolicy: 'Delete' } }));
    expect(bare).toMatchObject({ code: 422, message: expect.stringContaining(`must also set the annotation ${REQUESTED_BY} to your own user name, "${alice}"`) });
    expect(await attempt(merge(c.alice, hsms, one, 'a1', { metadata: { annotations: { [REQUESTED_BY]: bob } }, spec: { deletionPolicy: 'Delete' } }))).toMatchObject({ code: 422 });
    expect(await attempt(merge(c.alice, hsms, one, 'a1', { metadata: { annotations: { [REQUESTED_BY]: alice } }, spec: { deletionPolicy: 'Delete' } }))).toBe('admitted');

    // Nobody rewrites who asked while Delete stays: not an outsider, not the group.
    for (const [who, client] of [[mallory, c.mallory], [bob, c.bob]] as const) {
      const r = await attempt(annotate(client, one, 'a1', { [REQUESTED_BY]: who }));
      expect(r, who).toMatchObject({ code: 403, message: expect.stringContaining(`records who set deletionPolicy Delete ("${alice}") and cannot change while Delete stays`) });
    }
    expect(await attempt(annotate(c.mallory, one, 'a1', { [REQUESTED_BY]: null }))).toMatchObject({ code: 403 });
    // Without the two-person rule, the requester may confirm; backing out (Orphan) is open to anyone who may edit.
    expect(await attempt(annotate(c.alice, one, 'a1', { [CONFIRM]: 'hsm-eastus-1' }))).toBe('admitted');
    expect(await attempt(merge(c.mallory, hsms, one, 'a1', { spec: { deletionPolicy: 'Orphan' } }))).toBe('admitted');
  });

  it('NtlsClientBinding: deletionPolicy Delete only from the group', async () => {
    expect(await attempt(c.mallory.create(bindings, binding(one, 'b-m', 'Delete')))).toMatchObject({ code: 403, message: expect.stringContaining(`may only be set by a member of the group ${group}`) });
    expect(await attempt(c.mallory.create(bindings, binding(one, 'b-m', 'Orphan')))).toBe('admitted');
    expect(await attempt(merge(c.mallory, bindings, one, 'b-m', { spec: { deletionPolicy: 'Delete' } }))).toMatchObject({ code: 403 });
    expect(await attempt(c.alice.create(bindings, binding(one, 'b-a', 'Delete')))).toBe('admitted');
  });

  it('two-person rule: the requester may not confirm; a second member may; the confirm comes only after Delete', async () => {
    expect(await attempt(c.alice.create(hsms, hsm(two, 'h1', 'Delete', { [REQUESTED_BY]: alice })))).toBe('admitted');
    const own = await attempt(annotate(c.alice, two, 'h1', { [CONFIRM]: 'hsm-eastus-1' }));
    expect(own).toMatchObject({ code: 403, message: expect.stringContaining(`two-person rule: the annotation ${CONFIRM} must be set by a second member of ${group}`) });
    expect(own).toMatchObject({ message: expect.stringContaining(`Delete was asked for by ${alice}, who may not confirm their own request`) });
    expect(await attempt(annotate(c.alice, two, 'h1', { [ACCEPT]: 'the key material on hsm-eastus-1 may be lost' }))).toMatchObject({ code: 403, message: expect.stringContaining('two-person rule') });
    // An outsider is refused for the group, whatever the two-person rule says.
    expect(await attempt(annotate(c.mallory, two, 'h1', { [CONFIRM]: 'hsm-eastus-1' }))).toMatchObject({ code: 403, message: expect.stringContaining(`${mallory} is not a member`) });
    // The second member confirms, and accepts the loss.
    expect(await attempt(annotate(c.bob, two, 'h1', { [CONFIRM]: 'hsm-eastus-1' }))).toBe('admitted');
    expect(await attempt(annotate(c.bob, two, 'h1', { [ACCEPT]: 'the key material on hsm-eastus-1 may be lost' }))).toBe('admitted');
    const stored = await admin.get(hsms, two, 'hsm-h1');
    expect(stored.metadata?.annotations).toMatchObject({ [REQUESTED_BY]: alice, [CONFIRM]: 'hsm-eastus-1' });
  });

  it('two-person rule: no confirm before Delete, and no Delete over a confirm already there', async () => {
    expect(await attempt(c.alice.create(hsms, hsm(two, 'h2', 'Orphan')))).toBe('admitted');
    const early = await attempt(annotate(c.bob, two, 'h2', { [CONFIRM]: 'hsm-eastus-1' }));
    expect(early).toMatchObject({ code: 403, message: expect.stringContaining(`set deletionPolicy Delete first (with ${REQUESTED_BY}), then let another member confirm`) });
    // Both keys in one write by one person: refused.
    const both = await attempt(c.alice.create(hsms, hsm(two, 'h3', 'Delete', { [REQUESTED_BY]: alice, [CONFIRM]: 'hsm-eastus-1' })));
    expect(both).toMatchObject({ code: 403, message: expect.stringContaining('two-person rule') });
    // A confirmed object set back to Orphan and then to Delete again by the requester: the old confirm must go first.
    expect(await attempt(merge(c.alice, hsms, two, 'h1', { spec: { deletionPolicy: 'Orphan' } }))).toBe('admitted');
    const again = await attempt(merge(c.alice, hsms, two, 'h1', { spec: { deletionPolicy: 'Delete' } }));
    expect(again).toMatchObject({ code: 403, message: expect.stringContaining(`cannot be set while ${CONFIRM} or ${ACCEPT} is on the object`) });
  });
});
