/**
 * `hsm-operator plan` over the guide's stories, against the real API server and the ARM and appliance simulators:
 * subnet not delegated, gateway Updating, quota used up by failed leftovers, subscription not allowlisted, a stamp
 * without capacity, an immutable change, a password the appliance already rejected. The operator runs first to put
 * objects where the stories need them, then stops; from then on only plan talks to the world.
 *
 * Each plan goes to the cluster through an auditing proxy (every request seen), to Azure through the ARM simulator
 * (every request logged) and to the appliances' simulators (every login and command counted): the test asserts the
 * printed decision and exit code, and that nothing was written anywhere.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { GROUP, VERSION } from '../../../src/api/index.js';
import { planCommand } from '../../../src/cli/plan.js';
import { PLAN_API_VERSION, type PlanResult } from '../../../src/plan/types.js';
import { dedicatedHsm, type Manifest } from '../../../src/sandbox/manifests.js';
import { adminEndpoint, call } from '../../support/http.js';
import { createNamespace } from '../../support/kube.js';
import { startKubeAuditProxy, type KubeAuditProxy } from '../../support/kube-audit-proxy.js';
import { condition, startScenario, type Scenario } from '../controllers/dedicatedhsm/fixture.js';

const ep = adminEndpoint();

interface Run {
  code: number;
  out: string;
  err: string;
  /** Requests the ARM simulator and the API server (through the proxy) received during the run. */
  arm: string[];
  kube: string[];
}

describe('hsm-operator plan over the guide\'s stories', () => {
  let sc: Scenario;
  let proxy: KubeAuditProxy;
  let dir: string;
  let armCa: string;
  let before: Record<string, string>;
  const rejectedPassword = 'not-the-appliance-password';

  /** resourceVersion of every DedicatedHsm and Secret in the namespace, and how many Events it holds. */
  async function snapshot(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const path of [`/apis/${GROUP}/${VERSION}/namespaces/${sc.namespace}/dedicatedhsms`, `/api/v1/namespaces/${sc.namespace}/secrets`]) {
      const items = ((await call(ep, 'GET', path)).body.items ?? []) as { kind?: string; metadata: { name: string; resourceVersion: string } }[];
      for (const i of items) out[`${path.split('/').pop() ?? ''}/${i.metadata.name}`] = i.metadata.resourceVersion;
    }
    out.events = String((((await call(ep, 'GET', `/apis/events.k8s.io/v1/namespaces/${sc.namespace}/events`)).body.items ?? []) as unknown[]).length);
    return out;
  }

  function writeManifests(name: string, manifests: Manifest[]): string {
    const file = join(dir, name);
    writeFileSync(file, manifests.map((m) => stringify(m)).join('---\n'));
    return file;
  }

  async function plan(files: string | string[], ...flags: string[]): Promise<Run> {
    const arm0 = sc.world.arm.requests.length;
    const kube0 = proxy.requests.length;
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), env: {} };
    const argv = [...[files].flat().flatMap((f) => ['-f', f]), '--kubeconfig', proxy.kubeconfigPath, '-n', sc.namespace, '--azure-endpoint', sc.world.arm.endpoint, '--azure-ca-file', armCa, ...flags];
    const code = await planCommand(argv, io, new AbortController().signal, { azureCredential: sc.world.azure.credential, resolve: sc.world.resolve });
    const arm = sc.world.arm.requests.slice(arm0).map((r) => `${r.method} ${r.path}`);
    const kube = proxy.requests.slice(kube0).map((r) => `${r.method} ${r.url}`);
    // Nothing but reads, wherever plan went.
    expect(arm.filter((r) => !r.startsWith('GET ')), 'ARM writes').toEqual([]);
    expect(kube.filter((r) => !r.startsWith('GET ')), 'Kubernetes writes').toEqual([]);
    return { code, out, err, arm, kube };
  }

  /** A DedicatedHsm manifest for an HSM that was never deployed (the world's template, renamed). */
  function fresh(name: string, stampId: 'stamp1' | 'stamp2' = 'stamp2'): Manifest {
    const m = dedicatedHsm(sc.world, 'hsm1', { stampId });
    return { ...m, metadata: { name } };
  }

  beforeAll(async () => {
    sc = await startScenario({
      prefix: 'plan',
      world: {
        hsms: [
          { name: 'hsm1', stampId: 'stamp1' },
          { name: 'hsm2', stampId: 'stamp1' },
          { name: 'hsm3', stampId: 'stamp2' },
        ],
      },
    });
    sc.world.arm.world.setCapacity(0, { stampId: 'stamp2' });
    await sc.deploy('hsm1');
    await sc.deploy('hsm2', { password: rejectedPassword });
    await sc.deploy('hsm3', { stampId: 'stamp2' });
    await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 60_000);
    await sc.waitFor('hsm2', 'ApplianceReachable', { reason: 'CredentialRejected' }, 60_000);
    await sc.waitFor('hsm3', 'QuotaAvailable', { reason: 'CapacityExhausted' }, 60_000);
    await sc.stopOperator();
    // A Secret no login ever used, holding a wrong password: plan must not be the first to try it.
    await call(ep, 'POST', `/api/v1/namespaces/${sc.namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hsm1-wrong', annotations: { 'dedicatedhsm.io/credential-for': 'DedicatedHsm/*' } }, stringData: { password: 'never-tried-before' } });
    proxy = await startKubeAuditProxy();
    dir = mkdtempSync(join(tmpdir(), 'plan-stories-'));
    armCa = join(dir, 'arm-ca.pem');
    writeFileSync(armCa, sc.world.arm.caPem);
    before = await snapshot();
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await sc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('subnet not delegated: stops it with the guide\'s advice, exit 2', async () => {
    sc.world.arm.world.setSubnetDelegated(sc.world.ids.subnetId, false);
    try {
      const r = await plan(writeManifests('delegation.yaml', [fresh('hsm-new')]));
      expect(r.code, r.out + r.err).toBe(2);
      expect(r.out).toContain(`DedicatedHsm ${sc.namespace}/hsm-new`);
      expect(r.out).toContain('not in the cluster (new); in Azure: does not exist');
      expect(r.out).toMatch(/next: +nothing: stopped until a human acts: SubnetNotDelegated/);
      expect(r.out).toMatch(/✗ SubnetDelegated SubnetNotDelegated: Subnet hsmsubnet is not delegated to Microsoft\.HardwareSecurityModules\/dedicatedHSMs/);
      expect(r.out).toContain('Guide: "HSM Subnet Delegation"');
      expect(r.out).toContain('Exit 2: something needs a human');
    } finally {
      sc.world.arm.world.setSubnetDelegated(sc.world.ids.subnetId, true);
    }
  });

  it('gateway Updating: waits for the gateway, nothing needs a human, exit 0', async () => {
    sc.world.arm.world.setGatewayState('hsm-ergw', 'Updating');
    try {
      const r = await plan(writeManifests('gateway.yaml', [fresh('hsm-new')]));
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.out).toMatch(/next: +wait-for-gateway: no deployment until ExpressRoute gateway hsm-ergw is Succeeded \(it is Updating\)/);
      expect(r.out).toMatch(/… GatewayReady WaitingForGateway: Waiting for ExpressRoute gateway hsm-ergw/);
      expect(r.out).toContain('Guide: "HSM Deployment Race Condition"');
    } finally {
      sc.world.arm.world.setGatewayState('hsm-ergw', 'Succeeded');
    }
  });

  it('a healthy network: deploy, one PUT foreseen and none sent', async () => {
    const r = await plan(writeManifests('deploy.yaml', [fresh('hsm-new')]));
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/next: +deploy: deploy HSM hsm-new in eastus, stamp2: one PUT/);
    expect(r.arm.some((x) => x.includes('/dedicatedHSMs/hsm-new'))).toBe(true);
  });

  it('two new HSMs in one plan: the first deploy holds its place in the quota, as the deploy gate holds a PUT\'s', async () => {
    const { subscriptionId, location } = sc.world.ids;
    const inRegion = sc.world.arm.world.hsmNames().map((n) => sc.world.arm.world.hsm(n)).filter((h) => h && h.location === location && h.subscriptionId === subscriptionId).length;
    const r = await plan(writeManifests('two.yaml', [fresh('hsm-new-a'), fresh('hsm-new-b')]), '--hsm-quota-per-region', String(inRegion + 1), '--hsm-quota-per-stamp', '10', '-o', 'json');
    const result = JSON.parse(r.out) as PlanResult;
    expect(result.objects.map((o) => [o.name, o.next.action])).toEqual([
      ['hsm-new-a', 'deploy'],
      ['hsm-new-b', 'nothing'],
    ]);
    expect(result.objects[1]?.blockers).toContainEqual(expect.objectContaining({ reason: 'QuotaExceeded', message: expect.stringContaining(`holds ${inRegion + 1} of ${inRegion + 1}`) }));
    expect(r.code).toBe(2);
  });

  it('an HSM that exists in Azure under the name: refused without the adopt annotation; with it, adopt and tag it, never a second one', async () => {
    const { subscriptionId, resourceGroup, location, subnetId } = sc.world.ids;
    sc.world.arm.world.addHsm({ subscriptionId, resourceGroup, name: 'hsm-adopt', location, subnetId, stampId: 'stamp2' });
    const refused = await plan(writeManifests('refused.yaml', [fresh('hsm-adopt')]));
    expect(refused.code, refused.out + refused.err).toBe(2);
    expect(refused.out).toMatch(/AdoptionRefused: An Azure HSM named hsm-adopt already exists/);
    const m = fresh('hsm-adopt');
    const r = await plan(writeManifests('adopt.yaml', [{ ...m, metadata: { ...m.metadata, annotations: { 'dedicatedhsm.io/adopt': 'hsm-adopt' } } }]));
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/next: +update-tags: adopt the existing Azure HSM \/subscriptions\/.*\/dedicatedHSMs\/hsm-adopt \(no second one is created\), then set the tags .*dedicatedhsm\.io-owner-name=hsm-adopt/);
    expect(r.out).toMatch(/the operator would say: Normal Adopted: Adopted the existing Azure HSM/);
    expect(r.arm.filter((x) => x.includes('hsm-adopt')).every((x) => x.startsWith('GET '))).toBe(true);
  });

  it('subscription not allowlisted (feature not registered): stops it, exit 2', async () => {
    sc.world.arm.world.unregisterFeature('Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM');
    try {
      const r = await plan(writeManifests('allowlist.yaml', [fresh('hsm-new')]));
      expect(r.code, r.out + r.err).toBe(2);
      expect(r.out).toMatch(/✗ Provisioned NotAllowlisted: Not deployed: Microsoft\.HardwareSecurityModules\/AzureDedicatedHSM is NotRegistered\. .*Microsoft account manager/);
      expect(r.out).toContain('Guide: "Getting access to Dedicated HSM"');
    } finally {
      sc.world.arm.world.registerFeature('Microsoft.HardwareSecurityModules', 'AzureDedicatedHSM');
    }
  });

  it('stamp capacity: the failed deployment holds; plan says it waits for a human, exit 2', async () => {
    const r = await plan(writeManifests('capacity.yaml', [dedicatedHsm(sc.world, 'hsm3', { stampId: 'stamp2' })]));
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.out).toMatch(/exists: +in the cluster \(generation 1, Ready False\/CapacityExhausted\)/);
    expect(r.out).toMatch(/next: +nothing: stopped until a human acts: CapacityExhausted/);
    expect(r.out).toContain('Guide: "Deployment failure based on capacity"');
    expect(r.out).toContain('the spec in the file is the spec in the cluster');
  });

  it('an immutable change to an existing object: refused by the API server, with the diff, exit 2; Azure is not asked', async () => {
    const m = dedicatedHsm(sc.world, 'hsm1', { stampId: 'stamp2' });
    (m.spec as { azure: Record<string, unknown> }).azure.tags = { environment: 'production' };
    const r = await plan(writeManifests('immutable.yaml', [m]));
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.out).toMatch(/next: +refused: the API server refuses this manifest \(stampId is immutable: an HSM cannot be moved; create a new DedicatedHsm\)/);
    expect(r.out).toContain('✗ spec.azure.stampId: stampId is immutable');
    expect(r.out).toContain('changes (spec in the cluster -> file):');
    expect(r.out).toContain('~ spec.azure.stampId: "stamp1" -> "stamp2"');
    expect(r.out).toContain('+ spec.azure.tags: {"environment":"production"}');
    expect(r.arm).toEqual([]);
  });

  it('a tags-only change to a deployed HSM: update tags; with --appliance its appliance is read with read commands only', async () => {
    const sim = sc.world.appliances.get('hsm1');
    if (!sim) throw new Error('no appliance hsm1');
    const c0 = structuredClone(sim.counters.commands);
    const logins0 = structuredClone(sim.counters.hsmLogins);
    const m = dedicatedHsm(sc.world, 'hsm1');
    (m.spec as { azure: Record<string, unknown> }).azure.tags = { environment: 'production' };
    const r = await plan(writeManifests('tags.yaml', [m]), '--appliance');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/next: +update-tags: set the tags of Azure HSM hsm1 to the spec's and the ownership tags \(environment=production, dedicatedhsm\.io-owner-namespace=[^,]+, dedicatedhsm\.io-owner-name=hsm1, dedicatedhsm\.io-owner-uid=[0-9a-f-]{36}\)/);
    expect(r.out).toMatch(/passes: +DeletionBlocked, SubnetDelegated, GatewayReady, QuotaAvailable, Provisioned, ApplianceReachable, NtlsReachable, RebootPatchInstalled\n/);
    expect(r.out).not.toContain("operator's last reading");
    expect(r.out).toContain('read-only commands sent to');
    expect(sim.counters.commands.stateChanging).toBe(c0.stateChanging);
    expect(sim.counters.commands.readOnly).toBeGreaterThan(c0.readOnly);
    expect(sim.counters.hsmLogins).toEqual(logins0);
    expect(r.arm.filter((x) => x.startsWith('PATCH'))).toEqual([]);
  });

  it('a password the appliance already rejected is not spent again, even with --appliance; the rejection stops it, exit 2', async () => {
    const sim = sc.world.appliances.get('hsm2');
    if (!sim) throw new Error('no appliance hsm2');
    const hsm2 = await sc.get('hsm2');
    expect(hsm2.status?.credentialGuard?.length).toBe(1);
    const ssh0 = structuredClone(sim.counters.ssh);
    const r = await plan(writeManifests('rejected.yaml', [dedicatedHsm(sc.world, 'hsm2')]), '--appliance');
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.out).toMatch(/✗ ApplianceReachable CredentialRejected \(operator's last reading\)/);
    expect(r.out).toMatch(/not logged in to \(the operator recorded a rejection of the password in Secret .*hsm2-appliance/);
    expect(sim.counters.ssh.connections).toBe(ssh0.connections);
    expect(sim.counters.ssh.sshLogins).toEqual(ssh0.sshLogins);
    expect(condition(await sc.get('hsm2'), 'ApplianceReachable')?.reason).toBe('CredentialRejected');
  });

  it('a Secret the operator has not logged in with is not tried by plan, even with --appliance (it could not record a rejection: invariant 1)', async () => {
    const sim = sc.world.appliances.get('hsm1');
    if (!sim) throw new Error('no appliance hsm1');
    const ssh0 = structuredClone(sim.counters.ssh);
    const guard0 = (await sc.get('hsm1')).status?.credentialGuard;
    // The operator logged in with hsm1-appliance (recorded); hsm1-wrong is a value it never tried.
    expect((await sc.get('hsm1')).status?.appliance?.credentialAccepted?.secretName).toMatch(/\/hsm1-appliance$/);
    const m = dedicatedHsm(sc.world, 'hsm1', { credentialsSecret: 'hsm1-wrong' });
    const r = await plan(writeManifests('fresh-rejection.yaml', [m]), '--appliance', '-o', 'json');
    const result = JSON.parse(r.out) as PlanResult;
    expect(result.objects[0]?.notes.join('\n') + r.out).toMatch(/the operator has not logged in with Secret .*hsm1-wrong/);
    expect(result.refusedWrites).toEqual([]);
    // No login at all: the operator will try that value once, and record the outcome.
    expect(sim.counters.ssh.connections).toBe(ssh0.connections);
    expect(sim.counters.ssh.sshLogins).toEqual(ssh0.sshLogins);
    expect((await sc.get('hsm1')).status?.credentialGuard).toEqual(guard0);
  });

  it('quota used up by failed leftovers: names them, exit 2', async () => {
    const { subscriptionId, resourceGroup, location, subnetId } = sc.world.ids;
    for (const name of ['old-failed-1', 'old-failed-2']) sc.world.arm.world.addHsm({ subscriptionId, resourceGroup, name, location, subnetId, stampId: 'stamp2', provisioningState: 'Failed' });
    const r = await plan(writeManifests('quota.yaml', [fresh('hsm-new')]));
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.out).toMatch(/✗ QuotaAvailable QuotaExceeded: Not deployed: quota exceeded/);
    expect(r.out).toMatch(/Failed deployments still consuming quota: .*old-failed-1 \(stamp2\), old-failed-2 \(stamp2\): delete them/);
    expect(r.out).toContain('Guide: "Deployment failure based on quota"');
  });

  it('-o json over a directory: a stable shape; other kinds ignored; references of a binding checked', async () => {
    const sub = mkdtempSync(join(dir, 'repo-'));
    writeFileSync(join(sub, 'hsms.yaml'), [dedicatedHsm(sc.world, 'hsm1'), dedicatedHsm(sc.world, 'hsm3', { stampId: 'stamp2' })].map((m) => stringify(m)).join('---\n'));
    writeFileSync(
      join(sub, 'binding.yaml'),
      stringify({
        apiVersion: 'dedicatedhsm.io/v1alpha1',
        kind: 'NtlsClientBinding',
        metadata: { name: 'app-a' },
        spec: { clientName: 'app-a', identity: { hostname: 'app-a.example.internal' }, certificate: { generate: {} }, targets: [{ dedicatedHsmRef: { name: 'hsm1' }, partitions: ['par0'] }, { dedicatedHsmRef: { name: 'hsm-gone' }, partitions: ['par0'] }] },
      }),
    );
    writeFileSync(join(sub, 'config.yaml'), stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated' }, data: {} }));
    const r = await plan(sub, '-o', 'json');
    const result = JSON.parse(r.out) as PlanResult;
    expect(result.apiVersion).toBe(PLAN_API_VERSION);
    expect(r.code).toBe(2);
    expect(result.exitCode).toBe(2);
    expect(result.objects.map((o) => [o.kind, o.name, o.next.action, o.needsHuman])).toEqual([
      ['NtlsClientBinding', 'app-a', 'not-planned', false],
      ['DedicatedHsm', 'hsm1', 'nothing', false],
      ['DedicatedHsm', 'hsm3', 'nothing', true],
    ]);
    const binding = result.objects[0];
    expect(binding?.blockers).toContainEqual(expect.objectContaining({ reason: 'TargetNotFound', message: expect.stringContaining('hsm-gone') }));
    expect(result.objects[1]?.exists).toMatchObject({ cluster: true, azure: { state: 'exists', provisioningState: 'Succeeded' } });
    expect(result.ignored).toEqual([{ source: expect.stringContaining('config.yaml'), kind: 'ConfigMap', name: 'unrelated' }]);
    expect(result.refusedWrites).toEqual([]);
    expect(result.statusNotWritten).toEqual([]);
  });

  it('a binding without a grant: NotGranted, as the operator would decide it; once the HSM owners grant it, the grant no longer blocks', async () => {
    const platform = await createNamespace('plan-platform');
    const file = writeManifests('cross.yaml', [
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'NtlsClientBinding',
        metadata: { name: 'tenant-app' },
        spec: { clientName: 'team-a-app', identity: { hostname: 'tenant.example.internal' }, certificate: { generate: {} }, targets: [{ dedicatedHsmRef: { name: 'hsm-shared', namespace: platform }, partitions: ['team-a-par'] }] },
      },
    ]);
    const denied = await plan(file, '-o', 'json');
    const refused = (JSON.parse(denied.out) as PlanResult).objects[0];
    expect(denied.code).toBe(2);
    expect(refused?.blockers).toEqual([
      expect.objectContaining({ reason: 'NotGranted', message: expect.stringContaining(`No HsmGrant admits NtlsClientBinding from namespace ${sc.namespace} to DedicatedHsm ${platform}/hsm-shared`) }),
    ]);
    // Without a grant plan does not even look the HSM up (the operator does not either).
    expect(denied.kube.some((r) => r.includes(`/namespaces/${platform}/dedicatedhsms`))).toBe(false);

    const grant = { apiVersion: `${GROUP}/${VERSION}`, kind: 'HsmGrant', metadata: { name: 'team-a' }, spec: { namespaces: [sc.namespace], dedicatedHsms: ['hsm-shared'], partitions: ['team-a-*'], clientNamePrefix: 'team-a-' } };
    const created = await call(ep, 'POST', `/apis/${GROUP}/${VERSION}/namespaces/${platform}/hsmgrants`, grant);
    expect(created.status, created.text).toBe(201);
    const granted = await plan(file, '-o', 'json');
    const admitted = (JSON.parse(granted.out) as PlanResult).objects[0];
    expect(admitted?.blockers.map((b) => b.reason)).toEqual(['TargetNotFound']);
    expect(admitted?.blockers[0]?.message).toContain(`DedicatedHsm ${platform}/hsm-shared exists neither in the cluster nor in this change`);
  });

  it('a usage error is exit 1 (2 only ever means a human must act)', async () => {
    let err = '';
    const code = await planCommand(['--output', 'yaml', '-f', 'x'], { out: () => undefined, err: (t) => void (err += t), env: {} }, new AbortController().signal);
    expect(code).toBe(1);
    expect(err).toContain('--output must be text or json');
  });

  it('after every story: nothing in the namespace changed (resourceVersions, Events), the operator still stopped', async () => {
    expect(await snapshot()).toEqual(before);
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.every((r) => r.method === 'GET')).toBe(true);
  });
});
