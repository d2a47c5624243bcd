/**
 * ARM simulator: an HTTPS server on 127.0.0.1 speaking the wire formats of @azure/arm-hardwaresecuritymodules
 * (2021-11-30), @azure/arm-network and Microsoft.Features, backed by a scriptable `ArmWorld`. HTTPS because
 * core-rest-pipeline refuses bearer tokens over plain http; clients trust `caPem`.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { issueCertificate } from '../../pki/index.js';
import { createArmServer } from './server.js';
import type { RequestRecord } from './server.js';
import { ArmWorld } from './world.js';
import type { QuotaLimits } from '../../azure/types.js';
import type { DeleteStyle, HsmEvent, LroStyle, PatchStyle } from './world.js';

export { ArmWorld, REQUIRED_FEATURES } from './world.js';
export type { ApplianceLink, DeleteStyle, HsmEvent, LroStyle, PatchStyle, PutFailureKind } from './world.js';
export type { RequestFilter } from './faults.js';
export type { GatewayTimeline } from './network.js';
export { HSM_DELEGATION } from './network.js';
export type { RequestRecord } from './server.js';
export { LUNA_SKU } from './wire.js';

export interface ArmSimulatorOptions {
  /** Default 0: any free port. Always bound to 127.0.0.1. */
  port?: number;
  /** Time per provisioning phase and per delete, ms (default 10). */
  provisioningMs?: number;
  /** Register the allowlisting features for every subscription (default true). */
  allowlisted?: boolean;
  lroStyle?: LroStyle;
  /** Default `resourceLocation`: 202 + Location on the HSM itself (the published 2025-03-31 example). */
  deleteStyle?: DeleteStyle;
  /** Default `sync` (200). */
  patchStyle?: PatchStyle;
  quota?: QuotaLimits;
  /** Regions with availability zones (stampId refused there); default `southeastasia`. */
  zonalRegions?: string[];
  /** Items per list page (default 100); further pages follow through a nextLink whose `$skiptoken` ends in `==`. */
  listPageSize?: number;
}

export interface CountFilter {
  method?: string;
  pathIncludes?: string;
  status?: number;
}

export interface ArmSimulator {
  /** `https://127.0.0.1:<port>` */
  endpoint: string;
  /** PEM of the CA that issued the server certificate: trust it (e.g. `tlsOptions: { ca }`). */
  caPem: string;
  world: ArmWorld;
  /** Every request served, in order. */
  requests: RequestRecord[];
  count(filter?: CountFilter): number;
  onHsmReady(cb: (e: HsmEvent) => void): () => void;
  stop(): Promise<void>;
}

export async function startArmSimulator(opts: ArmSimulatorOptions = {}): Promise<ArmSimulator> {
  const ca = await issueCertificate({ commonName: 'ARM simulator CA', isCA: true, keyAlgorithm: 'ECDSAP256' });
  const leaf = await issueCertificate({ commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], keyAlgorithm: 'ECDSAP256', issuer: ca });
  const world = new ArmWorld({
    ...(opts.provisioningMs !== undefined ? { provisioningMs: opts.provisioningMs } : {}),
    ...(opts.allowlisted !== undefined ? { allowlisted: opts.allowlisted } : {}),
    ...(opts.lroStyle ? { lroStyle: opts.lroStyle } : {}),
    ...(opts.deleteStyle ? { deleteStyle: opts.deleteStyle } : {}),
    ...(opts.patchStyle ? { patchStyle: opts.patchStyle } : {}),
    ...(opts.zonalRegions ? { zonalRegions: opts.zonalRegions } : {}),
    ...(opts.quota ? { quota: opts.quota } : {}),
  });
  const requests: RequestRecord[] = [];
  const server = createArmServer(world, { certPem: leaf.certPem, keyPem: leaf.keyPem, listPageSize: opts.listPageSize ?? 100 }, requests);
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    caPem: ca.certPem,
    world,
    requests,
    count: (f = {}) =>
      requests.filter(
        (r) =>
          (!f.method || r.method === f.method.toUpperCase()) &&
          (!f.pathIncludes || r.path.toLowerCase().includes(f.pathIncludes.toLowerCase())) &&
          (f.status === undefined || r.status === f.status),
      ).length,
    onHsmReady: (cb) => world.onHsmReady(cb),
    stop: async () => {
      world.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
