/**
 * Every sample in config/samples (the platform team's directory and app team A's) is accepted by the real API server,
 * and the API server fills the documented defaults.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SKU_A790 } from '../../../src/api/index.js';
import { SAMPLE_NAMESPACES, sampleFiles } from '../../../src/sandbox/samples.js';
import { createNamespace } from '../../support/kube.js';
import { ensureGeneratedCrds } from './crds.js';
import { adminEndpoint, type Endpoint } from '../../support/http.js';
import { create, get, loadManifests, type Manifest } from './objects.js';

const samplesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/samples');
const files = sampleFiles(samplesDir);
const kustomization = (dir: string) => parse(readFileSync(join(samplesDir, dir, 'kustomization.yaml'), 'utf8')) as { resources: string[]; namespace?: string };

describe('config/samples', () => {
  let ns: string;
  let ep: Endpoint;
  beforeAll(async () => {
    ep = adminEndpoint();
    ns = await createNamespace('api-samples');
    await ensureGeneratedCrds(ep, ns);
  });

  it('the kustomizations list every sample file; platform/ and app-a/ set their namespaces, no file sets one itself', () => {
    expect(kustomization('.').resources).toEqual(['platform', 'app-a']);
    expect(kustomization('.').namespace).toBeUndefined();
    expect(kustomization('platform').namespace).toBe(SAMPLE_NAMESPACES.platform);
    expect(kustomization('app-a').namespace).toBe(SAMPLE_NAMESPACES.app);
    const onDisk = ['platform', 'app-a'].flatMap((d) => readdirSync(join(samplesDir, d)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').map((f) => `${d}/${f}`));
    expect(files.map((f) => f.file).sort()).toEqual(onDisk.sort());
    expect(readdirSync(samplesDir).filter((f) => f.endsWith('.yaml'))).toEqual(['kustomization.yaml']);
    for (const { file } of files) for (const m of loadManifests(join(samplesDir, file))) expect(m.metadata.namespace, file).toBeUndefined();
  });

  it.each(files.map((f) => f.file))('%s is accepted', async (file) => {
    const manifests = loadManifests(join(samplesDir, file));
    expect(manifests.length).toBeGreaterThan(0);
    for (const m of manifests) {
      const r = await create(ep, ns, m);
      expect(r.status, `${m.kind}/${m.metadata.name}: ${r.text}`).toBe(201);
      // Strict validation passed and nothing was pruned: every field the sample sets comes back.
      expect(r.body.spec ?? r.body.stringData ?? r.body.data).toBeDefined();
      if (m.spec) expect(r.body.spec).toMatchObject(m.spec);
    }
  });

  it('the API server fills the documented defaults', async () => {
    const hsm = await get(ep, ns, { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'DedicatedHsm', metadata: { name: 'hsm-eastus-1' } } as Manifest);
    expect(hsm.status).toBe(200);
    expect(hsm.body.spec).toMatchObject({
      azure: { sku: SKU_A790 },
      appliance: { port: 22, username: 'tenantadmin', ntlsPort: 1792, insecureTrustOnFirstUse: false, credentialsRef: { key: 'password' } },
      deployment: { raceRetries: 3, redeployAfter: 2 },
      deletionPolicy: 'Orphan',
      resyncInterval: '10m',
    });
    expect((hsm.body.spec as { azure: Record<string, unknown> }).azure.name).toBeUndefined();

    const binding = await get(ep, ns, { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'NtlsClientBinding', metadata: { name: 'app-a' } } as Manifest);
    expect(binding.body.spec).toMatchObject({ certificate: { generate: { duration: '2160h', keyAlgorithm: 'RSA2048' } }, driftCheckInterval: '5m' });
    expect((binding.body.spec as Record<string, unknown>).outputSecretName).toBeUndefined();

    const ha = await get(ep, ns, { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'HsmHaGroup', metadata: { name: 'payments-ha' } } as Manifest);
    expect(ha.body.spec).toMatchObject({ client: { port: 22, insecureTrustOnFirstUse: false, credentialsRef: { key: 'password' } }, passwordSecretRef: { key: 'password' } });
  });

  it('fills nested defaults when a defaulted section is left out entirely', async () => {
    const [hsm] = loadManifests(join(samplesDir, 'platform/dedicatedhsm-stamp1.yaml'));
    const [ha] = loadManifests(join(samplesDir, 'platform/hsmhagroup.yaml'));
    if (!hsm || !ha) throw new Error('samples missing');
    const spec = hsm.spec as { deployment?: unknown; resyncInterval?: unknown; deletionPolicy?: unknown };
    delete spec.deployment;
    delete spec.resyncInterval;
    delete spec.deletionPolicy;
    const h = await create(ep, ns, { ...hsm, metadata: { name: 'hsm-minimal' } });
    expect(h.status, h.text).toBe(201);
    expect(h.body.spec).toMatchObject({ deployment: { raceRetries: 3, redeployAfter: 2 }, deletionPolicy: 'Orphan', resyncInterval: '10m' });

    const haSpec = ha.spec as { recovery?: unknown; synchronize?: unknown; pollInterval?: unknown };
    delete haSpec.recovery;
    delete haSpec.synchronize;
    delete haSpec.pollInterval;
    const g = await create(ep, ns, { ...ha, metadata: { name: 'ha-minimal' } });
    expect(g.status, g.text).toBe(201);
    expect(g.body.spec).toMatchObject({
      recovery: { autoRecoveryRetries: 10, autoRecoveryInterval: 60, operatorRecovery: true, maxAttemptsPerWindow: 3, window: '1h' },
      synchronize: true,
      pollInterval: '30s',
    });
  });
});
