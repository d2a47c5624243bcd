/**
 * The real API server accepts what the chart and the kustomize config render: every object goes through a
 * server-side apply with dryRun=All (schema validation, defaulting, admission), and the operator's pod passes
 * the restricted Pod Security Standard.
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { ALL_ON, find, helmTemplate, kustomizeBuild, type Manifest } from './render.js';

const CLIENT_ID = '6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

let objects: KubernetesObjectApi;
let core: CoreV1Api;

/** Server-side apply without persisting anything; resolves with what the server would store. */
const dryRunApply = (m: Manifest) => objects.patch(m as KubernetesObject, undefined, 'All', 'hsm-operator-packaging-test', true, PatchStrategy.ServerSideApply);

async function ensureNamespace(name: string, labels?: Record<string, string>): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
}

async function expectAccepted(ms: Manifest[]): Promise<void> {
  for (const m of ms) {
    const stored = (await dryRunApply(m).catch((e: { body?: string; message?: string }) => {
      throw new Error(`${m.kind}/${m.metadata.name} rejected: ${e.body ?? e.message}`);
    })) as Manifest;
    expect(stored.metadata.name, `${m.kind}/${m.metadata.name}`).toBe(m.metadata.name);
    // dryRun=All: nothing is persisted, so the server answers without a real uid having been stored.
  }
}

beforeAll(() => {
  objects = KubernetesObjectApi.makeApiClient(adminConfig());
  core = adminConfig().makeApiClient(CoreV1Api);
});

describe('server-side dry-run', () => {
  it('accepts every object the chart renders, CRDs included', async () => {
    const ns = await createNamespace('pkg-helm');
    // The Grafana dashboard is a ConfigMap; ServiceMonitor and PrometheusRule need the Prometheus Operator's CRDs.
    const ms = await helmTemplate({ namespace: ns, includeCrds: true, set: [`azure.workloadIdentity.clientId=${CLIENT_ID}`, 'metrics.grafanaDashboard.enabled=true'] });
    expect(ms.map((m) => m.kind)).toContain('ConfigMap');
    expect(ms.length).toBeGreaterThanOrEqual(12);
    await expectAccepted(ms);
    // The server fills defaults into what it would store: proof the Deployment went through the real API.
    const d = (await dryRunApply(find(ms, 'Deployment'))) as Manifest & { spec: { strategy?: { type?: string } } };
    expect(d.spec.strategy?.type).toBe('RollingUpdate');
  });

  it('accepts the chart restricted to some namespaces', async () => {
    const ns = await createNamespace('pkg-helm-ns');
    const watched = await createNamespace('pkg-helm-watched');
    const ms = await helmTemplate({ namespace: ns, set: [`watchNamespaces={${watched}}`] });
    expect(ms.some((m) => m.kind === 'RoleBinding' && m.metadata.namespace === watched)).toBe(true);
    await expectAccepted(ms);
  });

  it('accepts the chart with every option on: NetworkPolicy, extra volumes, metrics certificate and reader binding', async () => {
    const ns = await createNamespace('pkg-helm-all');
    const watched = await createNamespace('pkg-helm-all-watched');
    const ms = (await helmTemplate({ namespace: ns, set: [...ALL_ON, `watchNamespaces={${watched}}`] })).filter((m) => !m.apiVersion.startsWith('monitoring.coreos.com/'));
    expect(ms.map((m) => m.kind)).toEqual(expect.arrayContaining(['NetworkPolicy', 'ClusterRoleBinding', 'ConfigMap']));
    await expectAccepted(ms);
    const np = (await dryRunApply(find(ms, 'NetworkPolicy'))) as Manifest & { spec: { egress: unknown[] } };
    expect(np.spec.egress).toHaveLength(4);
    const d = (await dryRunApply(find(ms, 'Deployment'))) as Manifest & { spec: { template: { spec: { volumes: { name: string }[] } } } };
    expect(d.spec.template.spec.volumes.map((v) => v.name)).toEqual(['tmp', 'metrics-tls', 'azure-ca']);
  });

  it('accepts every object kustomize renders from config/default', async () => {
    const ms = await kustomizeBuild('config/default');
    const namespace = find(ms, 'Namespace');
    // Namespaced objects need their namespace to exist, even in a dry run.
    await ensureNamespace(namespace.metadata.name, namespace.metadata.labels);
    await expectAccepted(ms);
  });

  it('rejects a broken object (the dry run really validates)', async () => {
    const ms = await kustomizeBuild('config/default');
    const d = structuredClone(find(ms, 'Deployment')) as Manifest & { spec: { replicas: unknown } };
    d.spec.replicas = 'two';
    await expect(dryRunApply(d)).rejects.toMatchObject({ body: expect.stringContaining('replicas') });
  });
});

describe('pod security', () => {
  it('the operator pod passes the restricted Pod Security Standard; a pod without its security context does not', async () => {
    const ns = `pkg-pss-${randomBytes(3).toString('hex')}`;
    await ensureNamespace(ns, { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const ms = await helmTemplate({ namespace: ns });
    const template = (find(ms, 'Deployment') as Manifest & { spec: { template: { metadata: object; spec: V1Pod['spec'] } } }).spec.template;
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hsm-operator-pss', namespace: ns }, spec: template.spec };
    const created = await core.createNamespacedPod({ namespace: ns, body: pod, dryRun: 'All' });
    expect(created.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);

    const loose = structuredClone(pod);
    delete loose.spec!.securityContext;
    delete loose.spec!.containers[0]!.securityContext;
    await expect(core.createNamespacedPod({ namespace: ns, body: loose, dryRun: 'All' })).rejects.toMatchObject({ code: 403, body: expect.stringContaining('violates PodSecurity') });
  });
});
