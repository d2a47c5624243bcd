/**
 * The HTTPS front of the ARM simulator: bearer check (one is required; any, unless `world.acceptToken` says which),
 * scripted faults and latency, routing of the ARM paths the SDKs call (case-insensitive, tolerant of extra query
 * strings), paging of lists, and a log of every request.
 */
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import { ArmHttpError } from './wire.js';
import type { ArmWorld, Reply } from './world.js';

export interface RequestRecord {
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  /** Epoch ms at arrival. */
  time: number;
}

export interface ServerOptions {
  certPem: string;
  keyPem: string;
  /** Items per list page; the rest follows through `nextLink`. */
  listPageSize: number;
}

type Handler = (m: string[], req: { method: string; body: unknown; query: URLSearchParams; baseUrl: string; path: string }) => Reply | Promise<Reply>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

const SEG = '([^/]+)';
const SUB = `/subscriptions/${SEG}`;
const RG = `${SUB}/resourceGroups/${SEG}`;
const HSM_PROVIDER = 'providers/Microsoft\\.HardwareSecurityModules';
const NET = `${RG}/providers/Microsoft\\.Network`;

function route(path: string, methods: Record<string, Handler>): Route {
  return { pattern: new RegExp(`^${path}/?$`, 'i'), methods };
}

function at(m: string[], i: number): string {
  return decodeURIComponent(m[i] ?? '');
}

/**
 * The continuation token of a list page: opaque base64 with `=` padding, as in the nextLink of azure-rest-api-specs
 * hardwaresecuritymodules example DedicatedHsm_ListBySubscription.json (`...?api-version=...&$skiptoken=<base64>==`).
 * Seven bytes always encode to a token ending in `==`.
 */
export function skipTokenOf(offset: number): string {
  return Buffer.from(`o${String(offset).padStart(6, '0')}`, 'utf8').toString('base64');
}

/** The offset a token stands for; a token that is not exactly one this server issued is refused, as ARM refuses it. */
export function offsetOfSkipToken(token: string): number {
  const m = /^o(\d{6})$/.exec(Buffer.from(token, 'base64').toString('utf8'));
  if (!m || skipTokenOf(Number(m[1])) !== token)
    // BadRequest: documented ARM code; the target names the query parameter. Wording is the simulator's own.
    throw new ArmHttpError(400, 'BadRequest', `The continuation token '${token}' is not valid.`, {}, { target: '$skiptoken' });
  return Number(m[1]);
}

export function buildRoutes(world: ArmWorld, opts: ServerOptions): Route[] {
  const page = (items: Array<Record<string, unknown>>, query: URLSearchParams, baseUrl: string, path: string): Reply => {
    const token = query.get('$skiptoken') ?? query.get('$skipToken');
    const skip = token === null ? 0 : offsetOfSkipToken(token);
    const value = items.slice(skip, skip + opts.listPageSize);
    const next =
      skip + opts.listPageSize < items.length ? `${baseUrl}${path}?api-version=${query.get('api-version') ?? ''}&$skiptoken=${skipTokenOf(skip + opts.listPageSize)}` : undefined;
    return { status: 200, body: { value, ...(next ? { nextLink: next } : {}) } };
  };
  return [
    route(`${RG}/${HSM_PROVIDER}/dedicatedHSMs/${SEG}`, {
      GET: (m) => world.getHsm(at(m, 1), at(m, 2), at(m, 3)),
      PUT: (m, r) => world.putHsm(at(m, 1), at(m, 2), at(m, 3), r.body, r.baseUrl),
      PATCH: (m, r) => world.patchHsm(at(m, 1), at(m, 2), at(m, 3), r.body, r.baseUrl),
      DELETE: (m, r) => world.deleteHsm(at(m, 1), at(m, 2), at(m, 3), r.baseUrl),
    }),
    route(`${RG}/${HSM_PROVIDER}/dedicatedHSMs`, { GET: (m, r) => page(world.listHsms(at(m, 1), at(m, 2)), r.query, r.baseUrl, r.path) }),
    route(`${SUB}/${HSM_PROVIDER}/dedicatedHSMs`, { GET: (m, r) => page(world.listHsms(at(m, 1)), r.query, r.baseUrl, r.path) }),
    route(`${SUB}/${HSM_PROVIDER}/locations/${SEG}/operationStatuses/${SEG}`, { GET: (m) => world.operationStatus(at(m, 1), at(m, 3)) }),
    route(`${SUB}/${HSM_PROVIDER}/locations/${SEG}/operationResults/${SEG}`, { GET: (m, r) => world.operationResult(at(m, 1), at(m, 3), r.baseUrl) }),
    route(`${NET}/virtualNetworkGateways/${SEG}`, { GET: (m) => world.getGateway(at(m, 1), at(m, 2), at(m, 3)) }),
    route(`${NET}/virtualNetworks/${SEG}`, { GET: (m) => world.getVnet(at(m, 1), at(m, 2), at(m, 3)) }),
    route(`${NET}/virtualNetworks/${SEG}/subnets/${SEG}`, { GET: (m) => world.getSubnet(at(m, 1), at(m, 2), at(m, 3), at(m, 4)) }),
    route(`${NET}/networkInterfaces/${SEG}`, { GET: (m) => world.getNic(at(m, 1), at(m, 2), at(m, 3)) }),
    route(`${SUB}/providers/Microsoft\\.Features/providers/${SEG}/features/${SEG}`, { GET: (m) => world.getFeature(at(m, 1), at(m, 2), at(m, 3)) }),
  ];
}

export function createArmServer(world: ArmWorld, opts: ServerOptions, log: RequestRecord[]): Server {
  const routes = buildRoutes(world, opts);
  return createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
    const time = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://sim.invalid');
    void handle(world, routes, req, method, url)
      .catch((err: unknown) => replyOfError(err))
      .then(async (reply) => {
        if (world.latencyMs > 0) await new Promise((r) => setTimeout(r, world.latencyMs));
        log.push({ method, path: url.pathname, status: reply.status, time });
        send(res, reply);
      });
  });
}

async function handle(world: ArmWorld, routes: Route[], req: IncomingMessage, method: string, url: URL): Promise<Reply> {
  const text = await readBody(req);
  const bearer = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '');
  if (!bearer) throw new ArmHttpError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  if (world.acceptToken && !world.acceptToken(bearer[1]!)) throw new ArmHttpError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
  const fault = world.takeFault(method, url.pathname);
  if (fault) throw fault;
  if (!url.searchParams.get('api-version')) throw new ArmHttpError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
  for (const r of routes) {
    const m = r.pattern.exec(url.pathname);
    if (!m) continue;
    const handler = r.methods[method];
    if (!handler) throw new ArmHttpError(405, 'MethodNotAllowed', `The requested method '${method}' is not allowed on '${url.pathname}'.`);
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new ArmHttpError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
      }
    }
    const host = req.headers.host ?? '127.0.0.1';
    return handler([...m], { method, body, query: url.searchParams, baseUrl: `https://${host}`, path: url.pathname });
  }
  throw new ArmHttpError(404, 'InvalidResourceType', `The resource type could not be found for path '${url.pathname}'.`);
}

function replyOfError(err: unknown): Reply {
  if (err instanceof ArmHttpError) return { status: err.status, body: err.body(), headers: err.headers };
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error: { code: 'InternalServerError', message: `simulator error: ${message}` } } };
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { 'x-ms-request-id': crypto.randomUUID(), ...(reply.headers ?? {}) };
  if (reply.body !== undefined && reply.status !== 204) {
    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(payload) });
    res.end(payload);
  } else {
    res.writeHead(reply.status, { ...headers, 'Content-Length': 0 });
    res.end();
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
