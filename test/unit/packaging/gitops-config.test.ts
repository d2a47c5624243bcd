/**
 * config/gitops: the example Argo CD Applications and Flux Kustomizations docs/gitops.md describes. Every file parses
 * as YAML; the Applications sync server-side with server-side diff, prune and self-heal, the operator before the
 * resources; the sync waves put Secrets, DedicatedHsms, bindings and HA groups in that order; the Flux Kustomizations
 * wait, prune and depend on each other in the same order, and their two overlays split config/samples between them
 * without a gap or an overlap. (test/integration/gitops/gitops-config.test.ts builds the overlays with kustomize.)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { packageRoot } from '../../../src/cli/paths.js';
import { loadSamples } from '../../../src/sandbox/samples.js';

const dir = join(packageRoot, 'config', 'gitops');

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

const files = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? files(join(d, f)) : /\.ya?ml$/.test(f) ? [join(d, f)] : []));

function docs(file: string): Doc[] {
  const parsed = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of parsed) expect(d.errors, relative(packageRoot, file)).toEqual([]);
  return parsed.map((d) => d.toJS() as Doc).filter(Boolean);
}

const all = files(dir).flatMap((f) => docs(f).map((d) => ({ file: relative(dir, f), ...d })));
const of = (kind: string) => all.filter((d) => d.kind === kind);

describe('config/gitops', () => {
  it('every file parses as YAML and holds only the kinds the examples are about', () => {
    expect(files(dir).length).toBeGreaterThanOrEqual(5);
    expect([...new Set(all.map((d) => `${d.apiVersion} ${d.kind}`))].sort()).toEqual([
      'argoproj.io/v1alpha1 Application',
      'kustomize.config.k8s.io/v1beta1 Kustomization',
      'kustomize.toolkit.fluxcd.io/v1 Kustomization',
      'source.toolkit.fluxcd.io/v1 GitRepository',
    ]);
  });

  it('Argo CD: server-side apply and diff, prune and self-heal, the operator a wave before the resources', () => {
    const apps = of('Application');
    expect(apps.map((a) => a.metadata.name)).toEqual(['hsm-operator', 'hsm-payments']);
    for (const a of apps) {
      const policy = a.spec.syncPolicy as { automated: { prune: boolean; selfHeal: boolean }; syncOptions: string[] };
      expect(policy.automated).toEqual({ prune: true, selfHeal: true });
      expect(policy.syncOptions).toContain('ServerSideApply=true');
      expect(a.metadata.annotations?.['argocd.argoproj.io/compare-options']).toBe('ServerSideDiff=true');
      const path = (a.spec.source as { path: string }).path;
      expect(existsSync(join(packageRoot, path, 'kustomization.yaml')), path).toBe(true);
    }
    const wave = (name: string) => Number(apps.find((a) => a.metadata.name === name)?.metadata.annotations?.['argocd.argoproj.io/sync-wave']);
    expect(wave('hsm-operator')).toBeLessThan(wave('hsm-payments'));
    expect((apps[1]?.spec.syncPolicy as { syncOptions: string[] }).syncOptions).toContain('PrunePropagationPolicy=foreground');
  });

  it('Argo CD sync waves: Secrets, then DedicatedHsms and the grant, then bindings, then HA groups', () => {
    const k = parse(readFileSync(join(dir, 'argocd/hsm/kustomization.yaml'), 'utf8')) as { resources: string[]; patches: { target: { kind: string }; patch: string }[] };
    expect(k.resources).toEqual(['../../../samples']);
    const waves = Object.fromEntries(
      k.patches.map((p) => [p.target.kind, Number((parse(p.patch) as Doc).metadata.annotations?.['argocd.argoproj.io/sync-wave'])]),
    );
    expect(Object.keys(waves).sort()).toEqual(['DedicatedHsm', 'HsmGrant', 'HsmHaGroup', 'NtlsClientBinding', 'Secret']);
    expect(waves.Secret).toBeLessThan(waves.DedicatedHsm ?? NaN);
    // The grant is in place before the bindings it admits.
    expect(waves.HsmGrant).toBeLessThan(waves.NtlsClientBinding ?? NaN);
    expect(waves.DedicatedHsm).toBeLessThan(waves.NtlsClientBinding ?? NaN);
    expect(waves.NtlsClientBinding).toBeLessThan(waves.HsmHaGroup ?? NaN);
  });

  it('Flux: each Kustomization prunes and waits (kstatus), the resources depend on the operator, the clients on the HSMs', () => {
    const ks = of('Kustomization').filter((d) => d.apiVersion.startsWith('kustomize.toolkit.fluxcd.io'));
    expect(ks.map((k) => k.metadata.name)).toEqual(['hsm-operator', 'hsm-payments-dedicatedhsms', 'hsm-payments-clients']);
    const source = of('GitRepository')[0];
    for (const k of ks) {
      expect(k.spec).toMatchObject({ prune: true, wait: true, sourceRef: { kind: 'GitRepository', name: source?.metadata.name } });
      expect(existsSync(join(packageRoot, String(k.spec.path), 'kustomization.yaml')), String(k.spec.path)).toBe(true);
      // The samples name two namespaces (the platform team's, app team A's); a targetNamespace would fold them into one.
      expect(k.spec.targetNamespace, k.metadata.name).toBeUndefined();
    }
    expect(ks.map((k) => (k.spec.dependsOn as { name: string }[] | undefined)?.map((d) => d.name))).toEqual([undefined, ['hsm-operator'], ['hsm-payments-dedicatedhsms']]);
    // Health by Ready for the current generation and Stalled, for every kind each one applies (kstatus's no-status gap).
    const exprs = (name: string) => (ks.find((k) => k.metadata.name === name)?.spec.healthCheckExprs as { apiVersion: string; kind: string; current: string; failed: string }[]) ?? [];
    expect(exprs('hsm-payments-dedicatedhsms').map((e) => e.kind)).toEqual(['DedicatedHsm']);
    expect(exprs('hsm-payments-clients').map((e) => e.kind)).toEqual(['NtlsClientBinding', 'HsmHaGroup']);
    for (const e of [...exprs('hsm-payments-dedicatedhsms'), ...exprs('hsm-payments-clients')]) {
      expect(e.apiVersion).toBe('dedicatedhsm.io/v1alpha1');
      expect(e.current).toContain("c.type == 'Ready' && c.status == 'True'");
      expect(e.current).toContain('metadata.generation');
      expect(e.failed).toContain("c.type == 'Stalled' && c.status == 'True'");
    }
  });

  it('the two Flux overlays split config/samples between them: the HSMs, their Secrets and the grant, then everything else', () => {
    const samples = loadSamples(join(packageRoot, 'config', 'samples')).map((m) => `${m.kind}/${m.metadata.name}`);
    const kept = (overlay: string) => {
      const k = parse(readFileSync(join(dir, 'flux', overlay, 'kustomization.yaml'), 'utf8')) as { resources: string[]; patches: { patch: string }[] };
      expect(k.resources).toEqual(['../../../samples']);
      const dropped = k.patches.map((p) => parse(p.patch) as Doc & { $patch: string });
      for (const d of dropped) expect(d.$patch).toBe('delete');
      const gone = new Set(dropped.map((d) => `${d.kind}/${d.metadata.name}`));
      for (const g of gone) expect(samples, `${overlay} drops ${g}`).toContain(g);
      return samples.filter((s) => !gone.has(s));
    };
    const hsms = kept('dedicatedhsms');
    const clients = kept('clients');
    expect(hsms).toEqual(['Secret/hsm-eastus-1-appliance', 'Secret/hsm-eastus-2-appliance', 'DedicatedHsm/hsm-eastus-1', 'DedicatedHsm/hsm-eastus-2', 'HsmGrant/app-team-a']);
    expect([...hsms, ...clients].sort()).toEqual([...samples].sort());
    expect(clients.some((c) => c.startsWith('DedicatedHsm/'))).toBe(false);
  });
});
