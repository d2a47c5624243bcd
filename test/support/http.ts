/**
 * Raw HTTP access to the test API server. The typed client re-serialises CRDs through its models, which drops
 * `default`, `enum` and every `x-kubernetes-*` keyword of plain YAML, so CRDs and custom objects go over the wire as is.
 */
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export interface Endpoint {
  server: string;
  token: string;
  ca: string;
}

export function adminEndpoint(): Endpoint {
  const cp = inject('controlPlane');
  return { server: cp.server, token: cp.adminToken, ca: cp.caPem };
}

/**
 * One request; a 429 (the API server sheds requests while it swaps a CRD's handler) is retried a few times after
 * its Retry-After.
 */
export async function call(ep: Endpoint, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  for (let attempt = 1; ; attempt++) {
    const r = await once(ep, method, path, body, contentType);
    if (r.status !== 429 || attempt >= 10) return r;
    const after = Number(String(r.headers['retry-after'] ?? '1'));
    await sleep((Number.isFinite(after) ? Math.min(after, 2) : 1) * 1000);
  }
}

function once(ep: Endpoint, method: string, path: string, body: unknown, contentType: string): Promise<Reply & { headers: Record<string, string | string[] | undefined> }> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${ep.server}${path}`,
      {
        method,
        ca: ep.ca,
        timeout: 30_000,
        headers: {
          Authorization: `Bearer ${ep.token}`,
          Accept: 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
