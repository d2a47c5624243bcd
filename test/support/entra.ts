/**
 * An Entra ID (Microsoft identity platform) authority on loopback, for one tenant and one confidential client: what
 * @azure/identity's ClientSecretCredential (through MSAL) asks when instance discovery is off, and nothing more.
 *
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration`: the OpenID Connect metadata MSAL reads the token endpoint
 *   from (it requires authorization_endpoint, token_endpoint, issuer and jwks_uri).
 * - `POST /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, `client_id`, `client_secret`, `scope`:
 *   the client credentials grant. Success is `{ token_type: "Bearer", expires_in, ext_expires_in, access_token }`;
 *   failures are the documented error body (`error`, `error_description` starting with the AADSTS code,
 *   `error_codes`, `timestamp`, `trace_id`, `correlation_id`).
 *
 * HTTPS only (@azure/identity refuses a plain-http authority), with a certificate from its own CA: clients trust
 * `caPem`. Access tokens are opaque random strings; `issued(token)` says whether this authority issued one, so a
 * resource server (the ARM simulator's `acceptToken`) can refuse any other. The client secret is never recorded.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { issueCertificate } from '../../src/pki/index.js';

export interface EntraOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Lifetime of issued tokens, seconds (default 3599, as Entra ID answers). */
  expiresInSeconds?: number;
}

export interface TokenRequestRecord {
  tenant: string;
  grantType: string;
  clientId: string;
  scope: string;
  status: number;
  /** AADSTS error of a refused request. */
  error?: string;
}

export interface EntraAuthority {
  /** `https://127.0.0.1:<port>`: the authority host (AZURE_AUTHORITY_HOST / --azure-authority-host). */
  authorityHost: string;
  caPem: string;
  /** Every token request, in order (no secrets). */
  tokenRequests: TokenRequestRecord[];
  /** Paths of every request, in order. */
  paths: string[];
  /** Whether this authority issued `token` and it has not expired. */
  issued(token: string): boolean;
  stop(): Promise<void>;
}

interface EntraError {
  status: number;
  error: string;
  code: number;
  description: string;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startEntraAuthority(opts: EntraOptions): Promise<EntraAuthority> {
  const ca = await issueCertificate({ commonName: 'Entra simulator CA', isCA: true, keyAlgorithm: 'ECDSAP256' });
  const leaf = await issueCertificate({ commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], keyAlgorithm: 'ECDSAP256', issuer: ca });
  const tokens = new Map<string, number>();
  const tokenRequests: TokenRequestRecord[] = [];
  const paths: string[] = [];
  const lifetime = opts.expiresInSeconds ?? 3599;
  let base = '';

  const metadata = (tenant: string) => ({
    token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
    tenant_region_scope: null,
  });

  const token = (tenant: string, form: URLSearchParams): { status: number; body: unknown; record: TokenRequestRecord } => {
    const record: TokenRequestRecord = { tenant, grantType: form.get('grant_type') ?? '', clientId: form.get('client_id') ?? '', scope: form.get('scope') ?? '', status: 200 };
    const fail = (e: EntraError) => {
      record.status = e.status;
      record.error = `AADSTS${e.code}`;
      const body = {
        error: e.error,
        error_description: `AADSTS${e.code}: ${e.description} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
        error_codes: [e.code],
        timestamp: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      };
      return { status: e.status, body, record };
    };
    if (tenant !== opts.tenantId) return fail({ status: 400, error: 'invalid_request', code: 90002, description: `Tenant '${tenant}' not found.` });
    if (record.grantType !== 'client_credentials')
      return fail({ status: 400, error: 'unsupported_grant_type', code: 70003, description: `The app requested an unsupported grant type '${record.grantType}'.` });
    if (record.clientId !== opts.clientId)
      return fail({ status: 400, error: 'unauthorized_client', code: 700016, description: `Application with identifier '${record.clientId}' was not found in the directory '${tenant}'.` });
    if (!sameSecret(form.get('client_secret') ?? '', opts.clientSecret))
      return fail({ status: 401, error: 'invalid_client', code: 7000215, description: 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.' });
    if (!/\/\.default$/.test(record.scope))
      return fail({ status: 400, error: 'invalid_scope', code: 1002012, description: `The provided value for scope ${record.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).` });
    const accessToken = randomBytes(32).toString('base64url');
    tokens.set(accessToken, Date.now() + lifetime * 1000);
    return { status: 200, body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken }, record };
  };

  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    paths.push(url.pathname);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        const payload = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(payload), 'Cache-Control': 'no-store, no-cache' });
        res.end(payload);
      };
      const meta = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
      if (req.method === 'GET' && meta) return send(200, metadata(decodeURIComponent(meta[1]!)));
      const tok = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
      if (req.method === 'POST' && tok) {
        const r = token(decodeURIComponent(tok[1]!), new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        tokenRequests.push(r.record);
        return send(r.status, r.body);
      }
      send(404, { error: 'not_found', error_description: `no such endpoint: ${req.method ?? 'GET'} ${url.pathname}` });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    authorityHost: base,
    caPem: ca.certPem,
    tokenRequests,
    paths,
    issued: (t) => (tokens.get(t) ?? 0) > Date.now(),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
