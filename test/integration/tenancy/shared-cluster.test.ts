/**
 * A shared cluster (issue #22, invariant 7) on the real API server with the real operator, the ARM simulator and the
 * appliance and LunaCM simulators. The platform team owns a DedicatedHsm in its namespace and runs the operator with
 * a tenancy policy naming only that namespace; team-a and team-b act as themselves (impersonated users bound to the
 * chart's edit rules in their own namespace only) and try what an attacker with edit rights in one namespace would:
 * grant themselves, bind without or beyond a grant, take another namespace's client name, take over a client the
 * operator did not register, read partitions not granted, use a partition as an HA group member, deploy into or adopt
 * the platform's Azure HSM and delete or zeroize it. Every refusal is asserted twice: by the condition a human reads
 * and by the simulators' own counters (nothing reached the device or Azure).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Annotations, GROUP, VERSION, type HsmGrantSpec, type NtlsClientBinding } from '../../../src/api/index.js';
import { parseTenancyPolicy } from '../../../src/controllers/shared/index.js';
import { ResourceTypes, type Operator } from '../../../src/operator.js';
import { USER_ROLES, userRules } from '../../../src/rbac.js';
import { KubeClient } from '../../../src/runtime/client.js';
import type { KubeObject, ResourceType } from '../../../src/runtime/resource.js';
import { applianceSecret, dedicatedHsm } from '../../../src/sandbox/manifests.js';
import { startWorld, WORLD_PASSWORDS, type World } from '../../../src/sandbox/world.js';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { startTestOperator } from '../../support/operator.js';
import { waitFor } from '../../support/wait.js';
import { GROUP_PASSWORD_SECRET, LUNACM_SECRET, haGroup } from '../controllers/hsmhagroup/fixture.js';
import { clientCertificate } from '../controllers/ntlsclientbinding/fixture.js';
import { impersonating, RBAC_SETTLE_MS, status } from '../packaging/access.js';

const rbac = (plural: string, namespaced: boolean): ResourceType => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, namespaced });
const secrets: ResourceType = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' };
const events: ResourceType = { group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };

type EventObject = KubeObject & { reason?: string; note?: string; regarding?: { name?: string } };

describe('a shared cluster: platform team, team-a and team-b', () => {
  const admin = KubeClient.fromKubeConfig(adminConfig());
  const id = randomBytes(3).toString('hex');
  const users = { platform: `platform-${id}`, teamA: `team-a-${id}`, teamB: `team-b-${id}` };
  const cleanup: (() => Promise<unknown>)[] = [];
  let platform: string;
  let teamA: string;
  let teamB: string;
  let world: World;
  let operator: Operator;
  let as: { platform: KubeClient; teamA: KubeClient; teamB: KubeClient };

  /** Commands that named one of these clients and reached the appliance (`-client <name>`). */
  const clientCommands = (...names: string[]): number => names.reduce((s, n) => s + (world.appliances.get('hsm1')!.counters.commands.byClient[n] ?? 0), 0);
  const uploads = (): number => world.appliances.get('hsm1')!.counters.commands.byName['scp upload'] ?? 0;
  const commandCount = (name: string): number => world.appliances.get('hsm1')!.counters.commands.byName[name] ?? 0;

  const binding = (name: string, clientName: string, partitions: string[], o: { hsmNamespace?: string; annotations?: Record<string, string>; deletionPolicy?: 'Orphan' | 'Delete' } = {}) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'NtlsClientBinding',
    metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      clientName,
      identity: { hostname: `${name}.example.internal` },
      certificate: { generate: { keyAlgorithm: 'ECDSAP256' } },
      targets: [{ dedicatedHsmRef: { name: 'hsm1', namespace: o.hsmNamespace ?? platform }, partitions }],
      ...(o.deletionPolicy ? { deletionPolicy: o.deletionPolicy } : {}),
    },
  });
  const grant = (name: string, spec: Partial<HsmGrantSpec>) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'HsmGrant',
    metadata: { name, namespace: platform },
    spec: { dedicatedHsms: ['hsm1'], partitions: ['team-a-*'], ...spec },
  });

  const read = (ns: string, name: string) => admin.get<NtlsClientBinding>(ResourceTypes.bindings, ns, name);
  const registered = (b: NtlsClientBinding) => b.status?.conditions?.find((c) => c.type === 'Registered');
  /** Waits for a checked Registered condition (not the first status's "Not checked yet") with this reason. */
  async function waitReason(ns: string, name: string, reason: string): Promise<NtlsClientBinding> {
    return waitFor(`binding ${ns}/${name} Registered reason ${reason}`, async () => {
      const b = await read(ns, name);
      const c = registered(b);
      if (c?.reason === reason && c.message !== 'Not checked yet.' && b.status?.observedGeneration === b.metadata.generation) return b;
      // Say what it is instead, should it never come.
      throw new Error(`Registered is ${c?.status ?? '-'}/${c?.reason ?? '-'}: ${c?.message ?? '-'}`);
    }, 30_000);
  }
  async function eventsOf(ns: string, name: string, reason: string): Promise<EventObject[]> {
    return (await admin.list<EventObject>(events, { namespace: ns })).items.filter((e) => e.regarding?.name === name && e.reason === reason);
  }

  beforeAll(async () => {
    platform = await createNamespace('tenancy-platform');
    teamA = await createNamespace('tenancy-team-a');
    teamB = await createNamespace('tenancy-team-b');
    await admin.patch({ group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' }, undefined, teamB, { metadata: { labels: { [`tenant-${id}`]: 'b' } } }, 'merge');
    // Each identity: the chart's edit rules (what admin/edit aggregate) in its own namespace, nothing elsewhere.
    const editRole = USER_ROLES.find((r) => r.suffix === 'edit')!;
    const role = `hsm-operator-edit-${id}`;
    await admin.create(rbac('clusterroles', false), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: role }, rules: userRules(editRole) });
    cleanup.push(() => admin.delete(rbac('clusterroles', false), undefined, role));
    for (const [user, ns] of [[users.platform, platform], [users.teamA, teamA], [users.teamB, teamB]] as const) {
      await admin.create(rbac('rolebindings', true), {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: `edit-${id}`, namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }],
      });
    }
    as = { platform: impersonating(users.platform), teamA: impersonating(users.teamA), teamB: impersonating(users.teamB) };
    await waitFor('the tenants\' RBAC', async () => (await status(as.teamA.list(ResourceTypes.bindings, { namespace: teamA }))) === 200 && (await status(as.platform.list(ResourceTypes.grants, { namespace: platform }))) === 200, RBAC_SETTLE_MS);

    world = await startWorld({ hsms: [{ name: 'hsm1', stampId: 'stamp1', partitions: [{ label: 'team-a-payments' }, { label: 'team-b-orders' }, { label: 'platform-root' }] }] });
    // The platform team's tenancy policy: only its namespace reaches Azure (the global identity is off elsewhere).
    const policy = parseTenancyPolicy(
      `globalIdentity: onlyListed\nnamespaces:\n  - names: [${platform}]\n    identity: operator\n    subscriptions: [{ id: "${world.ids.subscriptionId}", resourceGroups: ["${world.ids.resourceGroup}"] }]\n`,
      platform,
    );
    operator = await startTestOperator({ namespace: platform, alsoWatch: [teamA, teamB], world, tenancy: policy });
    const secret = applianceSecret('hsm1-appliance');
    await admin.create(secrets, { ...secret, metadata: { ...secret.metadata, namespace: platform } });
    const hsm = dedicatedHsm(world, 'hsm1');
    await admin.create(ResourceTypes.dedicatedHsms, { ...hsm, metadata: { ...hsm.metadata, namespace: platform } });
    await waitFor('hsm1 deployed and reachable', async () => {
      const h = await admin.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(ResourceTypes.dedicatedHsms, platform, 'hsm1');
      return h.status?.conditions?.some((c) => c.type === 'ApplianceReachable' && c.status === 'True');
    }, 45_000);
  });

  afterAll(async () => {
    await operator?.stop(5_000);
    await world?.stop();
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('a tenant cannot grant itself: HsmGrants in the platform namespace are the platform team\'s to write', async () => {
    expect(await status(as.teamA.create(ResourceTypes.grants, grant(`self-${id}`, { namespaces: [teamA] })))).toBe(403);
    // ... while a grant in its own namespace lends only its own (here: no) HSMs.
    expect(await status(as.teamA.create(ResourceTypes.grants, { ...grant('own', { namespaces: [teamB] }), metadata: { name: 'own', namespace: teamA } }))).toBe(200);
  });

  it('without a grant a binding into the platform namespace gets NotGranted, and nothing reaches the appliance', async () => {
    const uploaded = uploads();
    await as.teamA.create(ResourceTypes.bindings, { ...binding('ungranted', 'team-a-ungranted', ['team-a-payments']), metadata: { name: 'ungranted', namespace: teamA } });
    const b = await waitReason(teamA, 'ungranted', 'NotGranted');
    expect(registered(b)?.message).toContain(`No HsmGrant admits NtlsClientBinding from namespace ${teamA} to DedicatedHsm ${platform}/hsm1`);
    expect(b.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NotGranted' });
    expect(clientCommands('team-a-ungranted')).toBe(0);
    expect(uploads()).toBe(uploaded);
    expect(world.appliances.get('hsm1')!.state.clients.has('team-a-ungranted')).toBe(false);
  });

  it('a grant admits the named namespace within its partitions and client-name prefix; outside them: NotGranted, nothing sent', async () => {
    await as.platform.create(ResourceTypes.grants, grant('team-a', { namespaces: [teamA], clientNamePrefix: 'team-a-', revocationPolicy: 'Unregister' }));
    // The earlier binding is admitted now (the grant's change re-enqueued it).
    const ok = await waitReason(teamA, 'ungranted', 'Registered');
    expect(ok.status?.targets?.[0]).toMatchObject({ dedicatedHsm: `${platform}/hsm1`, owned: true, grant: 'team-a', revocationPolicy: 'Unregister', partitions: ['team-a-payments'] });
    const out = await admin.get<KubeObject & { data?: Record<string, string> }>(secrets, teamA, 'ungranted-ntls');
    expect(Object.keys(out.data ?? {})).toContain(`${platform}_hsm1.pem`);

    const uploaded = uploads();
    await as.teamA.create(ResourceTypes.bindings, { ...binding('greedy', 'team-a-greedy', ['team-a-payments', 'platform-root']), metadata: { name: 'greedy', namespace: teamA } });
    await as.teamA.create(ResourceTypes.bindings, { ...binding('squatter', 'platform-app', ['team-a-payments']), metadata: { name: 'squatter', namespace: teamA } });
    expect(registered(await waitReason(teamA, 'greedy', 'NotGranted'))?.message).toContain('do not admit partition platform-root');
    expect(registered(await waitReason(teamA, 'squatter', 'NotGranted'))?.message).toContain('client name platform-app (it must start with "team-a-")');
    expect(clientCommands('team-a-greedy', 'platform-app')).toBe(0);
    // team-b is not named by the grant.
    await as.teamB.create(ResourceTypes.bindings, { ...binding('b-app', 'team-a-from-b', ['team-a-payments']), metadata: { name: 'b-app', namespace: teamB } });
    await waitReason(teamB, 'b-app', 'NotGranted');
    expect(clientCommands('team-a-greedy', 'platform-app', 'team-a-from-b')).toBe(0);
    expect(uploads()).toBe(uploaded);
    // Out of the way of the next stories (team-b is granted there).
    await as.teamB.delete(ResourceTypes.bindings, teamB, 'b-app');
  });

  it('a client name is one per appliance across namespaces: the newer binding leaves the older one\'s client alone', async () => {
    await as.platform.create(ResourceTypes.grants, grant('team-b', { namespaceSelector: { matchLabels: { [`tenant-${id}`]: 'b' } }, partitions: ['team-b-*', 'team-a-*'] }));
    const fingerprint = world.appliances.get('hsm1')!.state.clients.get('team-a-ungranted')?.certPem;
    const registers = commandCount('client register');
    const deletes = commandCount('client delete');
    await as.teamB.create(ResourceTypes.bindings, { ...binding('thief', 'team-a-ungranted', ['team-b-orders']), metadata: { name: 'thief', namespace: teamB } });
    const b = await waitReason(teamB, 'thief', 'Pending');
    expect(registered(b)?.message).toContain('belongs to an NtlsClientBinding in another namespace');
    expect(registered(b)?.message).not.toContain(teamA);
    expect(world.appliances.get('hsm1')!.state.clients.get('team-a-ungranted')?.certPem).toBe(fingerprint);
    expect(commandCount('client register')).toBe(registers);
    expect(commandCount('client delete')).toBe(deletes);
  });

  it('a client the operator did not register is neither replaced nor deleted; PartitionNotFound shows only granted partitions', async () => {
    const foreign = await clientCertificate('legacy.example.internal');
    world.appliances.get('hsm1')!.controls.registerClient('legacy-app', { hostname: 'legacy.example.internal' }, foreign.certPem, ['team-b-orders']);
    const registers = commandCount('client register');
    const deletes = commandCount('client delete');
    await as.teamB.create(ResourceTypes.bindings, { ...binding('takeover', 'legacy-app', ['team-b-orders'], { deletionPolicy: 'Delete' }), metadata: { name: 'takeover', namespace: teamB } });
    const b = await waitReason(teamB, 'takeover', 'ClientExists');
    expect(registered(b)?.message).toContain(Annotations.adoptClient);
    // Nothing of the other client is reported: not its partitions, not its fingerprint.
    expect(JSON.stringify(b.status)).not.toContain('team-b-orders');
    expect(b.status?.targets?.[0]).toEqual({ dedicatedHsm: `${platform}/hsm1`, host: expect.any(String), owned: false });
    // Deleting the binding (deletionPolicy Delete) must not delete a client it never owned.
    await as.teamB.delete(ResourceTypes.bindings, teamB, 'takeover');
    await waitFor('takeover gone', async () => (await status(read(teamB, 'takeover'))) === 404, 30_000);
    expect(world.appliances.get('hsm1')!.state.clients.get('legacy-app')?.certPem).toBe(foreign.certPem);
    expect(commandCount('client register')).toBe(registers);
    expect(commandCount('client delete')).toBe(deletes);

    await as.teamB.create(ResourceTypes.bindings, { ...binding('typo', 'team-b-typo', ['team-b-missing']), metadata: { name: 'typo', namespace: teamB } });
    const typo = await waitReason(teamB, 'typo', 'PartitionNotFound');
    expect(registered(typo)?.message).toContain('team-b-missing does not exist');
    // team-b's grant admits team-b-* and team-a-*: platform-root exists but is not named.
    expect(registered(typo)?.message).toContain('team-a-payments');
    expect(registered(typo)?.message).not.toContain('platform-root');
  });

  it('revoking a grant applies its recorded policy, once, and says so: Unregister deletes the client the binding registered', async () => {
    expect(world.appliances.get('hsm1')!.state.clients.has('team-a-ungranted')).toBe(true);
    const deletes = commandCount('client delete');
    await as.platform.delete(ResourceTypes.grants, platform, 'team-a');
    const b = await waitReason(teamA, 'ungranted', 'NotGranted');
    await waitFor('client unregistered', async () => !world.appliances.get('hsm1')!.state.clients.has('team-a-ungranted'), 30_000);
    expect(commandCount('client delete')).toBe(deletes + 1);
    expect(b.status?.targets?.[0]).toEqual({ dedicatedHsm: `${platform}/hsm1`, owned: false });
    const revoked = await waitFor('GrantRevoked Event', async () => {
      const e = await eventsOf(teamA, 'ungranted', 'GrantRevoked');
      return e.length ? e : undefined;
    }, 30_000);
    expect(revoked[0]?.note).toContain('revocationPolicy Unregister of grant team-a');
    // A later pass does not delete again (it no longer owns the client).
    await admin.patch(ResourceTypes.bindings, teamA, 'ungranted', { metadata: { annotations: { [Annotations.resyncNow]: 'after-revoke' } } }, 'merge');
    await waitFor('resync handled', async () => (await read(teamA, 'ungranted')).status?.lastHandledResyncAt === 'after-revoke', 30_000);
    expect(commandCount('client delete')).toBe(deletes + 1);
  });

  it('an HA group member on another namespace\'s HSM needs a grant for HsmHaGroup and that partition, named by label: NotGranted, nothing sent', async () => {
    // The group's own LunaCM host is the tenant's: it may be read; no group may be made of a partition not granted.
    const lunacm = () => world.lunacm.counters.commands.stateChanging;
    for (const [name, password] of [[LUNACM_SECRET, WORLD_PASSWORDS.lunacm], [GROUP_PASSWORD_SECRET, WORLD_PASSWORDS.partition]] as const) {
      await admin.create(secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: teamA, annotations: { [Annotations.credentialFor]: 'HsmHaGroup/*' } }, stringData: { password } });
    }
    // A grant for bindings only (kinds default to NtlsClientBinding) admits no HA group member.
    await as.platform.create(ResourceTypes.grants, grant('bindings-only', { namespaces: [teamA] }));
    const before = { lunacm: lunacm() };
    const m = haGroup(world, 'stolen', { members: [{ hsm: 'hsm1', partitionLabel: 'team-a-payments' }] });
    const spec = m.spec as { members: { dedicatedHsmRef: { name: string; namespace?: string } }[] };
    spec.members[0]!.dedicatedHsmRef.namespace = platform;
    await as.teamA.create(ResourceTypes.haGroups, { ...m, metadata: { name: 'stolen', namespace: teamA } });
    const bySerial = haGroup(world, 'by-serial', { members: [{ hsm: 'hsm1', partitionSerial: '1234' }] });
    (bySerial.spec as typeof spec).members[0]!.dedicatedHsmRef.namespace = platform;
    await as.teamA.create(ResourceTypes.haGroups, { ...bySerial, metadata: { name: 'by-serial', namespace: teamA } });
    type Group = KubeObject & { status?: { observedGeneration?: number; conditions?: { type: string; reason: string; message: string }[] } };
    const healthy = (name: string) =>
      waitFor(`HA group ${name} MembersHealthy NotGranted`, async () => {
        const g = await admin.get<Group>(ResourceTypes.haGroups, teamA, name);
        const c = g.status?.conditions?.find((x) => x.type === 'MembersHealthy');
        if (c?.reason === 'NotGranted') return c;
        throw new Error(`MembersHealthy is ${c?.reason ?? '-'}: ${c?.message ?? '-'}; conditions ${JSON.stringify(g.status?.conditions?.map((x) => [x.type, x.reason]))}`);
      }, 30_000);
    expect((await healthy('stolen')).message).toContain(`No HsmGrant admits HsmHaGroup from namespace ${teamA} to DedicatedHsm ${platform}/hsm1`);
    expect((await healthy('by-serial')).message).toContain('name the partition by partitionLabel');
    expect(lunacm()).toBe(before.lunacm);
    expect(world.lunacm.counters.commands.byName['hagroup creategroup'] ?? 0).toBe(0);
  });

  it('a tenant\'s DedicatedHsm reaches no Azure the policy did not give its namespace: not a new HSM, not the platform\'s (adopt), not a delete or zeroize', async () => {
    const armOf = (name: string) => world.arm.requests.filter((r) => r.path.toLowerCase().includes(`/dedicatedhsms/${name}`));
    const writesToHsm1 = () => armOf('hsm1').filter((r) => r.method !== 'GET').length;
    const hsm1Writes = writesToHsm1();
    const owner = world.arm.world.hsm('hsm1')?.tags['dedicatedhsm.io-owner-uid'];
    const own = dedicatedHsm(world, 'hsm1', { deletionPolicy: 'Delete' });
    const ownSpec = own.spec as { azure: Record<string, unknown>; appliance: Record<string, unknown> };
    // Its own HSM, in the platform's subscription; and the platform's HSM by ARM name, asking to adopt it, with its
    // appliance "at" an address of the tenant's choosing.
    const fresh = { ...own, metadata: { name: 'mine', namespace: teamA }, spec: { ...ownSpec, azure: { ...ownSpec.azure, name: 'team-a-hsm' } } };
    const squat = {
      ...own,
      metadata: { name: 'squat', namespace: teamA, annotations: { 'dedicatedhsm.io/adopt': 'hsm1', [Annotations.confirmZeroize]: 'hsm1' } },
      spec: { ...ownSpec, azure: { ...ownSpec.azure, name: 'hsm1' }, appliance: { ...ownSpec.appliance, host: '127.0.0.1' } },
    };
    for (const m of [fresh, squat]) expect(await status(as.teamA.create(ResourceTypes.dedicatedHsms, m))).toBe(200);
    type Hsm = KubeObject & { status?: { conditions?: { type: string; reason: string; message: string }[] } };
    const ready = (name: string) =>
      waitFor(`DedicatedHsm ${teamA}/${name} NotPermitted`, async () => {
        const h = await admin.get<Hsm>(ResourceTypes.dedicatedHsms, teamA, name);
        const c = h.status?.conditions?.find((x) => x.type === 'Ready');
        if (c?.reason === 'NotPermitted') return c;
        throw new Error(`Ready is ${c?.reason ?? '-'}: ${c?.message ?? '-'}`);
      }, 30_000);
    expect((await ready('mine')).message).toContain(`Namespace ${teamA} is not named in the operator's tenancy policy`);
    await ready('squat');
    // Deleting it (deletionPolicy Delete, the confirm annotation naming the platform's HSM): refused, nothing sent.
    await as.teamA.delete(ResourceTypes.dedicatedHsms, teamA, 'squat');
    await waitFor('squat held by its finalizer, DeletionBlocked NotPermitted', async () => {
      const h = await admin.get<Hsm>(ResourceTypes.dedicatedHsms, teamA, 'squat');
      return h.status?.conditions?.find((x) => x.type === 'DeletionBlocked' && x.reason === 'NotPermitted');
    }, 30_000);
    expect(armOf('team-a-hsm')).toEqual([]);
    expect(writesToHsm1()).toBe(hsm1Writes);
    expect(world.arm.world.hsm('hsm1')?.tags['dedicatedhsm.io-owner-uid']).toBe(owner);
    expect(world.appliances.get('hsm1')!.state.zeroized).toBe(false);
    // Released by the platform team's choice only: Orphan, then it goes (nothing in Azure was ever touched).
    await admin.patch(ResourceTypes.dedicatedHsms, teamA, 'squat', { spec: { deletionPolicy: 'Orphan' } }, 'merge');
    await waitFor('squat gone', async () => (await status(admin.get(ResourceTypes.dedicatedHsms, teamA, 'squat'))) === 404, 30_000);
    expect(writesToHsm1()).toBe(hsm1Writes);
  });
});
