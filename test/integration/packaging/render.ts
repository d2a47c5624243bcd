/** Renders the Helm chart and the kustomize config with the real tools and parses what they print. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ensureTools, run } from '../../support/tools.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const chartDir = resolve(repoRoot, 'charts/hsm-operator');

/** The Kubernetes version `helm template` assumes (a source-built helm otherwise assumes v1.20). */
export const KUBE_VERSION = '1.35.0';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export function parseManifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]?.message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

export interface HelmOptions {
  release?: string;
  namespace?: string;
  /** `--set` expressions. */
  set?: string[];
  /** A values file's content. */
  values?: string;
  includeCrds?: boolean;
  chart?: string;
}

async function helmArgs(o: HelmOptions): Promise<{ helm: string; args: string[] }> {
  const { helm } = await ensureTools();
  const args = ['--kube-version', KUBE_VERSION, '--namespace', o.namespace ?? 'hsm-operator-system'];
  for (const s of o.set ?? []) args.push('--set', s);
  if (o.values !== undefined) args.push('--values', '-');
  return { helm, args };
}

/** `helm template`: the manifests of a release. */
export async function helmTemplate(o: HelmOptions = {}): Promise<Manifest[]> {
  const { helm, args } = await helmArgs(o);
  const out = run(helm, ['template', o.release ?? 'hsm-operator', o.chart ?? chartDir, ...args, ...(o.includeCrds ? ['--include-crds'] : [])], o.values);
  return parseManifests(out);
}

/**
 * The chart's NOTES.txt as `helm install --dry-run=client` prints it (`helm template` skips the notes); helm asks
 * the test control plane for its version and installs nothing.
 */
export async function helmNotes(o: HelmOptions = {}): Promise<string> {
  const { helm, args } = await helmArgs(o);
  const kubeconfig = inject('controlPlane').kubeconfigPath;
  const out = run(helm, ['install', o.release ?? 'hsm-operator', o.chart ?? chartDir, '--dry-run=client', '--kubeconfig', kubeconfig, ...args.slice(2)], o.values);
  const at = out.indexOf('\nNOTES:\n');
  if (at < 0) throw new Error(`no NOTES in helm install --dry-run output:\n${out}`);
  return out.slice(at + 8);
}

/** `helm lint --strict`; resolves with its output, rejects with it when the chart fails. */
export async function helmLint(o: HelmOptions = {}): Promise<string> {
  const { helm, args } = await helmArgs(o);
  return run(helm, ['lint', '--strict', o.chart ?? chartDir, ...args], o.values);
}

/** `kustomize build` of a folder under config/. */
export async function kustomizeBuild(dir = 'config/default'): Promise<Manifest[]> {
  const { kustomize } = await ensureTools();
  return parseManifests(run(kustomize, ['build', resolve(repoRoot, dir)]));
}

export function find(ms: Manifest[], kind: string, name?: string): Manifest {
  const m = ms.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!m) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${ms.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return m;
}

export const kinds = (ms: Manifest[]): string[] => ms.map((m) => m.kind).sort();
