/**
 * The tenancy policy as the chart (tenancy.policy) and kustomize (the config/tenancy component) ship it: a ConfigMap
 * the operator reads at start with --tenancy-policy, the same pod either way, values checked by the chart's schema,
 * and the example policy one the operator accepts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseTenancyPolicy } from '../../../src/controllers/shared/tenancy-policy.js';
import { ensureTools } from '../../support/tools.js';
import { find, helmLint, helmTemplate, kustomizeOverlay, repoRoot, type Manifest } from './render.js';

interface Pod {
  metadata: { annotations?: Record<string, string> };
  spec: {
    containers: { args: string[]; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[];
    volumes: { name: string; configMap?: { name: string } }[];
  };
}
const podOf = (ms: Manifest[]) => (find(ms, 'Deployment') as Manifest & { spec: { template: Pod } }).spec.template;
const configMaps = (ms: Manifest[]) => ms.filter((m) => m.kind === 'ConfigMap') as (Manifest & { data: Record<string, string> })[];

const examplePolicy = readFileSync(join(repoRoot, 'config/tenancy/policy.yaml'), 'utf8');
const ARG = '--tenancy-policy=/etc/hsm-operator/tenancy/policy.yaml';

beforeAll(async () => {
  await ensureTools();
});

describe('tenancy policy packaging', () => {
  let chart: Manifest[];
  beforeAll(async () => {
    chart = await helmTemplate({ values: stringify({ tenancy: { policy: parse(examplePolicy) as unknown } }) });
  });

  it('the example policy of config/tenancy is one the operator accepts', () => {
    const p = parseTenancyPolicy(examplePolicy, 'hsm-operator-system');
    expect(p.globalIdentity).toBe('onlyListed');
    expect([...p.namespaces.keys()]).toEqual(['hsm-platform', 'team-a']);
  });

  it('chart: the policy in a ConfigMap, mounted read-only and passed with --tenancy-policy; a changed policy rolls the pods', async () => {
    const [cm] = configMaps(chart).filter((c) => c.metadata.name === 'hsm-operator-tenancy-policy');
    expect(cm).toBeDefined();
    expect(parse(cm?.data['policy.yaml'] ?? '')).toEqual(parse(examplePolicy));
    const pod = podOf(chart);
    expect(pod.spec.containers[0]?.args).toContain(ARG);
    expect(pod.spec.containers[0]?.volumeMounts).toContainEqual({ name: 'tenancy-policy', mountPath: '/etc/hsm-operator/tenancy', readOnly: true });
    expect(pod.spec.volumes).toContainEqual({ name: 'tenancy-policy', configMap: { name: 'hsm-operator-tenancy-policy' } });
    const sum = pod.metadata.annotations?.['checksum/tenancy-policy'];
    expect(sum).toMatch(/^[0-9a-f]{64}$/);
    const changed = await helmTemplate({ values: stringify({ tenancy: { policy: { ...(parse(examplePolicy) as object), globalIdentity: 'allNamespaces' } } }) });
    expect(podOf(changed).metadata.annotations?.['checksum/tenancy-policy']).not.toBe(sum);
  });

  it('chart default: no policy, no ConfigMap, no flag (single-tenant mode)', async () => {
    const ms = await helmTemplate();
    expect(configMaps(ms).map((c) => c.metadata.name)).not.toContain('hsm-operator-tenancy-policy');
    expect(podOf(ms).spec.containers[0]?.args.some((a) => a.startsWith('--tenancy-policy'))).toBe(false);
  });

  it('chart: lints clean with a policy; the schema refuses a misspelt field or an unknown switch value', async () => {
    const out = await helmLint({ values: stringify({ tenancy: { policy: parse(examplePolicy) as unknown } }) });
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    await expect(helmTemplate({ set: ['tenancy.policy.globalIdentity=sometimes'] })).rejects.toThrow(/globalIdentity/);
    await expect(helmTemplate({ set: ['tenancy.policy.globalIdentitiy=onlyListed'] })).rejects.toThrow(/globalIdentitiy/);
  });

  it('kustomize: the config/tenancy component runs the same pod as the chart, its ConfigMap name hashed', async () => {
    const kust = await kustomizeOverlay({ resources: ['config/default'], components: ['config/tenancy'] });
    const [cm] = configMaps(kust).filter((c) => c.metadata.name.startsWith('hsm-operator-tenancy-policy'));
    expect(cm?.metadata.name).toMatch(/^hsm-operator-tenancy-policy-[a-z0-9]+$/);
    expect(cm?.data['policy.yaml']).toBe(examplePolicy);
    const k = podOf(kust).spec;
    const c = podOf(chart).spec;
    expect(k.containers[0]?.args).toEqual(c.containers[0]?.args);
    expect(k.containers[0]?.volumeMounts).toEqual(c.containers[0]?.volumeMounts);
    const unhashed = k.volumes.map((v) => (v.configMap ? { ...v, configMap: { name: v.configMap.name.replace(/^(hsm-operator-tenancy-policy)-[a-z0-9]+$/, '$1') } } : v));
    expect(unhashed).toEqual(c.volumes);
  });
});
