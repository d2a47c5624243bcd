/**
 * Runtime configuration from flags and environment (flag > environment > default), parsed with node's
 * util.parseArgs into a typed object. Reusable by any CLI: `runtimeFlags` can be merged with a caller's own
 * flags and turned into a config with `configFromValues`; `parseRuntimeConfig` does both for the common case.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { durationMs } from './duration.js';
import { parseBindAddress } from './httpserver.js';
import { DEFAULT_LEASE_TIMING, validLeaseTiming, type LeaderElection, type LeaseTiming } from './leader.js';
import type { LogLevel } from './log.js';

/** Leader election as the flags set it: on or off, and the elector's options (leader.ts) with every timing given. */
export type LeaderElectionConfig = { enabled: boolean } & LeaderElection & LeaseTiming;

export interface RuntimeConfig {
  /** Kubeconfig file; undefined with `inCluster` means the ServiceAccount, otherwise the default loading rules. */
  kubeconfig: string | undefined;
  context: string | undefined;
  inCluster: boolean;
  /** Namespaces to watch; empty = all. */
  namespaces: string[];
  /** Workers per controller: `default`, overridden by name. */
  concurrency: { default: number; byController: Record<string, number> };
  /** Every object is reconciled again at least this often (jittered). */
  resyncIntervalMs: number;
  /** A watch that delivers nothing (not even a bookmark) for this long is restarted. */
  watchIdleTimeoutMs: number;
  /** Full relist of every cache this often; 0 disables. */
  relistIntervalMs: number;
  /** Serving all namespaces, Secrets are read by name only: a tracked one is read again once older than this. */
  secretRefreshIntervalMs: number;
  leaderElection: LeaderElectionConfig;
  metricsBindAddress: string;
  /** Serve /metrics over HTTPS, only to callers the API server authenticates and authorizes (TokenReview, SubjectAccessReview). */
  metricsSecure: boolean;
  /** Directory with tls.crt and tls.key for secure metrics; undefined: a self-signed certificate. */
  metricsCertPath: string | undefined;
  healthProbeBindAddress: string;
  logLevel: LogLevel;
  /** How long a shutdown waits for in-flight reconciles. */
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

interface FlagDef {
  type: 'string' | 'boolean';
  env?: string[];
  default?: string;
  help: string;
  arg?: string;
}

/** A flag's default duration as it reads in --help (`15s`). */
const seconds = (ms: number): string => `${ms / 1000}s`;

const flags = {
  kubeconfig: { type: 'string', env: ['KUBECONFIG'], help: 'kubeconfig file (default: in-cluster ServiceAccount, else ~/.kube/config)', arg: 'path' },
  context: { type: 'string', env: ['HSM_OPERATOR_CONTEXT'], help: 'kubeconfig context to use', arg: 'name' },
  namespaces: { type: 'string', env: ['HSM_OPERATOR_NAMESPACES', 'WATCH_NAMESPACES', 'WATCH_NAMESPACE'], default: '', help: 'comma-separated namespaces to watch (default: all)', arg: 'a,b' },
  concurrency: { type: 'string', env: ['HSM_OPERATOR_CONCURRENCY'], default: '1', help: 'workers per controller: N, or N,Kind=N,... (e.g. 2,DedicatedHsm=4)', arg: 'spec' },
  'resync-interval': { type: 'string', env: ['HSM_OPERATOR_RESYNC_INTERVAL'], default: '1h', help: 'reconcile every object at least this often (jittered)', arg: 'duration' },
  'watch-idle-timeout': { type: 'string', env: ['HSM_OPERATOR_WATCH_IDLE_TIMEOUT'], default: '5m', help: 'restart a watch that delivered nothing for this long', arg: 'duration' },
  'relist-interval': { type: 'string', env: ['HSM_OPERATOR_RELIST_INTERVAL'], default: '30m', help: 'full relist of every cache (0 disables)', arg: 'duration' },
  'secret-refresh-interval': {
    type: 'string',
    env: ['HSM_OPERATOR_SECRET_REFRESH_INTERVAL'],
    default: '30s',
    help: 'serving all namespaces, Secrets are read by name (no list or watch): re-read each one the resources name this often, so a rotation is noticed',
    arg: 'duration',
  },
  'leader-elect': { type: 'boolean', env: ['HSM_OPERATOR_LEADER_ELECT'], default: 'true', help: 'elect a leader through a Lease; --no-leader-elect to run alone' },
  'leader-election-id': { type: 'string', env: ['HSM_OPERATOR_LEADER_ELECTION_ID'], default: 'hsm-operator-leader', help: 'name of the Lease', arg: 'name' },
  'leader-election-namespace': { type: 'string', env: ['HSM_OPERATOR_LEADER_ELECTION_NAMESPACE', 'POD_NAMESPACE'], help: 'namespace of the Lease (default: the pod namespace, else "default")', arg: 'ns' },
  'leader-election-identity': { type: 'string', env: ['HSM_OPERATOR_LEADER_ELECTION_IDENTITY', 'POD_NAME'], help: 'identity in the Lease (default: hostname plus a random suffix)', arg: 'id' },
  'lease-duration': { type: 'string', env: ['HSM_OPERATOR_LEASE_DURATION'], default: seconds(DEFAULT_LEASE_TIMING.leaseDurationMs), help: 'how long a standby waits before taking an unrenewed Lease', arg: 'duration' },
  'renew-deadline': { type: 'string', env: ['HSM_OPERATOR_RENEW_DEADLINE'], default: seconds(DEFAULT_LEASE_TIMING.renewDeadlineMs), help: 'the leader steps down if it cannot renew within this', arg: 'duration' },
  'retry-period': { type: 'string', env: ['HSM_OPERATOR_RETRY_PERIOD'], default: seconds(DEFAULT_LEASE_TIMING.retryPeriodMs), help: 'interval between Lease attempts', arg: 'duration' },
  'metrics-bind-address': { type: 'string', env: ['HSM_OPERATOR_METRICS_BIND_ADDRESS'], default: ':8080', help: 'address of /metrics (host:port, :port; 0 disables)', arg: 'addr' },
  'metrics-secure': {
    type: 'boolean',
    env: ['HSM_OPERATOR_METRICS_SECURE'],
    default: 'false',
    help: 'serve /metrics over HTTPS to callers the API server authenticates (TokenReview) and authorizes for GET /metrics (SubjectAccessReview); needs RBAC to create both',
  },
  'metrics-cert-path': { type: 'string', env: ['HSM_OPERATOR_METRICS_CERT_PATH'], help: 'directory with tls.crt and tls.key for --metrics-secure, re-read on change (default: a self-signed certificate)', arg: 'dir' },
  'health-probe-bind-address': { type: 'string', env: ['HSM_OPERATOR_HEALTH_PROBE_BIND_ADDRESS'], default: ':8081', help: 'address of /healthz and /readyz (0 disables)', arg: 'addr' },
  'log-level': { type: 'string', env: ['HSM_OPERATOR_LOG_LEVEL', 'LOG_LEVEL'], default: 'info', help: 'trace, debug, info, warn, error, fatal or silent', arg: 'level' },
  'shutdown-timeout': { type: 'string', env: ['HSM_OPERATOR_SHUTDOWN_TIMEOUT'], default: '30s', help: 'how long shutdown waits for in-flight reconciles', arg: 'duration' },
  help: { type: 'boolean', help: 'show this help' },
} as const satisfies Record<string, FlagDef>;

type FlagName = keyof typeof flags;

/** The runtime's flags as util.parseArgs options; merge them with a CLI's own. */
export const runtimeFlags = Object.fromEntries(Object.entries(flags).map(([name, def]) => [name, { type: def.type, ...(name === 'help' ? { short: 'h' } : {}) }])) as {
  [K in FlagName]: { type: (typeof flags)[K]['type']; short?: string };
};

export type FlagValues = Partial<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** `500ms`, `10s`, `5m`, `1h`, `1h30m` (durationMs, the one parser), or a plain number of seconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  if (!t) throw new ConfigError(`${what}: empty duration`);
  const ms = durationMs(t);
  if (ms === undefined) throw new ConfigError(`${what}: bad duration "${text}" (use e.g. 500ms, 10s, 5m, 1h)`);
  return ms;
}

export function parseConcurrency(text: string): RuntimeConfig['concurrency'] {
  const out: RuntimeConfig['concurrency'] = { default: 1, byController: {} };
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, value] = part.includes('=') ? part.split('=', 2) : [undefined, part];
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ConfigError(`concurrency: "${part}" is not a worker count of 1..1000`);
    if (name) out.byController[name.trim()] = n;
    else out.default = n;
  }
  return out;
}

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const serviceAccountNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function podNamespace(): string | undefined {
  try {
    return readFileSync(serviceAccountNamespaceFile, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function pick(values: FlagValues, env: Env, name: FlagName): string | undefined {
  const v = values[name];
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  const def: FlagDef = flags[name];
  for (const e of def.env ?? []) {
    const ev = env[e];
    if (ev !== undefined && ev !== '') return ev;
  }
  return def.default;
}

function bool(text: string, what: string): boolean {
  if (/^(true|1|yes|on)$/i.test(text)) return true;
  if (/^(false|0|no|off)$/i.test(text)) return false;
  throw new ConfigError(`${what}: "${text}" is not a boolean`);
}

/** Builds the config from parsed flag values (flags win over environment variables, which win over defaults). */
export function configFromValues(values: FlagValues, env: Env = process.env): RuntimeConfig {
  const str = (n: FlagName) => pick(values, env, n);
  const dur = (n: FlagName) => parseDuration(str(n) ?? '', `--${n}`);
  const kubeconfig = str('kubeconfig') || undefined;
  const logLevel = (str('log-level') ?? 'info').toLowerCase();
  if (!levels.includes(logLevel)) throw new ConfigError(`--log-level: "${logLevel}" is not one of ${levels.join(', ')}`);
  for (const n of ['metrics-bind-address', 'health-probe-bind-address'] as const) {
    try {
      parseBindAddress(str(n) ?? '');
    } catch (e) {
      throw new ConfigError(`--${n}: ${(e as Error).message}`);
    }
  }
  const leaderElection: LeaderElectionConfig = {
    enabled: bool(str('leader-elect') ?? 'true', '--leader-elect'),
    name: str('leader-election-id') ?? 'hsm-operator-leader',
    namespace: str('leader-election-namespace') || podNamespace() || 'default',
    identity: str('leader-election-identity') || `${hostname()}_${randomBytes(4).toString('hex')}`,
    leaseDurationMs: dur('lease-duration'),
    renewDeadlineMs: dur('renew-deadline'),
    retryPeriodMs: dur('retry-period'),
  };
  if (leaderElection.enabled && !validLeaseTiming(leaderElection)) {
    throw new ConfigError('leader election needs --lease-duration > --renew-deadline > --retry-period > 0');
  }
  const cfg: RuntimeConfig = {
    kubeconfig,
    context: str('context') || undefined,
    inCluster: !kubeconfig && Boolean(env.KUBERNETES_SERVICE_HOST),
    namespaces: (str('namespaces') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    concurrency: parseConcurrency(str('concurrency') ?? '1'),
    resyncIntervalMs: dur('resync-interval'),
    watchIdleTimeoutMs: dur('watch-idle-timeout'),
    relistIntervalMs: dur('relist-interval'),
    secretRefreshIntervalMs: dur('secret-refresh-interval'),
    leaderElection,
    metricsBindAddress: str('metrics-bind-address') ?? ':8080',
    metricsSecure: bool(str('metrics-secure') ?? 'false', '--metrics-secure'),
    metricsCertPath: str('metrics-cert-path') || undefined,
    healthProbeBindAddress: str('health-probe-bind-address') ?? ':8081',
    logLevel: logLevel as LogLevel,
    shutdownTimeoutMs: dur('shutdown-timeout'),
  };
  if (cfg.metricsCertPath && !cfg.metricsSecure) throw new ConfigError('--metrics-cert-path needs --metrics-secure');
  if (cfg.watchIdleTimeoutMs < 1000) throw new ConfigError('--watch-idle-timeout must be at least 1s');
  if (cfg.secretRefreshIntervalMs < 1000) throw new ConfigError('--secret-refresh-interval must be at least 1s');
  return cfg;
}

export interface ParsedCommandLine {
  config: RuntimeConfig;
  positionals: string[];
  /** True when --help was given: print `runtimeHelp()` and exit 0. */
  help: boolean;
}

/** Parses argv (without node and script) and the environment; throws ConfigError on bad input. */
export function parseRuntimeConfig(argv: string[] = process.argv.slice(2), env: Env = process.env, options: { allowPositionals?: boolean } = {}): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: runtimeFlags as ParseArgsConfig['options'], allowPositionals: options.allowPositionals ?? false, allowNegative: true, strict: true });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const values = parsed.values as FlagValues;
  return { config: configFromValues(values, env), positionals: parsed.positionals, help: values.help === true };
}

/** `--help` text for the runtime's flags. */
export function runtimeHelp(usage = 'hsm-operator [flags]'): string {
  const rows = Object.entries(flags).map(([name, def]: [string, FlagDef]) => {
    const left = `  --${name}${def.arg ? ` <${def.arg}>` : ''}`;
    const extra = [def.default !== undefined && def.type === 'string' ? `default ${def.default === '' ? '""' : def.default}` : '', def.env?.length ? `env ${def.env.join(', ')}` : '']
      .filter(Boolean)
      .join('; ');
    return `${left.padEnd(44)}${def.help}${extra ? ` (${extra})` : ''}`;
  });
  return [`Usage: ${usage}`, '', 'Flags:', ...rows, ''].join('\n');
}
