/**
 * An auditing HTTPS proxy in front of the test API server (which runs without an audit log): it terminates TLS with
 * its own certificate, records the method and path of every request, and forwards it to the API server as is
 * (the client's bearer token included). A client pointed at it through `kubeconfig()` is seen request by request,
 * independently of the client's own bookkeeping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { issueCertificate } from '../../src/pki/index.js';

export interface AuditedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
}

export interface KubeAuditProxy {
  server: string;
  requests: AuditedRequest[];
  /** A kubeconfig file for the admin user, through the proxy. */
  kubeconfigPath: string;
  stop(): Promise<void>;
}

export async function startKubeAuditProxy(): Promise<KubeAuditProxy> {
  const cp = inject('controlPlane');
  const upstream = new URL(cp.server);
  const ca = await issueCertificate({ commonName: 'audit proxy CA', isCA: true, keyAlgorithm: 'ECDSAP256' });
  const leaf = await issueCertificate({ commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], keyAlgorithm: 'ECDSAP256', issuer: ca });
  const requests: AuditedRequest[] = [];
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    const out = httpsRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, ca: cp.caPem },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'kube-audit-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'audited', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
      users: [{ name: 'admin', user: { token: cp.adminToken } }],
      contexts: [{ name: 'audited', context: { cluster: 'audited', user: 'admin' } }],
      'current-context': 'audited',
    }),
    { mode: 0o600 },
  );
  return {
    server: url,
    requests,
    kubeconfigPath,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
