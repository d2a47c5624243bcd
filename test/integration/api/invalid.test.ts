/**
 * The corpus in test/fixtures/invalid: each manifest is refused at admission with 422, and the error names the field
 * given in its `# expect:` line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from '../../support/kube.js';
import { ensureGeneratedCrds } from './crds.js';
import { adminEndpoint, type Endpoint } from '../../support/http.js';
import { create, loadManifests, remove } from './objects.js';

const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/invalid');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    return { file, expected: /^# expect: (.+)$/m.exec(text)?.[1]?.trim() ?? '', manifests: loadManifests(join(dir, file)) };
  });

describe('invalid manifests', () => {
  let ns: string;
  let ep: Endpoint;
  beforeAll(async () => {
    ep = adminEndpoint();
    ns = await createNamespace('api-invalid');
    await ensureGeneratedCrds(ep, ns);
  });

  it('the corpus has at least 40 manifests, each with one object and an expectation', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
    for (const f of fixtures) {
      expect(f.expected, f.file).not.toBe('');
      expect(f.manifests, f.file).toHaveLength(1);
    }
  });

  it.each(fixtures)('$file is rejected naming $expected', async ({ manifests, expected }) => {
    const m = manifests[0]!;
    const r = await create(ep, ns, m);
    if (r.status < 300) await remove(ep, ns, m);
    expect(r.status, r.text).toBe(422);
    expect(String(r.body.message)).toContain(expected);
  });
});
