/** plan -f: files, multi-document YAML, JSON, directories walked recursively in a stable order, List items. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManifestError, readManifests } from '../../../src/plan/manifests.js';

const dir = mkdtempSync(join(tmpdir(), 'plan-manifests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readManifests', () => {
  mkdirSync(join(dir, 'repo', 'b'), { recursive: true });
  writeFileSync(join(dir, 'repo', 'b', 'hsm.yaml'), 'apiVersion: dedicatedhsm.io/v1alpha1\nkind: DedicatedHsm\nmetadata: {name: one}\n---\n# empty\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: two}\n');
  writeFileSync(join(dir, 'repo', 'a.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'three' } }] }));
  writeFileSync(join(dir, 'repo', 'README.md'), '# not a manifest');

  it('walks a directory recursively, sorted, skipping non-manifest files and empty documents', () => {
    const m = readManifests([join(dir, 'repo')], dir);
    expect(m.map((x) => [x.source, x.manifest.kind, x.manifest.metadata.name])).toEqual([
      ['repo/a.json[0]', 'ConfigMap', 'three'],
      ['repo/b/hsm.yaml#1', 'DedicatedHsm', 'one'],
      ['repo/b/hsm.yaml#3', 'Secret', 'two'],
    ]);
  });

  it('says which file and document is wrong', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Secret\n---\nfoo: [unclosed\n');
    expect(() => readManifests([join(dir, 'bad.yaml')], dir)).toThrow(ManifestError);
    expect(() => readManifests([join(dir, 'bad.yaml')], dir)).toThrow(/bad\.yaml#2/);
    writeFileSync(join(dir, 'plain.yaml'), 'just: data\n');
    expect(() => readManifests([join(dir, 'plain.yaml')], dir)).toThrow(/not a Kubernetes object/);
    expect(() => readManifests([join(dir, 'missing')], dir)).toThrow(/does not exist/);
  });
});
