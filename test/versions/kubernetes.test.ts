/**
 * The versions tier (`npm run test:versions`): this file runs once per release pinned under
 * test/controlplane/versions/ (projects `versions-v1.34`, `versions-v1.37`), against that release's real
 * kube-apiserver and etcd, started once per project by test/support/versions-setup.ts. It checks what a cluster upgrade
 * or an older LTS cluster could break: the served version, the CRDs (structural schemas, CEL rules, defaults), admission
 * of every sample and of the invalid corpus with its messages, and the main path through the operator: a DedicatedHsm
 * converges to Ready against the ARM and appliance simulators, and an NtlsClientBinding registers on it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sampleFiles } from '../../src/sandbox/samples.js';
import { FINALIZER, SKU_A790 } from '../../src/api/index.js';
import { adminEndpoint, call, type Endpoint } from '../support/http.js';
import { loadCrdFiles } from '../support/crds.js';
import { createNamespace } from '../support/kube.js';
import { ensureGeneratedCrds } from '../integration/api/crds.js';
import { create, get, loadManifests, remove, type Manifest } from '../integration/api/objects.js';
import { condition as hsmCondition, startScenario, type Scenario } from '../integration/controllers/dedicatedhsm/fixture.js';
import { condition as bindingCondition, ntlsBinding, startBindingFixture, waitReady, type BindingFixture } from '../integration/controllers/ntlsclientbinding/fixture.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const samplesDir = join(repoRoot, 'config/samples');
const invalidDir = join(repoRoot, 'test/fixtures/invalid');
const release = inject('controlPlaneRelease');

describe(`Kubernetes ${release.kubernetes} (etcd ${release.etcd})`, () => {
  let ep: Endpoint;
  let ns: string;
  beforeAll(async () => {
    ep = adminEndpoint();
    ns = await createNamespace('versions-api');
    // Applies crds/ again and waits until every kind's CEL rules are in force.
    await ensureGeneratedCrds(ep, ns);
  }, 120_000);

  it('kubectl version -o json reports the pinned release for client and server', () => {
    const r = spawnSync(release.kubectl, ['--kubeconfig', inject('controlPlane').kubeconfigPath, 'version', '-o', 'json'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string; major: string; minor: string } };
    expect(v.serverVersion.gitVersion).toBe(release.kubernetes);
    expect(v.clientVersion.gitVersion).toBe(release.kubernetes);
    expect(`v${v.serverVersion.major}.${v.serverVersion.minor}.`).toBe(release.kubernetes.replace(/\d+$/, ''));
  });

  it('runs the release its project is named for (versions-v1.NN), not the default of npm test', ({ task }) => {
    expect(task.file.projectName).toBe(`versions-${release.kubernetes.replace(/\.\d+$/, '')}`);
    expect(release.kubernetes).not.toBe('v1.35.4');
  });

  it('every CRD is Established, its names accepted, its schema structural, and the stored version served', async () => {
    const crds = loadCrdFiles();
    expect(crds.map((c) => c.metadata?.name).sort()).toEqual(['dedicatedhsms.dedicatedhsm.io', 'hsmgrants.dedicatedhsm.io', 'hsmhagroups.dedicatedhsm.io', 'ntlsclientbindings.dedicatedhsm.io']);
    for (const crd of crds) {
      const r = await call(ep, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}`);
      expect(r.status, r.text).toBe(200);
      const conditions = ((r.body.status as { conditions?: { type: string; status: string; message?: string }[] }).conditions ?? []);
      const byType = Object.fromEntries(conditions.map((c) => [c.type, c]));
      expect(byType.Established?.status, crd.metadata?.name).toBe('True');
      expect(byType.NamesAccepted?.status, crd.metadata?.name).toBe('True');
      // The API server sets NonStructuralSchema when a schema is not structural (and then ignores defaults and pruning).
      expect(byType.NonStructuralSchema, JSON.stringify(byType.NonStructuralSchema)).toBeUndefined();
      // Defaults, enums and CEL rules survived the round trip (the typed client would have dropped them).
      const served = JSON.stringify(r.body.spec);
      expect(served).toContain('x-kubernetes-validations');
      expect(served).toContain('"default"');
    }
    // Discovery lists the four kinds with their short names, as kubectl uses them.
    const disc = await call(ep, 'GET', '/apis/dedicatedhsm.io/v1alpha1');
    const resources = (disc.body.resources as { name: string; kind: string; shortNames?: string[] }[]).filter((x) => !x.name.includes('/'));
    expect(resources.map((x) => x.kind).sort()).toEqual(['DedicatedHsm', 'HsmGrant', 'HsmHaGroup', 'NtlsClientBinding']);
    expect(resources.find((x) => x.kind === 'DedicatedHsm')?.shortNames).toContain('dhsm');
  });

  describe('admission', () => {
    const files = sampleFiles(samplesDir).map((f) => f.file);

    it.each(files)('sample %s is accepted as written (strict field validation, nothing pruned)', async (file) => {
      const manifests = loadManifests(join(samplesDir, file));
      expect(manifests.length).toBeGreaterThan(0);
      for (const m of manifests) {
        const r = await create(ep, ns, m);
        expect(r.status, `${m.kind}/${m.metadata.name}: ${r.text}`).toBe(201);
        if (m.spec) expect(r.body.spec).toMatchObject(m.spec);
      }
    });

    it('the API server fills the documented defaults of each kind', async () => {
      const hsm = await get(ep, ns, { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'DedicatedHsm', metadata: { name: 'hsm-eastus-1' } } as Manifest);
      expect(hsm.status, hsm.text).toBe(200);
      expect(hsm.body.spec).toMatchObject({
        azure: { sku: SKU_A790 },
        appliance: { port: 22, username: 'tenantadmin', ntlsPort: 1792, insecureTrustOnFirstUse: false, credentialsRef: { key: 'password' } },
        deployment: { raceRetries: 3, redeployAfter: 2 },
        deletionPolicy: 'Orphan',
        resyncInterval: '10m',
      });
      const binding = await get(ep, ns, { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'NtlsClientBinding', metadata: { name: 'app-a' } } as Manifest);
      expect(binding.body.spec).toMatchObject({ certificate: { generate: { duration: '2160h', keyAlgorithm: 'RSA2048' } }, driftCheckInterval: '5m' });
      const ha = await get(ep, ns, { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'HsmHaGroup', metadata: { name: 'payments-ha' } } as Manifest);
      expect(ha.body.spec).toMatchObject({ client: { port: 22, insecureTrustOnFirstUse: false, credentialsRef: { key: 'password' } }, passwordSecretRef: { key: 'password' } });
    });

    const invalid = readdirSync(invalidDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((file) => ({ file, expected: /^# expect: (.+)$/m.exec(readFileSync(join(invalidDir, file), 'utf8'))?.[1]?.trim() ?? '', manifest: loadManifests(join(invalidDir, file))[0]! }));

    it('the invalid corpus covers all four kinds', () => {
      expect(invalid.length).toBeGreaterThanOrEqual(40);
      expect(new Set(invalid.map((f) => f.manifest.kind))).toEqual(new Set(['DedicatedHsm', 'HsmGrant', 'HsmHaGroup', 'NtlsClientBinding']));
    });

    it.each(invalid)('$file is refused with 422 naming $expected', async ({ manifest, expected }) => {
      expect(expected).not.toBe('');
      const r = await create(ep, ns, manifest);
      if (r.status < 300) await remove(ep, ns, manifest);
      expect(r.status, r.text).toBe(422);
      expect(String(r.body.message)).toContain(expected);
    });
  });

  describe('a DedicatedHsm converges through the operator', () => {
    let sc: Scenario;
    beforeAll(async () => {
      sc = await startScenario({ prefix: 'versions-dhsm', operator: { resyncIntervalMs: 2_000 } });
      await sc.deploy('hsm1', { stampId: 'stamp1' });
    }, 60_000);
    afterAll(async () => sc?.stop());

    it('becomes Ready with its Azure resource and appliance in status, deployed with exactly one PUT', async () => {
      const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 60_000);
      const arm = sc.world.arm.world.hsm('hsm1');
      expect(arm?.provisioningState).toBe('Succeeded');
      expect(hsm.status?.resourceId).toBe(arm?.id);
      expect(hsm.status?.privateIpAddress).toBe(arm?.privateIpAddress);
      expect(hsm.status?.appliance).toMatchObject({ serial: sc.world.appliances.get('hsm1')?.state.serial, zeroized: false, hostKeyFingerprint: sc.world.appliances.get('hsm1')?.hostKeyFingerprint });
      for (const t of ['SubnetDelegated', 'GatewayReady', 'QuotaAvailable', 'Provisioned', 'ApplianceReachable', 'NtlsReachable']) expect(hsmCondition(hsm, t)?.status, t).toBe('True');
      expect(hsm.metadata.finalizers).toContain(FINALIZER);
      expect(hsm.status?.observedGeneration).toBe(hsm.metadata.generation);
      expect(sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs/hsm1' })).toBe(1);
    });

    it('the printer columns render through this release (kubectl get dhsm)', async () => {
      const t = await sc.table();
      expect(t.columns).toEqual(expect.arrayContaining(['Ready', 'Reason', 'Provisioning', 'IP']));
      expect(t.rows.find((r) => r.Name === 'hsm1')).toMatchObject({ Ready: 'True', Provisioning: 'Succeeded', IP: sc.world.arm.world.hsm('hsm1')?.privateIpAddress });
    });
  });

  describe('an NtlsClientBinding registers on a converged HSM', () => {
    let fx: BindingFixture;
    beforeAll(async () => {
      fx = await startBindingFixture({ prefix: 'versions-ntlsb', hsms: [{ name: 'hsm1', stampId: 'stamp1', partitions: [{ label: 'par0' }] }], settings: { ntlsTimeoutMs: 10_000 } });
      await fx.apply(ntlsBinding('app-a', { targets: [{ hsm: 'hsm1', partitions: ['par0'] }] }));
    }, 120_000);
    afterAll(async () => fx?.stop());

    it('is Ready and InSync, registered on the appliance with its partition and generated certificate', async () => {
      const b = await waitReady(fx, 'app-a', 60_000);
      expect(bindingCondition(b, 'CertificateValid')?.status).toBe('True');
      const client = fx.world.appliances.get('hsm1')?.state.clients.get('app-a');
      expect(client).toMatchObject({ hostname: 'app-a.example.internal' });
      expect([...(client?.partitions ?? [])]).toEqual(['par0']);
      const out = await fx.secretData(`${b.status?.outputSecretName ?? 'app-a-ntls'}`);
      expect(out['Chrystoki.conf']).toContain(await fx.hsmAddress('hsm1'));
    });
  });
});
