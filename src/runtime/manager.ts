/**
 * The Manager owns everything a controller process runs: the API client, shared caches, controllers, leader
 * election, the probe and metrics servers, the event recorder and the status writer.
 *
 * start(): servers -> caches -> wait for sync -> (leader election ->) controllers.
 * stop(deadline): controllers stop intake and drain in-flight reconciles (up to the deadline) while the Lease
 * is still renewed -> the Lease is released (a standby takes over at once) -> caches, servers and connections
 * close. Losing leadership stops the controllers (their reconciles are aborted at the deadline) and the
 * manager campaigns again; `onLeadershipLost` lets a process exit instead.
 */
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { realClock, type Clock } from './clock.js';
import { KubeClient } from './client.js';
import type { RuntimeConfig } from './config.js';
import { Controller, type ControllerOptions } from './controller.js';
import { errorMessage } from './errors.js';
import { EventRecorder } from './events.js';
import { HealthChecks } from './health.js';
import { apiServerReviewer, listen, parseBindAddress, readTlsDir, watchTlsDir, withTokenAuth, type AccessReviewer, type RunningServer, type TlsMaterial } from './httpserver.js';
import { Informer, type InformerOptions } from './informer.js';
import { LeaderElector, type LeaderElection } from './leader.js';
import { createLogger, type Logger } from './log.js';
import { metricsHandler, RuntimeMetrics } from './metrics.js';
import type { KubeObject, ResourceType } from './resource.js';
import { SecretCache } from './secrets.js';
import { OwnWrites } from './own-writes.js';
import { StatusWriter } from './status.js';
import type { KubeConfigTransport } from './transport.js';

/** Secure metrics: HTTPS, and only for callers the API server authenticates and authorizes for `GET /metrics`. */
export interface MetricsSecurity {
  /**
   * Directory holding `tls.crt` and `tls.key` (a mounted `kubernetes.io/tls` Secret), re-read when they change.
   * Default: a self-signed certificate made at start (scrapers then skip verification, as kubebuilder's do).
   */
  certPath?: string;
  /** Who decides; default: the API server (TokenReview + SubjectAccessReview) through the manager's client. */
  reviewer?: AccessReviewer;
  /** How long a review answer is reused; default 10 s. */
  cacheTtlMs?: number;
}

export interface ManagerOptions {
  /** Where the API server is; or pass `client`. */
  kubeConfig?: KubeConfig;
  client?: KubeClient;
  /** Namespaces every cache watches; empty = all. */
  namespaces?: string[];
  watchIdleTimeoutMs?: number;
  relistIntervalMs?: number;
  /** Without namespaces, Secrets are read by name only and re-read this often (SecretCache); default 30 s. */
  secretRefreshIntervalMs?: number;
  resyncIntervalMs?: number;
  concurrency?: { default: number; byController: Record<string, number> };
  /** false (default) runs controllers at once; otherwise only while holding the Lease. */
  leaderElection?: LeaderElection | false;
  /** `:8080` by default; `127.0.0.1:0` for an ephemeral port; `0` disables. */
  metricsBindAddress?: string;
  /** Serve metrics over HTTPS to authenticated and authorized callers only (true = the defaults). Default false. */
  metricsSecure?: boolean | MetricsSecurity;
  /** `:8081` by default. */
  healthProbeBindAddress?: string;
  /** Start fails if the caches have not synced by then. Default 120 s. */
  cacheSyncTimeoutMs?: number;
  /** Deadline `stop()` uses when given none. Default 30 s. */
  shutdownTimeoutMs?: number;
  /** Called after leadership was lost and the controllers stopped. */
  onLeadershipLost?: () => void;
  /** Identity in Events (`reportingInstance`); defaults to the leader-election identity or the host name. */
  instance?: string;
  log?: Logger;
  metrics?: RuntimeMetrics;
  clock?: Clock;
}

export type ManagedControllerOptions<T extends KubeObject> = Omit<ControllerOptions<T>, 'for' | 'clock' | 'metrics' | 'log' | 'initialKeys' | 'concurrency'> & {
  for: Informer<T>;
  /** The controller's own default; a concurrency configured for it by name (--concurrency Name=N) still wins. */
  concurrency?: number;
};

export type CacheOptions<T extends KubeObject> = Omit<InformerOptions<T>, 'client' | 'type' | 'clock' | 'metrics' | 'log'>;

export class Manager {
  readonly client: KubeClient;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly health = new HealthChecks();
  readonly events: EventRecorder;
  readonly status: StatusWriter;
  /**
   * This process's own writes of any object, recorded in the write paths (status writer, finalizer and trigger
   * patches) and resolved where a reconcile reads the cache: the one answer to "the cache lags our own writes".
   */
  readonly ownWrites = new OwnWrites<KubeObject>();
  private readonly clock: Clock;
  private readonly opts: ManagerOptions;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller<KubeObject>[] = [];
  private readonly elector: LeaderElector | undefined;
  private secretCache: SecretCache | undefined;
  private servers: RunningServer[] = [];
  private metricsServer: RunningServer | undefined;
  private healthServer: RunningServer | undefined;
  private stopCertWatch: (() => void) | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private controllersRunning = false;
  private controllerTransition: Promise<unknown> = Promise.resolve();
  private readonly ownsTransport: boolean;

  constructor(options: ManagerOptions) {
    this.opts = options;
    this.clock = options.clock ?? realClock;
    this.metrics = options.metrics ?? new RuntimeMetrics({ processMetrics: true });
    this.log = options.log ?? createLogger({ name: 'hsm-operator' });
    if (!options.client && !options.kubeConfig) throw new Error('Manager needs a kubeConfig or a client');
    this.ownsTransport = !options.client;
    const base = options.client ?? KubeClient.fromKubeConfig(options.kubeConfig as KubeConfig);
    this.client = base.withMetrics(this.metrics);
    const le = options.leaderElection;
    this.events = new EventRecorder({
      client: this.client,
      instance: options.instance ?? (le ? le.identity : (process.env.POD_NAME ?? 'hsm-operator')),
      clock: this.clock,
      log: this.log.child({ component: 'events' }),
      metrics: this.metrics,
    });
    this.status = new StatusWriter(this.client, this.ownWrites);
    if (le) {
      this.elector = new LeaderElector({
        client: this.client,
        ...le,
        clock: this.clock,
        log: this.log.child({ component: 'leader-election' }),
        metrics: this.metrics,
        onStartedLeading: () => this.startControllers(),
        onStoppedLeading: () => {
          void this.stopControllers(this.opts.shutdownTimeoutMs ?? 30_000).then(() => this.opts.onLeadershipLost?.());
        },
      });
    }
    this.health.addLiveness('ping', () => undefined);
    this.health.addReadiness('manager', () => (this.state === 'running' ? undefined : `manager is ${this.state}`));
  }

  /** A Manager configured from the command line / environment. */
  static fromConfig(cfg: RuntimeConfig, extra: Partial<ManagerOptions> = {}): Manager {
    return new Manager(managerOptions(cfg, extra));
  }

  /** The shared cache of a type (one per type and selector set); create caches before `start()`. */
  informer<T extends KubeObject>(type: ResourceType, options: CacheOptions<T> = {}): Informer<T> {
    const id = JSON.stringify([type.group, type.version, type.plural, options.namespaces ?? null, options.labelSelector ?? '', options.fieldSelector ?? '', options.name ?? '']);
    const existing = this.informers.get(id);
    if (existing) return existing as unknown as Informer<T>;
    const inf = new Informer<T>({
      namespaces: this.opts.namespaces,
      idleTimeoutMs: this.opts.watchIdleTimeoutMs,
      relistIntervalMs: this.opts.relistIntervalMs,
      ...options,
      client: this.client,
      type,
      clock: this.clock,
      metrics: this.metrics,
      log: this.log,
    });
    this.register(id, inf as unknown as Informer<KubeObject>);
    // The status writer remembers its last write per object; a deleted object's copy must not stay in memory.
    inf.addHandlers({
      onDelete: (obj) => {
        const uid = obj.metadata?.uid;
        if (uid) this.status.forget(uid);
      },
    });
    return inf;
  }

  private register(id: string, inf: Informer<KubeObject>): void {
    if (this.state !== 'new') throw new Error(`cache ${inf.name} must be created before the manager starts`);
    this.informers.set(id, inf);
    this.health.addReadiness(`cache:${inf.name}`, () => inf.unhealthyReason());
  }

  /** The cache of Secrets that controllers declared they read (see SecretCache). */
  secrets(options: Omit<CacheOptions<KubeObject>, 'filter' | 'transform' | 'name'> = {}): SecretCache {
    if (!this.secretCache) {
      this.secretCache = new SecretCache({
        namespaces: this.opts.namespaces,
        idleTimeoutMs: this.opts.watchIdleTimeoutMs,
        relistIntervalMs: this.opts.relistIntervalMs,
        ...(this.opts.secretRefreshIntervalMs !== undefined ? { refreshAfterMs: this.opts.secretRefreshIntervalMs } : {}),
        ...options,
        client: this.client,
        clock: this.clock,
        metrics: this.metrics,
        log: this.log,
      });
      this.register('secrets', this.secretCache.informer as unknown as Informer<KubeObject>);
    }
    return this.secretCache;
  }

  addController<T extends KubeObject>(options: ManagedControllerOptions<T>): Controller<T> {
    if (this.state !== 'new') throw new Error('controllers must be added before the manager starts');
    const primary = options.for;
    const c = new Controller<T>({
      resyncIntervalMs: this.opts.resyncIntervalMs,
      ...options,
      concurrency: this.opts.concurrency?.byController[options.name] ?? options.concurrency ?? this.opts.concurrency?.default ?? 1,
      initialKeys: () => primary.keys(),
      clock: this.clock,
      metrics: this.metrics,
      log: this.log,
    });
    this.controllers.push(c as unknown as Controller<KubeObject>);
    return c;
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.state === 'running';
  }

  /** True while the controllers run (this instance leads, or leader election is off). */
  get reconciling(): boolean {
    return this.controllersRunning;
  }

  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  get healthUrl(): string | undefined {
    return this.healthServer?.url;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`manager already ${this.state}`);
    this.state = 'starting';
    try {
      const metricsBind = parseBindAddress(this.opts.metricsBindAddress ?? ':8080');
      if (metricsBind) this.servers.push((this.metricsServer = await this.listenMetrics(metricsBind)));
      const healthBind = parseBindAddress(this.opts.healthProbeBindAddress ?? ':8081');
      if (healthBind) this.servers.push((this.healthServer = await listen(healthBind, this.health.handler())));
      for (const inf of this.informers.values()) inf.start();
      const timeout = this.opts.cacheSyncTimeoutMs ?? 120_000;
      await Promise.all([...this.informers.values()].map((inf) => inf.waitForSync(timeout)));
      this.log.info({ caches: [...this.informers.values()].map((i) => i.name), metrics: this.metricsUrl, health: this.healthUrl }, 'caches synced');
    } catch (e) {
      this.log.error({ err: errorMessage(e) }, 'manager failed to start');
      await this.shutdown(0, true);
      throw e;
    }
    this.state = 'running';
    if (this.elector) this.elector.start();
    else this.startControllers();
  }

  private async listenMetrics(bind: NonNullable<ReturnType<typeof parseBindAddress>>): Promise<RunningServer> {
    const handler = metricsHandler(this.metrics.registry);
    const opt = this.opts.metricsSecure;
    if (!opt) return listen(bind, handler);
    const secure: MetricsSecurity = opt === true ? {} : opt;
    const log = this.log.child({ component: 'metrics' });
    const tls = secure.certPath ? readTlsDir(secure.certPath) : await selfSignedMetricsCertificate();
    const server = await listen(bind, withTokenAuth(handler, { reviewer: secure.reviewer ?? apiServerReviewer(this.client), cacheTtlMs: secure.cacheTtlMs, log }), { tls });
    if (secure.certPath) this.stopCertWatch = watchTlsDir(server, secure.certPath, { log });
    log.info({ url: server.url, certificate: secure.certPath ?? 'self-signed' }, 'serving secure metrics: HTTPS, TokenReview and SubjectAccessReview');
    return server;
  }

  private startControllers(): void {
    this.controllerTransition = this.controllerTransition.then(() => {
      if (this.state !== 'running' || this.controllersRunning) return;
      for (const c of this.controllers) c.start();
      this.controllersRunning = true;
    });
  }

  private stopControllers(deadlineMs: number): Promise<void> {
    const t = this.controllerTransition.then(async () => {
      if (!this.controllersRunning) return;
      this.controllersRunning = false;
      const drained = await Promise.all(this.controllers.map((c) => c.stop(deadlineMs)));
      if (drained.some((d) => !d)) this.log.warn({ deadlineMs }, 'some reconciles did not finish before the deadline');
    });
    this.controllerTransition = t.catch(() => undefined);
    return t;
  }

  /**
   * Stops intake, drains in-flight reconciles (up to `deadlineMs`), releases the Lease (unless
   * `releaseLease: false`, which behaves like a crash for the other candidates), then closes caches and servers.
   */
  async stop(deadlineMs = this.opts.shutdownTimeoutMs ?? 30_000, options: { releaseLease?: boolean } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    await this.shutdown(deadlineMs, options.releaseLease !== false);
  }

  private async shutdown(deadlineMs: number, releaseLease: boolean): Promise<void> {
    this.state = 'stopping';
    this.log.info({ deadlineMs }, 'shutting down');
    await this.stopControllers(deadlineMs);
    await this.elector?.stop({ release: releaseLease });
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await Promise.race([this.events.flush(), new Promise((r) => this.clock.setTimeout(() => r(undefined), 2_000))]);
    this.stopCertWatch?.();
    await Promise.all(this.servers.map((s) => s.close()));
    this.servers = [];
    if (this.ownsTransport) (this.client.transport as Partial<KubeConfigTransport>).close?.();
    this.state = 'stopped';
    this.log.info('stopped');
  }
}

/** A self-signed certificate for the metrics endpoint (the pod's host name, localhost), valid a year. */
async function selfSignedMetricsCertificate(): Promise<TlsMaterial> {
  const { issueCertificate } = await import('../pki/certs.js');
  return issueCertificate({ commonName: 'hsm-operator-metrics', dnsNames: [...new Set([hostname(), 'localhost'])], ipAddresses: ['127.0.0.1', '::1'], keyAlgorithm: 'ECDSAP256' });
}

/** A KubeConfig per the runtime config: a file, the in-cluster ServiceAccount, or the default loading rules. */
/** The Manager's options from the command line / environment; `extra` wins (the kubeconfig is not loaded when it brings a client). */
export function managerOptions(cfg: RuntimeConfig, extra: Partial<ManagerOptions> = {}): ManagerOptions {
  const { enabled, ...leaderElection } = cfg.leaderElection;
  return {
    kubeConfig: extra.client ? undefined : loadKubeConfig(cfg),
    namespaces: cfg.namespaces,
    watchIdleTimeoutMs: cfg.watchIdleTimeoutMs,
    relistIntervalMs: cfg.relistIntervalMs,
    secretRefreshIntervalMs: cfg.secretRefreshIntervalMs,
    resyncIntervalMs: cfg.resyncIntervalMs,
    concurrency: cfg.concurrency,
    leaderElection: enabled ? leaderElection : false,
    metricsBindAddress: cfg.metricsBindAddress,
    metricsSecure: cfg.metricsSecure ? { certPath: cfg.metricsCertPath } : false,
    healthProbeBindAddress: cfg.healthProbeBindAddress,
    shutdownTimeoutMs: cfg.shutdownTimeoutMs,
    instance: leaderElection.identity,
    ...extra,
    log: extra.log ?? createLogger({ level: cfg.logLevel, name: 'hsm-operator' }),
  };
}

export function loadKubeConfig(cfg: Pick<RuntimeConfig, 'kubeconfig' | 'inCluster' | 'context'>): KubeConfig {
  const kc = new KubeConfig();
  if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
  else if (cfg.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (cfg.context) kc.setCurrentContext(cfg.context);
  return kc;
}

/**
 * SIGTERM/SIGINT: stop the manager within `deadlineMs` and exit 0; a second signal exits 1 at once.
 * Returns a function that removes the handlers.
 */
export function installSignalHandlers(
  manager: Manager,
  options: { deadlineMs?: number; exit?: (code: number) => void; signals?: NodeJS.Signals[] } = {},
): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      manager.log.warn({ signal: sig }, 'second signal: exiting now');
      exit(1);
      return;
    }
    stopping = true;
    manager.log.info({ signal: sig }, 'signal received: draining and releasing the Lease');
    manager.stop(options.deadlineMs).then(
      () => exit(0),
      (e: unknown) => {
        manager.log.error({ err: errorMessage(e) }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
