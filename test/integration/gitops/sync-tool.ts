/**
 * A GitOps sync tool on the real API server, as Argo CD and Flux drive one: the manifests of config/samples (the
 * sandbox's world filled in) are "Git"; the tool server-side-applies every one of them with its own field manager
 * (`argocd-controller`, `kustomize-controller`), conflicts forced, on a fixed period; it can dry-run the same apply
 * (its diff) and prune an object with the propagation policy the tool uses (Argo CD: foreground, Flux: background).
 * Around it, a world (simulated Azure, appliances, LunaCM host) and the real operator, whose Events are counted as
 * the operator sends them.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../../src/cli/paths.js';
import type { Operator } from '../../../src/operator.js';
import { issueCertificate } from '../../../src/pki/index.js';
import { CoreTypes, KubeClient, type KubeObject, type ResourceType } from '../../../src/runtime/index.js';
import { typeOfManifest } from '../../../src/sandbox/apply.js';
import type { Manifest } from '../../../src/sandbox/manifests.js';
import { sandboxWorldOptions } from '../../../src/sandbox/run.js';
import { inNamespaces, loadSamples, prepareSamples, SAMPLE_NAMESPACES } from '../../../src/sandbox/samples.js';
import { startWorld, WORLD_PASSWORDS, type World } from '../../../src/sandbox/world.js';
import { adminEndpoint, call } from '../../support/http.js';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { startTestOperator } from '../../support/operator.js';
import { waitFor } from '../../support/wait.js';

export interface SyncToolKind {
  tool: 'Argo CD' | 'Flux';
  /** The field manager the tool's server-side apply uses. */
  manager: string;
  /** How the tool deletes what left Git (Argo CD's prune: foreground; Flux's garbage collection: background). */
  propagationPolicy: 'Foreground' | 'Background';
  /** The tracking metadata the tool adds to what it applies. */
  track(m: Manifest, namespace: string): Manifest;
}

export const ARGO_CD: SyncToolKind = {
  tool: 'Argo CD',
  manager: 'argocd-controller',
  propagationPolicy: 'Foreground',
  track: (m, ns) => ({
    ...m,
    metadata: { ...m.metadata, annotations: { ...m.metadata.annotations, 'argocd.argoproj.io/tracking-id': `hsm:${m.apiVersion.split('/')[0] === 'v1' ? '' : m.apiVersion.split('/')[0]}/${m.kind}:${ns}/${m.metadata.name}` } },
  }),
};

export const FLUX: SyncToolKind = {
  tool: 'Flux',
  manager: 'kustomize-controller',
  propagationPolicy: 'Background',
  track: (m) => ({
    ...m,
    metadata: { ...m.metadata, labels: { ...m.metadata.labels, 'kustomize.toolkit.fluxcd.io/name': 'hsm', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } },
  }),
};

/** What the operator told, as it told it (before the recorder aggregates repeats into series). */
export interface Told {
  name: string;
  type: string;
  reason: string;
  note: string;
}

export interface GitOpsWorld {
  namespace: string;
  world: World;
  operator: Operator;
  client: KubeClient;
  /** The prepared samples, in kustomization order (Secrets with real passwords, host keys pinned). */
  samples: Manifest[];
  told: Told[];
  /** How often the operator told `reason` about `name`. */
  count(name: string, reason: string): number;
  stop(): Promise<void>;
}

/**
 * The sandbox's world and samples in a fresh namespace, and the operator watching it. Both teams' samples go into that
 * one namespace (a sync tool here syncs one namespace): the bindings' references to the platform team's namespace
 * become same-namespace references, and the grant, applied like any object, admits nothing it is needed for.
 */
export async function startGitOpsWorld(prefix: string): Promise<GitOpsWorld> {
  const namespace = await createNamespace(prefix);
  const world = await startWorld({ ...sandboxWorldOptions(), gatewayTimeline: [['Succeeded']], provisioningMs: 100 });
  const operator = await startTestOperator({
    namespace,
    world,
    settings: { operationPollMs: 200, defaultResyncMs: 60_000 },
    // The samples' 5m drift check becomes 10 s.
    compressedTime: { ntlsSpecScale: 1 / 30 },
  });
  const told: Told[] = [];
  const recorder = operator.manager.events;
  const send = recorder.event.bind(recorder);
  recorder.event = (obj, type, reason, note, action) => {
    told.push({ name: obj.metadata?.name ?? '', type, reason, note });
    send(obj, type, reason, note, action);
  };
  const samples = await prepareSamples(
    inNamespaces(loadSamples(join(packageRoot, 'config', 'samples')), { [SAMPLE_NAMESPACES.platform]: namespace, [SAMPLE_NAMESPACES.app]: namespace }),
    {
      hostKeys: { hsm1: hostKey(world, 'hsm-eastus-1'), hsm2: hostKey(world, 'hsm-eastus-2'), lunacm: world.lunacm.hostKeyFingerprint },
      passwords: WORLD_PASSWORDS,
      azure: world.ids,
      intervals: { pollInterval: '5s', resyncInterval: '1m' },
    },
    (id) => issueCertificate({ commonName: id.ip ?? id.hostname ?? 'client', ...(id.ip ? { ipAddresses: [id.ip] } : {}), ...(id.hostname ? { dnsNames: [id.hostname] } : {}) }),
  );
  const client = KubeClient.fromKubeConfig(adminConfig());
  return {
    namespace,
    world,
    operator,
    client,
    samples,
    told,
    count: (name, reason) => told.filter((t) => t.name === name && t.reason === reason).length,
    async stop() {
      await operator.stop(5_000);
      await world.stop();
      (client.transport as { close?: () => void }).close?.();
    },
  };
}

function hostKey(world: World, hsm: string): string {
  const sim = world.appliances.get(hsm);
  if (!sim) throw new Error(`the sandbox world has no appliance ${hsm}`);
  return sim.hostKeyFingerprint;
}

/** One manifest of `list` by kind and name. */
export function manifestOf(list: readonly Manifest[], kind: string, name: string): Manifest {
  const m = list.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind}/${name} in the manifests`);
  return m;
}

/** A new client certificate for app-b's identity, as a kubernetes.io/tls Secret another controller writes. */
export async function tlsSecret(name: string, ip: string): Promise<Manifest> {
  const pair = await issueCertificate({ commonName: ip, ipAddresses: [ip] });
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem } };
}

/** Server-side apply of `m` into `namespace` as `manager`, conflicts forced (what both sync tools do). */
export function apply(client: KubeClient, namespace: string, manager: string, m: Manifest): Promise<KubeObject> {
  return client.patch(typeOfManifest(m), namespace, m.metadata.name, { ...m, metadata: { ...m.metadata, namespace } }, 'apply', { fieldManager: manager, force: true });
}

/** The sync tool: Git (a list of manifests, replaced on a commit) applied on a period, a dry-run diff, a prune. */
export class SyncTool {
  private git: Manifest[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  /** Completed apply rounds, and the apply failures seen (none expected). */
  rounds = 0;
  readonly errors: string[] = [];

  constructor(
    readonly kind: SyncToolKind,
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  /** A commit: what Git holds from now on. */
  commit(manifests: readonly Manifest[]): void {
    this.git = manifests.map((m) => this.kind.track(structuredClone(m), this.namespace));
  }

  get manifests(): readonly Manifest[] {
    return this.git;
  }

  /** Applies everything in Git once, in order. */
  async sync(): Promise<void> {
    for (const m of this.git) {
      try {
        await apply(this.client, this.namespace, this.kind.manager, m);
      } catch (e) {
        this.errors.push(`${m.kind}/${m.metadata.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.rounds++;
  }

  /** Syncs every `periodMs` until stopped (self-heal / the Kustomization's interval, made short). */
  start(periodMs = 1_000): void {
    this.stopping = false;
    this.running = (async () => {
      while (!this.stopping) {
        const started = Date.now();
        await this.sync();
        await sleep(Math.max(0, periodMs - (Date.now() - started)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Waits until `n` more rounds completed. */
  async waitRounds(n: number): Promise<void> {
    const target = this.rounds + n;
    await waitFor(`${n} sync rounds`, () => this.rounds >= target, 30_000, 50);
  }

  /** The object the tool's apply would leave (dryRun=All: nothing is written). */
  async dryRun(m: Manifest): Promise<KubeObject> {
    const type = typeOfManifest(m);
    const path = `${collection(type, this.namespace)}/${m.metadata.name}?fieldManager=${this.kind.manager}&force=true&dryRun=All`;
    const r = await call(adminEndpoint(), 'PATCH', path, { ...m, metadata: { ...m.metadata, namespace: this.namespace } }, 'application/apply-patch+yaml');
    if (r.status >= 300) throw new Error(`dry-run apply of ${m.kind}/${m.metadata.name}: HTTP ${r.status} ${r.text}`);
    return r.body as KubeObject;
  }

  /** Deletes `m`'s object as the tool prunes (its propagation policy). */
  async prune(m: Manifest): Promise<void> {
    await this.client.delete(typeOfManifest(m), this.namespace, m.metadata.name, { propagationPolicy: this.kind.propagationPolicy });
  }
}

function collection(type: ResourceType, namespace: string): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  return `${base}/namespaces/${namespace}/${type.plural}`;
}

/**
 * The garbage collector's part of a foreground deletion (the test control plane runs no kube-controller-manager):
 * once the object is deleting, its dependents that block the owner's deletion are deleted, then the
 * `foregroundDeletion` finalizer is removed. The object goes when the operator's finalizer (if any) is gone too.
 */
export async function collectForeground(client: KubeClient, type: ResourceType, namespace: string, name: string): Promise<void> {
  const obj = await waitFor(`${type.kind ?? type.plural}/${name} deleting in the foreground`, async () => {
    const o = await client.getIfExists(type, namespace, name);
    return o === undefined ? ('gone' as const) : o.metadata?.deletionTimestamp ? o : false;
  });
  if (obj === 'gone') return;
  const uid = obj.metadata?.uid;
  for (const s of (await client.list<KubeObject>(CoreTypes.secrets, { namespace })).items) {
    const refs = (s.metadata?.ownerReferences ?? []) as { uid: string; blockOwnerDeletion?: boolean }[];
    if (refs.some((r) => r.uid === uid && r.blockOwnerDeletion)) await client.delete(CoreTypes.secrets, namespace, s.metadata?.name ?? '');
  }
  for (let attempt = 0; ; attempt++) {
    const cur = await client.getIfExists(type, namespace, name);
    const i = cur?.metadata?.finalizers?.indexOf('foregroundDeletion') ?? -1;
    if (!cur || i < 0) return;
    try {
      await client.patch(type, namespace, name, [
        { op: 'test', path: `/metadata/finalizers/${i}`, value: 'foregroundDeletion' },
        { op: 'remove', path: `/metadata/finalizers/${i}` },
      ], 'json');
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}
