/**
 * config/argocd is a kustomize Component for the kustomization that installs Argo CD: built with the real kustomize
 * over a stand-in argocd-cm, it must add the three health checks and keep what argocd-cm already holds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HEALTH_KINDS, healthCustomizationKey, healthScriptFile } from '../../../src/observability/argocd-health.js';
import { ensureTools, run } from '../../support/tools.js';

const componentDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/argocd');

describe('config/argocd kustomize component', () => {
  const work = mkdtempSync(join(tmpdir(), 'argocd-component-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('adds each kind\'s health check to argocd-cm and keeps its other keys', async () => {
    const { kustomize } = await ensureTools();
    writeFileSync(
      join(work, 'argocd-cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\ndata:\n  url: https://argocd.example.com\n',
    );
    writeFileSync(
      join(work, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - argocd-cm.yaml\ncomponents:\n  - ${relative(work, componentDir)}\n`,
    );
    const docs = parseAllDocuments(run(kustomize, ['build', work])).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string }; data: Record<string, string> });
    expect(docs).toHaveLength(1);
    const cm = docs[0]!;
    expect(cm.metadata).toEqual({ name: 'argocd-cm', namespace: 'argocd' });
    expect(cm.data.url).toBe('https://argocd.example.com');
    for (const kind of HEALTH_KINDS) expect(cm.data[healthCustomizationKey(kind)]).toBe(readFileSync(join(componentDir, healthScriptFile(kind)), 'utf8'));
  });
});
