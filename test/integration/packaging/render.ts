/** Renders the Helm chart and the kustomize config with the real tools and parses what they print. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
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
  /** The Kubernetes version `helm template` and `helm lint` assume; default KUBE_VERSION. */
  kubeVersion?: string;
}

async function helmArgs(o: HelmOptions): Promise<{ helm: string; args: string[] }> {
  const { helm } = await ensureTools();
  const args = ['--kube-version', o.kubeVersion ?? KUBE_VERSION, '--namespace', o.namespace ?? 'hsm-operator-system'];
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

/** Runs a tool without blocking the event loop; rejects with stderr. */
function runAsync(bin: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${bin} ${args.join(' ')} failed (${code}):\n${err}${out}`))));
    child.stdin.end(input ?? '');
  });
}

/**
 * The chart's NOTES.txt as `helm install --dry-run=client` prints it (`helm template` skips the notes); helm asks
 * the test control plane for its version (the built kube-apiserver carries its release's, which Chart.yaml's
 * kubeVersion admits) and installs nothing.
 */
export async function helmNotes(o: HelmOptions = {}): Promise<string> {
  const { helm, args } = await helmArgs(o);
  const out = await runAsync(helm, ['install', o.release ?? 'hsm-operator', o.chart ?? chartDir, '--dry-run=client', '--kubeconfig', inject('controlPlane').kubeconfigPath, ...args.slice(2)], o.values);
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

/** Everything optional switched on, for lint and the server-side dry run. */
export const ALL_ON = [
  'azure.workloadIdentity.clientId=6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  'metrics.serviceMonitor.enabled=true',
  'metrics.prometheusRule.enabled=true',
  'metrics.grafanaDashboard.enabled=true',
  'metrics.certSecret=hsm-operator-metrics-tls',
  'metrics.readerSubjects[0].kind=ServiceAccount',
  'metrics.readerSubjects[0].name=prometheus',
  'metrics.readerSubjects[0].namespace=monitoring',
  'argocd.healthCheckHint=true',
  'watchNamespaces={team-a,team-b}',
  'networkPolicy.enabled=true',
  'networkPolicy.egress.apiServer.cidrs={20.50.60.70/32}',
  'networkPolicy.egress.arm.cidrs={20.37.0.0/16,40.126.0.0/18}',
  'networkPolicy.egress.appliances.cidrs={10.2.1.0/24,10.3.1.0/24}',
  'extraVolumes[0].name=azure-ca',
  'extraVolumes[0].configMap.name=corporate-proxy-ca',
  'extraVolumeMounts[0].name=azure-ca',
  'extraVolumeMounts[0].mountPath=/etc/hsm-operator/azure-ca',
  'extraVolumeMounts[0].readOnly=true',
  'extraArgs={--azure-ca-file=/etc/hsm-operator/azure-ca/ca.crt}',
];

/**
 * `kustomize build` of a throw-away overlay of folders under the repository (resources and components), as a
 * user's own overlay would be.
 */
export async function kustomizeOverlay(o: { resources: string[]; components?: string[] }): Promise<Manifest[]> {
  const { kustomize } = await ensureTools();
  const dir = mkdtempSync(join(tmpdir(), 'hsm-overlay-'));
  try {
    const list = (xs: string[]) => xs.map((x) => `  - ${relative(dir, resolve(repoRoot, x))}`).join('\n');
    const components = o.components?.length ? `components:\n${list(o.components)}\n` : '';
    writeFileSync(join(dir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${list(o.resources)}\n${components}`);
    return parseManifests(run(kustomize, ['build', dir]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function find(ms: Manifest[], kind: string, name?: string): Manifest {
  const m = ms.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!m) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${ms.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return m;
}

export const kinds = (ms: Manifest[]): string[] => ms.map((m) => m.kind).sort();
