/**
 * src/rbac.ts is the one declaration of the operator's permissions (and of the metrics reader and the roles for
 * people): the generated YAML follows it. crds/ is the one source of the CRDs: every copy in the chart and in
 * config/ is byte-identical, and no other CRD is written anywhere in the packaging.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { GROUP } from '../../../src/api/group.js';
import {
  CRD_COPIES,
  OWN_RESOURCES,
  PERMISSIONS,
  METRICS_READER_RULES,
  USER_ROLES,
  aggregationLabel,
  clusterRules,
  generatedFiles,
  clusterScopedRules,
  grants,
  listCrdFiles,
  metricsAuthRules,
  metricsReaderRules,
  namespaceRules,
  rulesYaml,
  servedNamespaceRules,
  userRules,
  type Permission,
} from '../../../src/rbac.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const REGENERATE = 'stale: run `npm run generate:rbac` (after `npm run generate`)';

interface Crd {
  kind: string;
  spec: { group: string; scope: string; names: { plural: string; kind: string }; versions: { name: string; subresources?: { status?: object } }[] };
}
const crds = listCrdFiles(join(root, 'crds')).flatMap((f) => parseAllDocuments(read(`crds/${f}`)).map((d) => d.toJS() as Crd));

describe('the permission declaration', () => {
  it('covers exactly the kinds the generated CRDs define, in their group', () => {
    expect(crds.length).toBeGreaterThan(0);
    // The reconciled kinds, and HsmGrant, which the operator only reads.
    expect(crds.map((c) => c.spec.names.plural).sort()).toEqual([...OWN_RESOURCES, 'hsmgrants'].sort());
    for (const c of crds) expect(c.spec.group).toBe(GROUP);
  });

  it('grants the status subresource only for kinds that have one', () => {
    const withStatus = crds.filter((c) => c.spec.versions.every((v) => v.subresources?.status)).map((c) => `${c.spec.names.plural}/status`);
    const granted = grants().filter((g) => g.resource.endsWith('/status')).map((g) => g.resource);
    expect([...new Set(granted)].sort()).toEqual(withStatus.sort());
  });

  it('never grants delete, wildcards, or anything on Secrets beyond read and write', () => {
    for (const g of grants()) {
      expect(g.verb, `${g.resource}`).not.toBe('delete');
      expect(g.resource).not.toContain('*');
      expect(g.apiGroup).not.toContain('*');
    }
    expect(new Set(grants().filter((g) => g.resource === 'secrets').map((g) => g.verb))).toEqual(new Set(['get', 'list', 'watch', 'create', 'update', 'patch']));
  });

  it('keeps the Lease in the operator namespace, the reviews of secure metrics in their own role, everything else cluster-wide', () => {
    expect(namespaceRules()).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    expect(metricsAuthRules()).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
    expect(clusterScopedRules()).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }]);
    expect(clusterRules().length + servedNamespaceRules().length + namespaceRules().length + metricsAuthRules().length + clusterScopedRules().length).toBe(PERMISSIONS.length);
    expect(clusterRules().some((r) => r.resources.includes('leases'))).toBe(false);
    // Reviews are cluster-scoped: in the manager ClusterRole a per-namespace RoleBinding (watchNamespaces) would not grant them.
    expect(clusterRules().some((r) => r.apiGroups.some((g) => g.startsWith('authentication') || g.startsWith('authorization')))).toBe(false);
  });

  it('never lists or watches Secrets cluster-wide: only get (and writes) in the ClusterRole, list/watch only per served namespace', () => {
    const secretVerbs = (rules: { resources: string[]; verbs: string[] }[]) => new Set(rules.filter((r) => r.resources.includes('secrets')).flatMap((r) => r.verbs));
    expect(secretVerbs(clusterRules())).toEqual(new Set(['get', 'create', 'update', 'patch']));
    expect(servedNamespaceRules()).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }]);
    expect(secretVerbs([...namespaceRules(), ...metricsAuthRules()])).toEqual(new Set());
  });

  it('lets a metrics scraper GET /metrics and nothing else', () => {
    expect(metricsReaderRules()).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    for (const r of METRICS_READER_RULES) expect(r.why).not.toBe('');
  });

  it('gives editors the three kinds to write and viewers to read; status stays the operator\'s', () => {
    const role = (suffix: string) => USER_ROLES.find((r) => r.suffix === suffix)!;
    const verbsOn = (suffix: string, resource: string) => new Set(userRules(role(suffix)).filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs));
    expect(USER_ROLES.map((r) => r.suffix).sort()).toEqual(['edit', 'view']);
    expect(role('edit').aggregateTo).toEqual(['admin', 'edit']);
    expect(role('view').aggregateTo).toEqual(['view']);
    expect(aggregationLabel('edit')).toBe('rbac.authorization.k8s.io/aggregate-to-edit');
    for (const plural of OWN_RESOURCES) {
      expect(verbsOn('edit', plural)).toEqual(new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']));
      expect(verbsOn('view', plural)).toEqual(new Set(['get', 'list', 'watch']));
      expect(verbsOn('edit', `${plural}/status`)).toEqual(new Set(['get']));
      expect(verbsOn('view', `${plural}/status`)).toEqual(new Set(['get']));
    }
    for (const r of USER_ROLES.flatMap((u) => u.rules)) {
      expect(r.apiGroup).toBe(GROUP);
      expect(r.why).not.toBe('');
    }
  });

  it('lists no (group, resource, verb) twice', () => {
    const keys = grants().map((g) => `${g.apiGroup}/${g.resource}:${g.verb}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('renders rules whose comments do not change the YAML', () => {
    const sample: Permission[] = [{ apiGroup: '', resources: ['secrets'], verbs: ['get'], scope: 'cluster', why: 'a reason: with a colon # and a hash' }];
    const text = rulesYaml(sample, 2);
    expect(text).toContain('  # a reason: with a colon # and a hash');
    expect(parse(`rules:\n${text}`)).toEqual({ rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] });
  });
});

describe('generated packaging files', () => {
  const crdFiles = listCrdFiles(join(root, 'crds'));

  for (const [path, text] of generatedFiles(crdFiles)) {
    it(`${path} is up to date`, () => {
      expect(read(path), REGENERATE).toBe(text);
    });
  }

  it('config/rbac renders exactly the declared rules', () => {
    type Role = { metadata: { name: string; labels: Record<string, string> }; rules: unknown };
    const role = (f: string) => parse(read(`config/rbac/${f}`)) as Role;
    expect(role('role.yaml').rules).toEqual(clusterRules());
    expect(role('leader_election_role.yaml').rules).toEqual(namespaceRules());
    expect(role('metrics_auth_role.yaml').rules).toEqual(metricsAuthRules());
    expect(role('metrics_reader_role.yaml').rules).toEqual(metricsReaderRules());
    for (const u of USER_ROLES) {
      const r = role(`${u.suffix}_role.yaml`);
      expect(r.metadata.name).toBe(`hsm-operator-${u.suffix}`);
      expect(r.rules).toEqual(userRules(u));
      for (const to of u.aggregateTo) expect(r.metadata.labels[aggregationLabel(to)]).toBe('true');
    }
    const listed = (parse(read('config/rbac/kustomization.yaml')) as { resources: string[] }).resources;
    for (const path of generatedFiles(crdFiles).keys()) if (path.startsWith('config/rbac/')) expect(listed, path).toContain(path.slice('config/rbac/'.length));
  });

  for (const copy of CRD_COPIES) {
    it(`${copy} holds exactly the generated CRDs`, () => {
      expect(readdirSync(join(root, copy)).sort(), REGENERATE).toEqual(crdFiles);
      for (const f of crdFiles) expect(read(`${copy}/${f}`), `${copy}/${f} ${REGENERATE}`).toBe(read(`crds/${f}`));
    });
  }

  it('no CRD is written anywhere in charts/ or config/ but in the generated copies', () => {
    const walk = (dir: string): string[] =>
      readdirSync(join(root, dir)).flatMap((f) => (statSync(join(root, dir, f)).isDirectory() ? walk(`${dir}/${f}`) : /\.(ya?ml|tpl|json)$/.test(f) ? [`${dir}/${f}`] : []));
    const files = [...walk('charts'), ...walk('config')];
    expect(files.length).toBeGreaterThan(20);
    const withCrd = files.filter((f) => /kind:\s*["']?CustomResourceDefinition\b/.test(read(f)));
    expect(withCrd.sort()).toEqual(CRD_COPIES.flatMap((c) => crdFiles.map((f) => `${c}/${f}`)).sort());
  });

  it("Chart.yaml's Artifact Hub annotation lists exactly the generated CRDs", () => {
    const chart = parse(read('charts/hsm-operator/Chart.yaml')) as { annotations: Record<string, string> };
    const listed = (parse(chart.annotations['artifacthub.io/crds'] ?? '') as { kind: string; version: string; name: string }[]).map((c) => `${c.name} ${c.kind} ${c.version}`);
    const generated = crds.flatMap((c) => c.spec.versions.map((v) => `${c.spec.names.plural}.${c.spec.group} ${c.spec.names.kind} ${v.name}`));
    expect(listed.sort()).toEqual(generated.sort());
  });
});
