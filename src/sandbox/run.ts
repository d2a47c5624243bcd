/**
 * `npm start`: a whole Dedicated HSM world on this machine. A real kube-apiserver + etcd (built with Go on first
 * use, then cached), the CRDs as written, the simulated Azure (ARM) with two HSMs behind an ExpressRoute gateway,
 * their Luna appliances and a LunaCM client host, the operator in-process watching two namespaces, and
 * config/samples/ applied with the world's real host keys and passwords: the platform team's namespace (HSMs, HA
 * group, the HsmGrant for app team A) first, then app team A's (its NTLS clients, across namespaces under that
 * grant). A scenario can replay one of the guide's stories on top.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { DedicatedHsm, HsmHaGroup, NtlsClientBinding } from '../api/index.js';
import { packageRoot, sandboxKubeconfigPath, sandboxStateDir } from '../cli/paths.js';
import { formatTable, HSM_KINDS, resolveKind, resourceTypeOf, rowOf, sortObjects, type HsmObject } from '../cli/resources.js';
import { buildOperator, type Operator } from '../operator.js';
import { issueCertificate } from '../pki/index.js';
import { CoreTypes, createLogger, Informer, KubeClient, type EventObject, type KubeObject, type LogLevel } from '../runtime/index.js';
import { applyManifest, ensureNamespace, installCrds, loadCrds } from './apply.js';
import { ControlPlane, pinnedVersions } from './controlplane/controlplane.js';
import type { Manifest } from './manifests.js';
import { inNamespaces, loadSamples, prepareSamples, SAMPLE_NAMESPACES, type SampleNamespaces } from './samples.js';
import { scenarioNamed, SCENARIOS, type AppliedResource, type Scenario, type ScenarioContext, type Snapshot } from './scenarios/index.js';
import { elapsed, eventLine, LiveView, type ViewOutput } from './view.js';
import { startWorld, WORLD_PASSWORDS, type World, type WorldOptions } from './world.js';

/** Where the sandbox applies the samples unless told otherwise: the namespaces they are written for. */
export const DEFAULT_NAMESPACES: SampleNamespaces = SAMPLE_NAMESPACES;

/**
 * The partitions of each sandbox appliance, one cloning domain: app team A's (granted to hsm-app-a by the HsmGrant
 * app-team-a) and the platform team's own (never granted; its HA group spans it on both HSMs).
 */
export const SANDBOX_PARTITIONS = [
  { label: 'team-a-par', cloningDomain: 'sandbox-domain' },
  { label: 'platform-par', cloningDomain: 'sandbox-domain' },
] as const;

/** The world the samples describe: two HSMs on two stamps, the LunaCM host they name, a gateway still Updating. */
export function sandboxWorldOptions(): WorldOptions {
  return {
    hsms: [
      { name: 'hsm-eastus-1', stampId: 'stamp1', partitions: SANDBOX_PARTITIONS.map((p) => ({ ...p })) },
      { name: 'hsm-eastus-2', stampId: 'stamp2', partitions: SANDBOX_PARTITIONS.map((p) => ({ ...p })) },
    ],
    gatewayTimeline: [['Updating', 8_000], ['Succeeded']],
    provisioningMs: 700,
    lunacmHostName: 'luna-client.example.internal',
    lunacmUsername: 'lunaadmin',
    // LunaCM's auto-recovery interval (60 s in the samples) runs 20x faster.
    lunacmTimeScale: 0.05,
  };
}

export interface SandboxOptions {
  /** Scenario name (default `default`). */
  scenario?: string;
  /** Use this cluster (a kubeconfig file) instead of starting a local control plane; CRDs are installed only if missing. */
  kubeconfig?: string;
  /** The platform team's and the app team's namespaces (default hsm-platform and hsm-app-a, as in the samples). */
  namespaces?: Partial<SampleNamespaces>;
  /** Where kubeconfig and operator.log go. Default `.sandbox/` in the checkout. */
  stateDir?: string;
  /** Write `<stateDir>/kubeconfig` for kubectl/status (default: only when this run starts the control plane). */
  writeKubeconfig?: boolean;
  out?: ViewOutput;
  /** Redraw the table in place (default: when `out` is a terminal). */
  tty?: boolean;
  logLevel?: LogLevel;
  /** Extra world options (tests make things faster). */
  world?: Partial<WorldOptions>;
  /** Aborts the start (Ctrl-C while the control plane builds or boots); what was started is torn down. */
  signal?: AbortSignal;
}

export interface Sandbox {
  readonly scenario: Scenario;
  /** The platform team's namespace (HSMs, grant, HA group) and the app team's (bindings and their Secrets). */
  readonly namespaces: SampleNamespaces;
  /** A kubeconfig file for this cluster (kubectl, `hsm-operator status`). */
  readonly kubeconfigPath: string;
  readonly operatorLog: string;
  readonly world: World;
  readonly operator: Operator;
  readonly client: KubeClient;
  readonly view: LiveView;
  readonly startedAt: number;
  /** The custom resources applied (with a Ready condition: HsmGrant, which has no status, is not listed). */
  readonly applied: readonly AppliedResource[];
  snapshot(): Snapshot;
  /** Plays the scenario to its promised end state; rejects when `signal` aborts first or the story breaks. */
  play(signal?: AbortSignal): Promise<string>;
  /** Tears everything down (operator, watches, world, control plane); safe to call twice. */
  stop(): Promise<void>;
}

/** Starts everything and applies the samples; the scenario's story runs with `play()`. */
export async function startSandbox(o: SandboxOptions = {}): Promise<Sandbox> {
  const scenario = scenarioNamed(o.scenario ?? 'default');
  if (!scenario) throw new Error(`unknown scenario ${o.scenario}; one of: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const out: ViewOutput = o.out ?? process.stdout;
  const view = new LiveView({ out, tty: o.tty ?? Boolean((out as { isTTY?: boolean }).isTTY) });
  const startedAt = Date.now();
  const namespaces: SampleNamespaces = { platform: o.namespaces?.platform ?? DEFAULT_NAMESPACES.platform, app: o.namespaces?.app ?? DEFAULT_NAMESPACES.app };
  const served = [...new Set([namespaces.platform, namespaces.app])];
  const stateDir = o.stateDir ?? sandboxStateDir();
  mkdirSync(stateDir, { recursive: true });
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    while (cleanups.length) {
      const c = cleanups.pop();
      try {
        await c?.();
      } catch (e) {
        view.say(`teardown: ${(e as Error).message}`);
      }
    }
  };

  view.say(`sandbox - scenario "${scenario.name}": ${scenario.title}`);
  for (const need of ['config/samples', 'crds', 'test/controlplane'])
    if (!existsSync(join(packageRoot, need))) throw new Error(`the sandbox runs from a checkout of the repository: ${need}/ is missing under ${packageRoot}`);
  const step = () => {
    if (o.signal?.aborted) throw new Error('interrupted while starting');
  };
  try {
    // 1. The cluster.
    let kubeconfigText: string;
    let kubeconfigPath: string;
    if (o.kubeconfig) {
      kubeconfigText = readFileSync(o.kubeconfig, 'utf8');
      kubeconfigPath = o.kubeconfig;
      view.say(`using the cluster of ${o.kubeconfig}`);
    } else {
      view.say('starting a local control plane (kube-apiserver + etcd; built with Go on first use, then cached)');
      const t0 = Date.now();
      const cp = await ControlPlane.start({ log: (line) => view.say(`  ${line}`), detached: true }).catch((e: unknown) => {
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(/spawn go ENOENT/.test(msg) ? 'Go (>= 1.25) is needed once, to build kube-apiserver and etcd from test/controlplane/: install it and run again' : msg, { cause: e });
      });
      const onExit = () => cp.killNow();
      process.once('exit', onExit);
      cleanups.push(async () => {
        await cp.stop();
        process.removeListener('exit', onExit);
      });
      view.say(`control plane up at ${cp.server} (kube-apiserver ${pinnedVersions().kubernetes}, etcd ${pinnedVersions().etcd}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // The context names the platform team's namespace, so kubectl and `hsm-operator explain-failure` default to it.
      kubeconfigText = withNamespace(cp.kubeconfig('admin', cp.users.adminToken), namespaces.platform);
      kubeconfigPath = cp.kubeconfigPath;
    }
    if (o.writeKubeconfig ?? !o.kubeconfig) {
      const path = join(stateDir, 'kubeconfig');
      writeFileSync(path, kubeconfigText, { mode: 0o600 });
      chmodSync(path, 0o600);
      kubeconfigPath = path;
      cleanups.push(() => {
        // Only remove what this run wrote: a newer sandbox may have replaced it.
        try {
          if (readFileSync(path, 'utf8') === kubeconfigText) rmSync(path, { force: true });
        } catch {
          /* gone */
        }
      });
    }
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText);
    const client = KubeClient.fromKubeConfig(kc);
    cleanups.push(() => (client.transport as { close?: () => void }).close?.());

    step();
    // 2. The CRDs, as written, and the namespaces.
    const installed = await installCrds(client, loadCrds(join(packageRoot, 'crds')), { onlyMissing: Boolean(o.kubeconfig) });
    if (installed) view.say(`installed ${installed} CRDs from crds/ (server-side apply of the YAML as written)`);
    for (const ns of served) await ensureNamespace(client, ns);

    step();
    // 3. The world.
    const base = { ...sandboxWorldOptions(), ...o.world };
    const world = await startWorld(scenario.world ? scenario.world(base) : base);
    cleanups.push(() => world.stop());
    const hsmNames = [...world.appliances.keys()];
    view.say(
      `simulated Azure at ${world.arm.endpoint}: gateway ${world.arm.world.gatewayState(world.ids.gatewayId) ?? '?'}, appliances ${hsmNames.join(', ')}, LunaCM host ${world.lunacmHostName}`,
    );

    step();
    // 4. The operator, in-process, watching both namespaces (as a chart with watchNamespaces would).
    const operatorLog = join(stateDir, 'operator.log');
    const logStream = pino.destination({ dest: operatorLog, sync: true, append: false, mkdir: true });
    const operator = buildOperator({
      manager: {
        kubeConfig: kc,
        namespaces: served,
        leaderElection: false,
        metricsBindAddress: '127.0.0.1:0',
        healthProbeBindAddress: '127.0.0.1:0',
        log: createLogger({ level: o.logLevel ?? 'debug', name: 'hsm-operator', destination: logStream }),
      },
      azure: { connection: world.azure.connection, defaultCredential: world.azure.credential },
      resolve: world.resolve,
      // Demo pace: Azure operations polled every second; the bindings' spec durations (drift check 5m, certificate
      // lifetimes) run 30x faster, since the CRD (rightly) refuses drift intervals under 30s.
      settings: { gatewayWaitInitialMs: 1_000, gatewayWaitMaxMs: 3_000, needsHumanRecheckMs: 30_000, ntlsTimeoutMs: 2_000, defaultResyncMs: 60_000, operationPollMs: 1_000 },
      compressedTime: { ntlsSpecScale: 1 / 30 },
    });
    await operator.start();
    cleanups.push(async () => {
      await operator.stop(5_000);
      logStream.flushSync();
    });
    view.say(`operator running in-process (log: ${operatorLog}; metrics ${operator.manager.metricsUrl ?? '-'}/metrics)`);

    step();
    // 5. Watches for the view and the scenario.
    const watch = new Watch(client, namespaces, view);
    cleanups.push(() => watch.stop());
    await watch.start();

    step();
    // 6. The samples: the platform team's, then the app team's, each in its namespace.
    const manifests = await prepareSamples(
      inNamespaces(loadSamples(join(packageRoot, 'config', 'samples')), { [SAMPLE_NAMESPACES.platform]: namespaces.platform, [SAMPLE_NAMESPACES.app]: namespaces.app }),
      {
        hostKeys: Object.fromEntries([...hsmNames.map((n, i) => [`hsm${i + 1}`, world.appliances.get(n)?.hostKeyFingerprint ?? '']), ['lunacm', world.lunacm.hostKeyFingerprint]]),
        passwords: WORLD_PASSWORDS,
        azure: world.ids,
        intervals: { pollInterval: '5s', resyncInterval: '1m' },
      },
      async (id) => issueCertificate({ commonName: id.ip ?? id.hostname ?? 'client', ...(id.ip ? { ipAddresses: [id.ip] } : {}), ...(id.hostname ? { dnsNames: [id.hostname] } : {}) }),
    );
    scenario.samples?.(manifests);
    const applied = customResources(manifests);
    const ctx = watch.context(world, applied);
    await scenario.seed?.(ctx);
    await scenario.beforeApply?.(ctx, manifests);
    // The platform team's samples first: the app team's bindings refer to its HSMs and its grant.
    const groups =
      namespaces.platform === namespaces.app
        ? [{ dir: 'config/samples/', team: 'both teams', ns: namespaces.platform }]
        : [
            { dir: 'config/samples/platform/', team: 'the platform team', ns: namespaces.platform },
            { dir: 'config/samples/app-a/', team: 'app team A', ns: namespaces.app },
          ];
    for (const g of groups) {
      const mine = manifests.filter((m) => m.metadata.namespace === g.ns);
      for (const m of mine) await applyManifest(client, g.ns, m);
      view.say(`applied ${g.dir} (${g.team}) into namespace ${g.ns}: ${mine.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
    }

    return {
      scenario,
      namespaces,
      kubeconfigPath,
      operatorLog,
      world,
      operator,
      client,
      view,
      startedAt,
      applied,
      snapshot: () => watch.snapshot(),
      play: (signal) => watch.play(scenario, ctx, signal),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A kubeconfig whose contexts default to `namespace`. */
export function withNamespace(kubeconfig: string, namespace: string): string {
  const doc = parseYaml(kubeconfig) as { contexts?: { context?: Record<string, unknown> }[] };
  for (const c of doc.contexts ?? []) if (c.context) c.context.namespace = namespace;
  return stringifyYaml(doc);
}

function customResources(manifests: readonly Manifest[]): AppliedResource[] {
  return manifests.flatMap((m) => {
    const kind = resolveKind(m.kind);
    return kind && m.apiVersion.startsWith('dedicatedhsm.io/') ? [{ kind, namespace: m.metadata.namespace ?? '', name: m.metadata.name }] : [];
  });
}

/** Informers on the three kinds and on Events in both namespaces: they feed the view, the snapshots and the scenario's waits. */
class Watch {
  private readonly informers: Informer<HsmObject>[];
  private readonly events: Informer<EventObject>;
  private readonly eventReasons = new Map<string, Set<string>>();
  private readonly waiters = new Set<() => void>();
  private readonly timer: NodeJS.Timeout;
  private pending = false;
  /** Aborts the scenario's waits and sleeps (timeout, Ctrl-C). */
  private signal: AbortSignal | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly namespaces: SampleNamespaces,
    private readonly view: LiveView,
  ) {
    const served = [...new Set([namespaces.platform, namespaces.app])];
    this.informers = HSM_KINDS.map((k) => new Informer<HsmObject>({ client, type: resourceTypeOf(k), namespaces: served }));
    this.events = new Informer<EventObject>({ client, type: CoreTypes.events, namespaces: served });
    for (const inf of this.informers) inf.addHandlers({ onAdd: () => this.changed(), onUpdate: () => this.changed(), onDelete: () => this.changed() });
    this.events.addHandlers({ onAdd: (e) => this.event(e, true), onUpdate: (_, e) => this.event(e, false) });
    // Scenario checks may read the world too, which sends no watch events.
    this.timer = setInterval(() => this.notify(), 1_000);
    this.timer.unref();
  }

  private caches(): Pick<Informer, 'start' | 'stop' | 'waitForSync'>[] {
    return [...this.informers, this.events];
  }

  async start(): Promise<void> {
    for (const inf of this.caches()) inf.start();
    await Promise.all(this.caches().map((i) => i.waitForSync(30_000)));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.caches().map((i) => i.stop()));
  }

  snapshot(): Snapshot {
    const all = sortObjects(this.informers.flatMap((i) => i.list()));
    return {
      all,
      hsms: all.filter((o): o is DedicatedHsm => o.kind === 'DedicatedHsm'),
      bindings: all.filter((o): o is NtlsClientBinding => o.kind === 'NtlsClientBinding'),
      groups: all.filter((o): o is HsmHaGroup => o.kind === 'HsmHaGroup'),
      eventReasons: this.eventReasons,
    };
  }

  private event(e: EventObject, isNew: boolean): void {
    const who = `${e.regarding?.kind ?? '?'}/${e.regarding?.name ?? '?'}`;
    const seen = this.eventReasons.get(who) ?? new Set<string>();
    seen.add(e.reason);
    this.eventReasons.set(who, seen);
    if (isNew) this.view.say(eventLine(e));
    this.notify();
  }

  /** Coalesces bursts of watch events into one view update. */
  private changed(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.view.update(this.snapshot().all);
      this.notify();
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  context(world: World, applied: readonly AppliedResource[]): ScenarioContext {
    const ctx: ScenarioContext = {
      world,
      namespaces: this.namespaces,
      client: this.client,
      applied,
      say: (line) => this.view.say(line),
      sleep: (ms) => sleep(ms, undefined, this.signal ? { signal: this.signal } : {}),
      waitFor: <T>(what: string, check: (s: Snapshot) => T | undefined | false) =>
        new Promise<T>((resolve, reject) => {
          const signal = this.signal;
          this.view.status(`waiting for ${what} ...`);
          const done = (f: () => void) => {
            this.waiters.delete(attempt);
            signal?.removeEventListener('abort', onAbort);
            this.view.status('');
            f();
          };
          const attempt = () => {
            let v: T | undefined | false;
            try {
              v = check(this.snapshot());
            } catch (e) {
              done(() => reject(e instanceof Error ? e : new Error(String(e))));
              return;
            }
            if (v !== undefined && v !== false) done(() => resolve(v));
          };
          const onAbort = () => done(() => reject(new WaitAborted(what, signal?.reason)));
          if (signal?.aborted) return onAbort();
          signal?.addEventListener('abort', onAbort, { once: true });
          this.waiters.add(attempt);
          attempt();
        }),
      poll: async <T>(what: string, check: () => Promise<T | undefined | false>, everyMs = 500) => {
        const signal = this.signal;
        this.view.status(`waiting for ${what} ...`);
        try {
          for (;;) {
            if (signal?.aborted) throw new WaitAborted(what, signal.reason);
            const v = await check();
            if (v !== undefined && v !== false) return v;
            await sleep(everyMs, undefined, signal ? { signal } : {}).catch(() => undefined);
          }
        } finally {
          this.view.status('');
        }
      },
      readSecret: async (namespace, name) => {
        const s = await this.client.getIfExists<KubeObject & { data?: Record<string, string> }>(CoreTypes.secrets, namespace, name);
        return s && Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      },
      setSecret: async (namespace, name, key, value) => {
        await this.client.patch(CoreTypes.secrets, namespace, name, { data: { [key]: Buffer.from(value).toString('base64') } }, 'merge');
      },
      annotate: async (kind, name, annotations) => {
        const a = applied.find((x) => x.kind === kind && x.name === name);
        if (!a) throw new Error(`the sandbox applied no ${kind}/${name}`);
        await this.client.patch(resourceTypeOf(kind), a.namespace, name, { metadata: { annotations } }, 'merge');
      },
    };
    return ctx;
  }

  async play(scenario: Scenario, ctx: ScenarioContext, signal?: AbortSignal): Promise<string> {
    this.signal = signal;
    return scenario.play(ctx);
  }
}

/** A wait that ended because the run was stopped or timed out. */
export class WaitAborted extends Error {
  override readonly name = 'WaitAborted';
  constructor(
    readonly what: string,
    readonly reason: unknown,
  ) {
    super(`${reason instanceof Error ? reason.message : 'stopped'} while waiting for ${what}`);
  }
}

export interface RunOptions extends SandboxOptions {
  /** Exit once the scenario's promised end state is reached (tests, CI). */
  exitWhenReady?: boolean;
  /** How long the scenario may take to reach its end state (ms; default 5 min). */
  timeoutMs?: number;
  /** Resolves when the user asks to stop (Ctrl-C); the CLI wires SIGINT/SIGTERM to it. */
  interrupt?: AbortSignal;
  /** Where failures go (default stderr). */
  err?: ViewOutput;
}

/** `npm start`: start, play the scenario, summarise; keep running until interrupted unless exitWhenReady. Returns the exit code. */
export async function runSandbox(o: RunOptions = {}): Promise<number> {
  const out: ViewOutput = o.out ?? process.stdout;
  const err: ViewOutput = o.err ?? process.stderr;
  let sb: Sandbox;
  try {
    sb = await startSandbox({ ...o, ...(o.interrupt ? { signal: o.interrupt } : {}) });
  } catch (e) {
    if (o.interrupt?.aborted) {
      out.write('interrupted while starting; everything started so far is stopped.\n');
      return 130;
    }
    err.write(`sandbox failed to start: ${(e as Error).message}\n`);
    return 1;
  }
  const run = new AbortController();
  const timeoutMs = o.timeoutMs ?? 5 * 60_000;
  const timer = setTimeout(() => run.abort(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  const onInterrupt = () => run.abort(new Error('interrupted'));
  o.interrupt?.addEventListener('abort', onInterrupt, { once: true });
  let code = 0;
  try {
    sb.view.say(`promise: ${sb.scenario.promise}`);
    const outcome = await sb.play(run.signal);
    sb.view.close();
    out.write(summary(sb, outcome));
  } catch (e) {
    sb.view.close();
    code = o.interrupt?.aborted ? 130 : 1;
    err.write(failure(sb, e));
  } finally {
    clearTimeout(timer);
  }
  if (!o.exitWhenReady && !o.interrupt?.aborted && o.interrupt) {
    out.write('\nThe sandbox keeps running. Ctrl-C stops everything (operator, simulators, control plane).\n');
    sb.view.reopen();
    await new Promise<void>((resolve) => o.interrupt?.addEventListener('abort', () => resolve(), { once: true }));
  }
  sb.view.close();
  out.write('stopping: operator, simulators, control plane ...\n');
  const stopping = Date.now();
  await sb.stop();
  out.write(`stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s; nothing left running.\n`);
  return code;
}

/** The resources as a table; a NAMESPACE column once they live in more than one namespace. */
function tableOf(sb: Sandbox): string[] {
  const objs = sortObjects(sb.snapshot().all);
  return formatTable(objs.map(rowOf), { messageWidth: 120, namespaces: new Set(objs.map((o) => o.metadata.namespace)).size > 1 });
}

function summary(sb: Sandbox, outcome: string): string {
  const took = elapsed(Date.now() - sb.startedAt).slice(1);
  // On a terminal the last table is still on screen.
  const table = sb.view.inPlace ? [] : ['', ...tableOf(sb)];
  const { platform, app } = sb.namespaces;
  const kubeconfig = relative(process.cwd(), sb.kubeconfigPath).startsWith('..') ? sb.kubeconfigPath : relative(process.cwd(), sb.kubeconfigPath);
  // status and explain-failure find a running sandbox's kubeconfig by themselves; name it only when it is elsewhere.
  const own = sb.kubeconfigPath === sandboxKubeconfigPath();
  const kc = own ? '' : ` --kubeconfig ${kubeconfig}`;
  const kubectl = '# kubectl is not part of this project: install it to use this';
  const explore =
    platform === app
      ? [
          `  npx tsx src/main.ts status${kc} -n ${platform}`,
          `  npx tsx src/main.ts explain-failure dhsm/hsm-eastus-1${kc} -n ${platform}`,
          `  kubectl --kubeconfig ${kubeconfig} -n ${platform} get dhsm,ntlsb,hsmha,hsmgrant,secrets,events   ${kubectl}`,
        ]
      : [
          // Without -n, status lists every namespace: on the sandbox's own cluster that is exactly these two.
          ...(own ? ['  npx tsx src/main.ts status'] : [`  npx tsx src/main.ts status${kc} -n ${platform}`, `  npx tsx src/main.ts status${kc} -n ${app}`]),
          `  npx tsx src/main.ts explain-failure dhsm/hsm-eastus-1${kc} -n ${platform}`,
          `  npx tsx src/main.ts explain-failure ntlsb/app-a${kc} -n ${app}`,
          `  kubectl --kubeconfig ${kubeconfig} -n ${platform} get dhsm,hsmha,hsmgrant,secrets,events   ${kubectl}`,
          `  kubectl --kubeconfig ${kubeconfig} -n ${app} get ntlsb,secrets,events`,
        ];
  return [
    '',
    `Done in ${took}: ${outcome}.`,
    ...table,
    '',
    `  kubeconfig    ${kubeconfig}`,
    ...(platform === app
      ? [`  namespace     ${platform}`]
      : [`  namespaces    ${platform} (platform team: DedicatedHsms, appliance credentials, HsmGrant app-team-a, HsmHaGroup)`, `                ${app} (app team A: NtlsClientBindings and their Secrets)`]),
    `  operator log  ${sb.operatorLog}`,
    `  metrics       ${sb.operator.manager.metricsUrl ?? '-'}/metrics`,
    '',
    'Explore while it runs, from another terminal in the repository:',
    ...explore,
    '',
    `Other stories: npm start -- --scenario <${SCENARIOS.filter((s) => s.name !== 'default')
      .map((s) => s.name)
      .join('|')}>`,
    '',
  ].join('\n');
}

function failure(sb: Sandbox, e: unknown): string {
  const table = tableOf(sb);
  const what = e instanceof WaitAborted ? `${(e.reason as Error | undefined)?.message ?? 'stopped'} while waiting for ${e.what}` : (e as Error).message;
  return ['', `Scenario "${sb.scenario.name}" did not reach its promise (${sb.scenario.promise}): ${what}.`, '', ...table, '', `Operator log: ${sb.operatorLog}`, ''].join('\n');
}
