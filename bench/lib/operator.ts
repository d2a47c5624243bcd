/** The real operator, in-process, watching one namespace of the bench's control plane (as the tests run it). */
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import { buildOperator, type Operator, type OperatorOptions } from '../../src/operator.js';
import { createLogger, type Clock } from '../../src/runtime/index.js';
import type { World } from '../../src/sandbox/world.js';

export interface BenchOperatorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  world: World;
  settings?: OperatorOptions['settings'];
  compressedTime?: OperatorOptions['compressedTime'];
  controllers?: OperatorOptions['controllers'];
  resyncIntervalMs?: number;
  clock?: Clock;
}

/** API requests by verb and resource (`PUT ntlsclientbindings/status`), recorded at the operator's transport. */
export class RequestLog {
  readonly counts = new Map<string, number>();
  /** `plural/name` -> when the first status write to it was answered (performance.now()). */
  readonly firstStatusWrite = new Map<string, number>();

  /** Wraps the transport every client of the manager shares (status writer, events and finalizers included). */
  attach(op: Operator): void {
    const transport = op.manager.client.transport;
    const request = transport.request.bind(transport);
    transport.request = (req) => {
      const k = `${req.verb} ${resourceOf(req.path)}`;
      this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
      const pending = request(req);
      if ((req.verb === 'PUT' || req.verb === 'PATCH') && req.path.endsWith('/status')) {
        const parts = req.path.split('/');
        const id = `${parts.at(-3) ?? '?'}/${parts.at(-2) ?? '?'}`;
        void pending.then(
          (res) => {
            if (res.status < 300 && !this.firstStatusWrite.has(id)) this.firstStatusWrite.set(id, performance.now());
          },
          () => undefined,
        );
      }
      return pending;
    };
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
  }
}

/** `/apis/g/v/namespaces/ns/plural/name/status` -> `plural/status`; collection paths -> `plural (collection)`. */
export function resourceOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const i = parts.indexOf('namespaces');
  const rest = i >= 0 ? parts.slice(i + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
  const [plural = '?', name, sub] = rest;
  return `${plural}${sub ? `/${sub}` : ''}${name ? '' : ' (collection)'}`;
}

export async function startOperator(o: BenchOperatorOptions, requests?: RequestLog): Promise<Operator> {
  const op = buildOperator({
    manager: {
      kubeConfig: o.kubeConfig,
      namespaces: [o.namespace],
      leaderElection: false,
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      // The production default (1h) unless a benchmark says otherwise.
      resyncIntervalMs: o.resyncIntervalMs ?? 3_600_000,
      log: createLogger({ level: (process.env.BENCH_LOG_LEVEL as 'silent' | undefined) ?? 'silent', name: 'hsm-operator' }),
      ...(o.clock ? { clock: o.clock } : {}),
    },
    azure: { connection: o.world.azure.connection, defaultCredential: o.world.azure.credential },
    resolve: o.world.resolve,
    settings: { gatewayWaitInitialMs: 1_000, gatewayWaitMaxMs: 5_000, operationPollMs: 500, ntlsTimeoutMs: 5_000, ...o.settings },
    ...(o.compressedTime ? { compressedTime: o.compressedTime } : {}),
    ...(o.controllers ? { controllers: o.controllers } : {}),
  });
  requests?.attach(op);
  await op.start();
  return op;
}

/** Sum of a counter or gauge of the operator's registry over the samples matching `labels`. */
export async function metric(op: Operator, name: string, labels: Record<string, string> = {}): Promise<number> {
  return op.manager.metrics.value(name, labels);
}

/** rest_client_requests_total by method (codes and hosts summed; a watch is a GET, as client-go counts it). */
export async function apiRequestsByVerb(op: Operator): Promise<Record<string, number>> {
  const m = op.manager.metrics.registry.getSingleMetric('rest_client_requests_total');
  const out: Record<string, number> = {};
  for (const v of (await m?.get())?.values ?? []) {
    const verb = String(v.labels.method ?? '?');
    out[verb] = (out[verb] ?? 0) + v.value;
  }
  return out;
}

export const total = (byVerb: Record<string, number>): number => Object.values(byVerb).reduce((a, b) => a + b, 0);

export function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(after), ...Object.keys(before)])) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}
