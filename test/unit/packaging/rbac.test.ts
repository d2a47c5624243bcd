/** src/rbac.ts is the one declaration of the operator's permissions: the generated YAML and CRD copies follow it. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { GROUP } from '../../../src/api/group.js';
import {
  CRD_COPIES,
  OWN_RESOURCES,
  PERMISSIONS,
  clusterRules,
  generatedFiles,
  grants,
  listCrdFiles,
  namespaceRules,
  rulesYaml,
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
    expect(crds.map((c) => c.spec.names.plural).sort()).toEqual([...OWN_RESOURCES].sort());
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

  it('keeps the Lease in the operator namespace and everything else cluster-wide', () => {
    expect(namespaceRules()).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    expect(clusterRules().length + namespaceRules().length).toBe(PERMISSIONS.length);
    expect(clusterRules().some((r) => r.resources.includes('leases'))).toBe(false);
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
    expect((parse(read('config/rbac/role.yaml')) as { rules: unknown }).rules).toEqual(clusterRules());
    expect((parse(read('config/rbac/leader_election_role.yaml')) as { rules: unknown }).rules).toEqual(namespaceRules());
  });

  for (const copy of CRD_COPIES) {
    it(`${copy} holds exactly the generated CRDs`, () => {
      expect(readdirSync(join(root, copy)).sort(), REGENERATE).toEqual(crdFiles);
      for (const f of crdFiles) expect(read(`${copy}/${f}`), `${copy}/${f} ${REGENERATE}`).toBe(read(`crds/${f}`));
    });
  }
});
