/** crds/ and docs/api.md are what `npm run generate` writes, byte for byte, and writing them is deterministic. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFor } from '../../../src/api/crd.js';
import { KINDS } from '../../../src/api/index.js';
import { renderGenerated } from '../../../src/api/render.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('generate', () => {
  it('renders the same bytes twice', () => {
    const a = renderGenerated();
    const b = renderGenerated();
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [path, content] of a) expect(b.get(path), path).toBe(content);
  });

  it('writes one CRD per kind, named dedicatedhsm.io_<plural>.yaml, plus docs/api.md', () => {
    const paths = [...renderGenerated().keys()].sort();
    expect(paths).toEqual(['crds/dedicatedhsm.io_dedicatedhsms.yaml', 'crds/dedicatedhsm.io_hsmgrants.yaml', 'crds/dedicatedhsm.io_hsmhagroups.yaml', 'crds/dedicatedhsm.io_ntlsclientbindings.yaml', 'docs/api.md']);
  });

  it('crds/ and docs/api.md are fresh (run `npm run generate` after changing src/api)', () => {
    const rendered = renderGenerated();
    for (const [path, content] of rendered) {
      const abs = join(repoRoot, path);
      expect(existsSync(abs), `${path} is missing: run npm run generate`).toBe(true);
      expect(readFileSync(abs, 'utf8'), `${path} is stale: run npm run generate`).toBe(content);
    }
    const onDisk = readdirSync(join(repoRoot, 'crds')).filter((f) => f.endsWith('.yaml')).map((f) => `crds/${f}`);
    expect(onDisk.sort(), 'crds/ holds a file generate does not write').toEqual([...rendered.keys()].filter((p) => p.startsWith('crds/')).sort());
  });

  it('the YAML parses back to the CRD objects', () => {
    const rendered = renderGenerated();
    for (const def of KINDS) {
      const text = rendered.get(`crds/dedicatedhsm.io_${def.plural}.yaml`);
      expect(parse(text ?? '')).toEqual(crdFor(def));
    }
  });
});
