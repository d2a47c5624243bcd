/**
 * Secure metrics (--metrics-secure): HTTPS, a bearer token the API server authenticates (TokenReview, else 401)
 * and authorizes for the URL (SubjectAccessReview, else 403), answers cached briefly, 500 when the API server
 * cannot be asked. The same against the real kube-apiserver: test/integration/packaging/metrics-auth.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { issueCertificate, parseCertificate } from '../../../src/pki/index.js';
import {
  ConfigError,
  KubeClient,
  Manager,
  RuntimeMetrics,
  listen,
  parseRuntimeConfig,
  runtimeHelp,
  silentLogger,
  watchTlsDir,
  withTokenAuth,
  type AccessReviewer,
  type ApiRequest,
  type ApiResponse,
  type RequestUser,
  type RunningServer,
  type Transport,
} from '../../../src/runtime/index.js';

interface Answer {
  status: number;
  body: string;
  /** PEM of the certificate the server presented. */
  peerCertPem: string;
}

/** GET over HTTPS; `ca` verifies the server, otherwise any certificate is accepted (a self-signed one). */
function get(url: string, options: { token?: string; ca?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { headers: options.token ? { Authorization: `Bearer ${options.token}` } : {}, ...(options.ca ? { ca: options.ca, servername: 'localhost' } : { rejectUnauthorized: false }), agent: false },
      (res) => {
        const raw = (res.socket as TLSSocket).getPeerCertificate(false).raw;
        const peerCertPem = `-----BEGIN CERTIFICATE-----\n${raw.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peerCertPem }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A reviewer with a fixed table of tokens and grants, counting its calls. */
class TableReviewer implements AccessReviewer {
  authentications = 0;
  authorizations: { user: RequestUser; verb: string; path: string }[] = [];
  failing: Error | undefined;
  constructor(
    readonly tokens: Record<string, RequestUser>,
    readonly grants: Record<string, string[]>, // username -> "verb path"
  ) {}

  async authenticate(token: string): Promise<RequestUser | undefined> {
    this.authentications++;
    if (this.failing) throw this.failing;
    return this.tokens[token];
  }

  async authorize(user: RequestUser, verb: string, path: string): Promise<boolean> {
    this.authorizations.push({ user, verb, path });
    if (this.failing) throw this.failing;
    return (this.grants[user.username] ?? []).includes(`${verb} ${path}`);
  }
}

const servers: RunningServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function secureServer(reviewer: AccessReviewer, options: { cacheTtlMs?: number; now?: () => number } = {}) {
  const tls = await issueCertificate({ commonName: 'localhost', dnsNames: ['localhost'], keyAlgorithm: 'ECDSAP256' });
  const server = await listen(
    { host: '127.0.0.1', port: 0 },
    withTokenAuth((_req, res) => void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('metric_a 1\n'), { reviewer, ...options }),
    { tls },
  );
  servers.push(server);
  return { server, tls };
}

const prometheus: RequestUser = { username: 'system:serviceaccount:monitoring:prometheus', uid: 'u-1', groups: ['system:serviceaccounts', 'system:authenticated'] };
const intruder: RequestUser = { username: 'system:serviceaccount:apps:web', groups: ['system:authenticated'] };

describe('withTokenAuth', () => {
  it('answers 401 without a bearer token or with one the reviewer does not accept, without asking for a decision', async () => {
    const reviewer = new TableReviewer({ 'good-token': prometheus }, { [prometheus.username]: ['get /metrics'] });
    const { server } = await secureServer(reviewer);
    const none = await get(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(reviewer.authentications).toBe(0);
    expect((await get(`${server.url}/metrics`, { token: 'forged' })).status).toBe(401);
    expect(reviewer.authentications).toBe(1);
    expect(reviewer.authorizations).toEqual([]);
  });

  it('answers 403 to an authenticated caller without the grant, 200 to one with it, asking about the URL and method requested', async () => {
    const reviewer = new TableReviewer({ 'good-token': prometheus, 'other-token': intruder }, { [prometheus.username]: ['get /metrics'] });
    const { server } = await secureServer(reviewer);
    const denied = await get(`${server.url}/metrics`, { token: 'other-token' });
    expect(denied.status).toBe(403);
    expect(denied.body).toContain(intruder.username);
    const ok = await get(`${server.url}/metrics?x=1`, { token: 'good-token' });
    expect(ok).toMatchObject({ status: 200, body: 'metric_a 1\n' });
    expect(reviewer.authorizations.at(-1)).toEqual({ user: prometheus, verb: 'get', path: '/metrics' });
    // The grant is for /metrics only.
    expect((await get(`${server.url}/debug`, { token: 'good-token' })).status).toBe(403);
  });

  it('reuses answers for the cache TTL, then asks again', async () => {
    let now = 1_000_000;
    const reviewer = new TableReviewer({ 'good-token': prometheus, 'other-token': intruder }, { [prometheus.username]: ['get /metrics'] });
    const { server } = await secureServer(reviewer, { cacheTtlMs: 10_000, now: () => now });
    for (let i = 0; i < 3; i++) expect((await get(`${server.url}/metrics`, { token: 'good-token' })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(`${server.url}/metrics`, { token: 'forged' })).status).toBe(401);
    expect(reviewer.authentications).toBe(2);
    expect(reviewer.authorizations).toHaveLength(1);
    now += 10_001;
    expect((await get(`${server.url}/metrics`, { token: 'good-token' })).status).toBe(200);
    expect(reviewer.authentications).toBe(3);
    expect(reviewer.authorizations).toHaveLength(2);
  });

  it('answers 500 when the reviewer cannot tell, and does not remember the failure', async () => {
    const reviewer = new TableReviewer({ 'good-token': prometheus }, { [prometheus.username]: ['get /metrics'] });
    reviewer.failing = new Error('403 tokenreviews.authentication.k8s.io is forbidden');
    const { server } = await secureServer(reviewer);
    const failed = await get(`${server.url}/metrics`, { token: 'good-token' });
    expect(failed.status).toBe(500);
    expect(failed.body).not.toContain('good-token');
    reviewer.failing = undefined;
    expect((await get(`${server.url}/metrics`, { token: 'good-token' })).status).toBe(200);
  });

  it('never answers plain HTTP on the TLS port', async () => {
    const { server } = await secureServer(new TableReviewer({}, {}));
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest(`http://127.0.0.1:${server.port}/metrics`, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    expect(plain).not.toMatch(/status 200/);
  });
});

describe('certificate files', () => {
  it('serves the certificate of a tls.crt/tls.key directory and the new one after it changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-tls-'));
    dirs.push(dir);
    const ca = await issueCertificate({ commonName: 'metrics-ca', isCA: true, keyAlgorithm: 'ECDSAP256' });
    const first = await issueCertificate({ commonName: 'first', dnsNames: ['localhost'], issuer: ca, keyAlgorithm: 'ECDSAP256' });
    const second = await issueCertificate({ commonName: 'second', dnsNames: ['localhost'], issuer: ca, keyAlgorithm: 'ECDSAP256' });
    writeFileSync(join(dir, 'tls.crt'), first.certPem);
    writeFileSync(join(dir, 'tls.key'), first.keyPem);
    const server = await listen({ host: '127.0.0.1', port: 0 }, (_q, res) => void res.end('ok'), { tls: first });
    servers.push(server);
    const stop = watchTlsDir(server, dir, { intervalMs: 20, log: silentLogger });
    try {
      expect(parseCertificate((await get(server.url, { ca: ca.certPem })).peerCertPem).subjectCommonName).toBe('first');
      await sleep(30); // a different mtime
      writeFileSync(join(dir, 'tls.key'), second.keyPem);
      writeFileSync(join(dir, 'tls.crt'), second.certPem);
      const deadline = Date.now() + 5_000;
      let cn = '';
      while (cn !== 'second' && Date.now() < deadline) {
        await sleep(25);
        cn = parseCertificate((await get(server.url, { ca: ca.certPem })).peerCertPem).subjectCommonName;
      }
      expect(cn).toBe('second');
    } finally {
      stop();
    }
  });
});

/** Answers TokenReviews and SubjectAccessReviews like the API server; nothing else. */
class ReviewApi implements Transport {
  readonly reviews: { kind: string; spec: Record<string, unknown> }[] = [];
  async request(req: ApiRequest): Promise<ApiResponse> {
    const body = req.body as { kind: string; spec: Record<string, unknown> };
    this.reviews.push(body);
    if (req.path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const ok = body.spec.token === 'scraper-token';
      return { status: 201, body: JSON.stringify({ ...body, status: ok ? { authenticated: true, user: { username: 'scraper', groups: ['system:authenticated'] } } : { authenticated: false } }) };
    }
    if (req.path === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
      const attrs = body.spec.nonResourceAttributes as { path: string; verb: string };
      return { status: 201, body: JSON.stringify({ ...body, status: { allowed: body.spec.user === 'scraper' && attrs.path === '/metrics' && attrs.verb === 'get' } }) };
    }
    return { status: 404, body: '{}' };
  }
  stream(): Promise<void> {
    return Promise.reject(new Error('no watches here'));
  }
}

describe('Manager with metricsSecure', () => {
  it('serves /metrics over HTTPS with a self-signed certificate, checked through TokenReview and SubjectAccessReview', async () => {
    const api = new ReviewApi();
    const m = new Manager({ client: new KubeClient(api), metricsBindAddress: '127.0.0.1:0', healthProbeBindAddress: '127.0.0.1:0', metricsSecure: true, metrics: new RuntimeMetrics(), log: silentLogger });
    await m.start();
    try {
      expect(m.metricsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(m.healthUrl).toMatch(/^http:\/\//); // probes stay plain HTTP for the kubelet
      expect((await get(`${m.metricsUrl}/metrics`)).status).toBe(401);
      expect((await get(`${m.metricsUrl}/metrics`, { token: 'wrong' })).status).toBe(401);
      const ok = await get(`${m.metricsUrl}/metrics`, { token: 'scraper-token' });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('# HELP');
      const cert = parseCertificate(ok.peerCertPem);
      expect(cert.subjectCommonName).toBe('hsm-operator-metrics');
      expect(cert.selfSigned).toBe(true);
      expect(api.reviews.map((r) => r.kind)).toEqual(['TokenReview', 'TokenReview', 'SubjectAccessReview']);
      expect(api.reviews[1]?.spec).toEqual({ token: 'scraper-token' });
      expect(api.reviews[2]?.spec).toMatchObject({ user: 'scraper', groups: ['system:authenticated'], nonResourceAttributes: { path: '/metrics', verb: 'get' } });
    } finally {
      await m.stop(1_000);
    }
  });

  it('serves plain HTTP to anyone when not secure (the default)', async () => {
    const api = new ReviewApi();
    const m = new Manager({ client: new KubeClient(api), metricsBindAddress: '127.0.0.1:0', healthProbeBindAddress: '0', metrics: new RuntimeMetrics(), log: silentLogger });
    await m.start();
    try {
      expect(m.metricsUrl).toMatch(/^http:\/\//);
      expect((await fetch(`${m.metricsUrl}/metrics`)).status).toBe(200);
      expect(api.reviews).toEqual([]);
    } finally {
      await m.stop(1_000);
    }
  });
});

describe('--metrics-secure and --metrics-cert-path', () => {
  it('default off; flag or environment turns it on; a certificate directory needs it', () => {
    expect(parseRuntimeConfig([], {}).config).toMatchObject({ metricsSecure: false, metricsCertPath: undefined });
    expect(parseRuntimeConfig(['--metrics-secure'], {}).config.metricsSecure).toBe(true);
    expect(parseRuntimeConfig([], { HSM_OPERATOR_METRICS_SECURE: 'true' }).config.metricsSecure).toBe(true);
    expect(parseRuntimeConfig(['--no-metrics-secure'], { HSM_OPERATOR_METRICS_SECURE: 'true' }).config.metricsSecure).toBe(false);
    expect(parseRuntimeConfig(['--metrics-secure', '--metrics-cert-path=/tls'], {}).config.metricsCertPath).toBe('/tls');
    expect(() => parseRuntimeConfig(['--metrics-cert-path=/tls'], {})).toThrow(ConfigError);
    expect(runtimeHelp()).toContain('--metrics-secure');
  });
});
