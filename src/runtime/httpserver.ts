/**
 * Tiny HTTP servers for probes and metrics: bind-address parsing (controller-runtime style: `:8080`,
 * `127.0.0.1:0` for an ephemeral port, `0` to disable), a listen helper that reports the real port and serves
 * HTTP or HTTPS, and the secure-metrics filter: like controller-runtime's `WithAuthenticationAndAuthorization`,
 * a scrape must carry a bearer token the API server authenticates (TokenReview) and authorizes for the
 * non-resource URL it asks for (SubjectAccessReview).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KubeClient } from './client.js';
import { errorMessage } from './errors.js';
import type { Logger } from './log.js';

export interface BindAddress {
  /** Undefined: all interfaces. */
  host: string | undefined;
  port: number;
}

/** `:8080`, `0.0.0.0:8080`, `127.0.0.1:0`, `[::1]:9090`; `0`, `off` or empty disable the server (undefined). */
export function parseBindAddress(address: string): BindAddress | undefined {
  const a = address.trim();
  if (a === '' || a === '0' || a.toLowerCase() === 'off' || a.toLowerCase() === 'false') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(a) ?? /^()()(\d+)$/.exec(a);
  if (!m) throw new Error(`bad bind address "${address}": expected host:port or :port`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in bind address "${address}"`);
  const host = m[1] || m[2] || undefined;
  return { host, port };
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A certificate chain and its private key, both PEM. */
export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

export interface ListenOptions {
  /** Serve HTTPS (TLS 1.2 or newer) with this certificate instead of plain HTTP. */
  tls?: TlsMaterial;
}

export interface RunningServer {
  server: Server | HttpsServer;
  port: number;
  /** `http://host:port` (or `https://`) as reachable from this machine. */
  url: string;
  /** Replaces the certificate of an HTTPS server for new connections (rotation); throws for plain HTTP. */
  setCertificate(tls: TlsMaterial): void;
  close(): Promise<void>;
}

export function listen(bind: BindAddress, handler: Handler, options: ListenOptions = {}): Promise<RunningServer> {
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    Promise.resolve(handler(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('internal error\n');
    });
  };
  const { tls } = options;
  const server: Server | HttpsServer = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' }, serve) : createServer(serve);
  // Probes and scrapes are short; don't let idle keep-alive sockets hold shutdown up.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = !bind.host || bind.host === '0.0.0.0' || bind.host === '::' ? '127.0.0.1' : bind.host.includes(':') ? `[${bind.host}]` : bind.host;
      resolve({
        server,
        port,
        url: `${tls ? 'https' : 'http'}://${host}:${port}`,
        setCertificate: (next) => {
          if (!tls) throw new Error('not an HTTPS server');
          (server as HttpsServer).setSecureContext({ cert: next.certPem, key: next.keyPem, minVersion: 'TLSv1.2' });
        },
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// ---- TLS files ----------------------------------------------------------------------------------------------

/** Reads `tls.crt` and `tls.key` from a directory (a mounted `kubernetes.io/tls` Secret, e.g. from cert-manager). */
export function readTlsDir(dir: string): TlsMaterial {
  return { certPem: readFileSync(join(dir, 'tls.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'tls.key'), 'utf8') };
}

/**
 * Re-reads `tls.crt`/`tls.key` of `dir` every `intervalMs` and gives the server the new pair when they changed
 * (kubelet swaps a Secret volume's files atomically; cert-manager renews before expiry). A pair that cannot be
 * loaded is logged and the old certificate kept. Returns a function that stops watching.
 */
export function watchTlsDir(server: RunningServer, dir: string, options: { intervalMs?: number; log?: Logger } = {}): () => void {
  const stamp = () => ['tls.crt', 'tls.key'].map((f) => {
    try {
      const s = statSync(join(dir, f));
      return `${s.mtimeMs}/${s.size}/${s.ino}`;
    } catch {
      return 'missing';
    }
  }).join(',');
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    try {
      server.setCertificate(readTlsDir(dir));
      last = now;
      options.log?.info({ dir }, 'metrics certificate reloaded');
    } catch (e) {
      options.log?.warn({ dir, err: errorMessage(e) }, 'cannot load the new metrics certificate; keeping the old one');
    }
  }, options.intervalMs ?? 30_000);
  timer.unref();
  return () => clearInterval(timer);
}

// ---- secure metrics: authentication and authorization through the API server --------------------------------

/** Who made a request, as the API server's TokenReview says. */
export interface RequestUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Decides who a bearer token belongs to and what that user may do; the API server by default. */
export interface AccessReviewer {
  /** The user `token` belongs to, or undefined when it is not valid. Throws when it cannot tell. */
  authenticate(token: string): Promise<RequestUser | undefined>;
  /** Whether `user` may `verb` (get, post, ...) the non-resource URL `path`. Throws when it cannot tell. */
  authorize(user: RequestUser, verb: string, path: string): Promise<boolean>;
}

interface TokenReview {
  status?: { authenticated?: boolean; user?: RequestUser; error?: string };
}
interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

/**
 * TokenReview and SubjectAccessReview as the operator's own identity: it needs `create` on
 * `authentication.k8s.io/tokenreviews` and `authorization.k8s.io/subjectaccessreviews` (src/rbac.ts).
 */
export function apiServerReviewer(client: KubeClient, options: { timeoutMs?: number } = {}): AccessReviewer {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async authenticate(token) {
      const r = await client.request<TokenReview>({
        verb: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
        timeoutMs,
      });
      const user = r.status?.user;
      return r.status?.authenticated === true && user?.username ? user : undefined;
    },
    async authorize(user, verb, path) {
      const r = await client.request<SubjectAccessReview>({
        verb: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
        },
        timeoutMs,
      });
      return r.status?.allowed === true && r.status.denied !== true;
    },
  };
}

export interface TokenAuthOptions {
  reviewer: AccessReviewer;
  /** How long an answer of the reviewer is reused (per token, per user and URL). Default 10 s; 0 disables. */
  cacheTtlMs?: number;
  /** Entries per cache before the oldest is dropped. Default 1000. */
  maxCacheEntries?: number;
  now?: () => number;
  log?: Logger;
}

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  get(key: string): { value: V } | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return { value: e.value };
  }

  set(key: string, value: V): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
}

const plain = (res: ServerResponse, code: number, text: string, headers: Record<string, string> = {}) => {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(`${text}\n`);
};

/**
 * Wraps `handler` so that only callers with a bearer token that `reviewer` authenticates (else 401) and
 * authorizes for the request's method and path (else 403) reach it; 500 when the reviewer fails (the API server
 * is unreachable, or the operator lacks the RBAC to ask). Answers are cached for `cacheTtlMs`, by the token's
 * SHA-256 (the token itself is never kept), so a scrape every few seconds costs the API server little.
 */
export function withTokenAuth(handler: Handler, options: TokenAuthOptions): Handler {
  const now = options.now ?? Date.now;
  const ttl = options.cacheTtlMs ?? 10_000;
  const max = options.maxCacheEntries ?? 1000;
  const users = new TtlCache<RequestUser | undefined>(ttl, max, now);
  const decisions = new TtlCache<boolean>(ttl, max, now);
  const { reviewer, log } = options;
  return async (req, res) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) {
      plain(res, 401, 'Unauthorized: a bearer token is required', { 'WWW-Authenticate': 'Bearer realm="hsm-operator"' });
      return;
    }
    const token = m[1] as string;
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    const verb = req.method === 'HEAD' || !req.method ? 'get' : req.method.toLowerCase();
    let user: RequestUser | undefined;
    let allowed: boolean;
    try {
      const tokenKey = createHash('sha256').update(token).digest('hex');
      const known = users.get(tokenKey);
      user = known ? known.value : await reviewer.authenticate(token);
      if (!known) users.set(tokenKey, user);
      if (!user) {
        plain(res, 401, 'Unauthorized: the token is not valid', { 'WWW-Authenticate': 'Bearer realm="hsm-operator"' });
        return;
      }
      const decisionKey = JSON.stringify([user.username, user.uid ?? '', [...(user.groups ?? [])].sort(), user.extra ?? {}, verb, path]);
      const decided = decisions.get(decisionKey);
      allowed = decided ? decided.value : await reviewer.authorize(user, verb, path);
      if (!decided) decisions.set(decisionKey, allowed);
    } catch (e) {
      log?.error({ err: errorMessage(e), path }, 'cannot authenticate or authorize a metrics request (is the API server reachable, may the operator create TokenReviews and SubjectAccessReviews?)');
      plain(res, 500, 'Internal Server Error: cannot check the credentials (see the operator log)');
      return;
    }
    if (!allowed) {
      plain(res, 403, `Forbidden: user "${user.username}" may not ${verb} ${path}`);
      return;
    }
    await handler(req, res);
  };
}
