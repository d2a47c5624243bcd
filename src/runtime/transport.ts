/**
 * HTTP to the Kubernetes API with node:https, configured by a KubeConfig (server, CA, client certs, tokens,
 * exec/file auth, proxies). One keep-alive agent per transport; auth headers are recomputed on every request
 * so rotating tokens (in-cluster projected tokens, exec plugins) keep working. Watches are plain streaming GETs
 * whose lifetime the caller controls with an AbortSignal: supervision lives in the watch loop, not here.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { AbortedError, apiErrorFrom } from './errors.js';

export type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type Query = Record<string, string | number | boolean | undefined>;

export interface ApiRequest {
  verb: Verb;
  path: string;
  query?: Query;
  /** Sent as JSON unless already a string. */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Per-request deadline; the transport default applies otherwise. */
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  body: string;
}

export interface StreamRequest {
  path: string;
  query?: Query;
  signal: AbortSignal;
  /** Called once the server answered 200 (the watch is established). */
  onOpen?: () => void;
  /** Called for each newline-delimited chunk of the body. */
  onLine: (line: string) => void;
}

/** The two ways the runtime talks to the API server; tests substitute an in-memory implementation. */
export interface Transport {
  /** The API server's host:port, for `rest_client_requests_total{host}`; empty when there is none (in-memory fakes). */
  readonly host?: string;
  request(req: ApiRequest): Promise<ApiResponse>;
  /** Resolves when the server ends the stream; rejects with ApiError on a non-200 answer, or on network errors and abort. */
  stream(req: StreamRequest): Promise<void>;
}

export function buildUrl(server: string, path: string, query?: Query): URL {
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  return url;
}

interface Prepared {
  url: URL;
  options: https.RequestOptions;
  client: typeof https | typeof http;
}

export interface KubeConfigTransportOptions {
  /** Deadline of ordinary requests (not watches). Default 30 s. */
  timeoutMs?: number;
  userAgent?: string;
}

export class KubeConfigTransport implements Transport {
  private agent: http.Agent | undefined;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(
    private readonly kc: KubeConfig,
    options: KubeConfigTransportOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'hsm-operator';
  }

  get host(): string {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) return '';
    try {
      return new URL(server).host;
    } catch {
      return '';
    }
  }

  /** Closes pooled connections (keep-alive sockets would otherwise linger after shutdown). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private async prepare(path: string, query: Query | undefined, method: string): Promise<Prepared> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const url = buildUrl(cluster.server, path, query);
    const plain = url.protocol === 'http:';
    if (!this.agent) {
      if (cluster.proxyUrl) this.agent = opts.agent as http.Agent;
      else if (plain) this.agent = new http.Agent({ keepAlive: true });
      else {
        this.agent = new https.Agent({
          keepAlive: true,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          pfx: opts.pfx,
          passphrase: opts.passphrase,
          servername: opts.servername,
          ...(opts.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: opts.rejectUnauthorized }),
        });
      }
    }
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, Accept: 'application/json' };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    return {
      url,
      client: plain ? http : https,
      options: { method, headers, agent: this.agent, ...(opts.auth ? { auth: opts.auth } : {}) },
    };
  }

  async request(req: ApiRequest): Promise<ApiResponse> {
    const p = await this.prepare(req.path, req.query, req.verb);
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const headers = p.options.headers as Record<string, string>;
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    return new Promise<ApiResponse>((resolve, reject) => {
      if (req.signal?.aborted) return reject(new AbortedError('request aborted'));
      const r = p.client.request(p.url, p.options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => finish(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })));
        res.on('error', (e) => finish(() => reject(e)));
        res.on('aborted', () => finish(() => reject(new Error('response aborted'))));
      });
      const timer = setTimeout(() => r.destroy(new Error(`${req.verb} ${req.path}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => r.destroy(new AbortedError('request aborted'));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      let done = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        f();
      };
      r.on('error', (e) => finish(() => reject(e)));
      r.end(body);
    });
  }

  async stream(req: StreamRequest): Promise<void> {
    const p = await this.prepare(req.path, req.query, 'GET');
    return new Promise<void>((resolve, reject) => {
      if (req.signal.aborted) return reject(abortReason(req.signal));
      let done = false;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        req.signal.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err instanceof Error ? err : new Error(String(err)));
      };
      const r = p.client.request(p.url, p.options, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => finish(apiErrorFrom(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), 'WATCH', req.path)));
          res.on('error', finish);
          return;
        }
        req.onOpen?.();
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line && !done) req.onLine(line);
          }
        });
        res.on('end', () => {
          if (buf.trim() && !done) req.onLine(buf.trim());
          finish();
        });
        res.on('error', finish);
        res.on('aborted', () => finish(new Error('watch stream aborted by the server')));
        res.on('close', () => finish(req.signal.aborted ? abortReason(req.signal) : new Error('watch connection closed')));
      });
      const onAbort = () => {
        r.destroy();
        finish(abortReason(req.signal));
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      r.on('error', finish);
      r.end();
    });
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortedError(String(signal.reason ?? 'aborted'));
}
