/**
 * A real mutual-TLS handshake against an appliance's NTLS port: the proof that a client binding is in sync.
 * The client trusts exactly the appliance's `server.pem` and presents its registered certificate. TLS 1.2
 * is used so the server's verdict on the client certificate arrives inside the handshake.
 */
import { connect } from 'node:tls';
import { parseCertificate, digestHex } from '../pki/index.js';
import { DeviceAbortedError } from './errors.js';

export const NTLS_PORT = 1792;

export interface NtlsProbeOptions {
  host: string;
  port?: number;
  serverCertPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  timeoutMs?: number;
  /** An aborted signal opens no socket; one that fires during the handshake destroys it. Either rejects with DeviceAbortedError. */
  signal?: AbortSignal;
}

export type NtlsProbeResult =
  | { ok: true; protocol: string; serverFingerprint: string }
  | {
      ok: false;
      /** `client-not-trusted`: the appliance refused our certificate (unregistered or stale: `unknown ca`).
       *  `server-not-trusted`: the appliance presented a certificate other than our `server.pem` (regenCert). */
      reason: 'client-not-trusted' | 'server-not-trusted' | 'unreachable' | 'timeout' | 'tls-error';
      message: string;
    };

const SERVER_UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export function probeNtls(o: NtlsProbeOptions): Promise<NtlsProbeResult> {
  const expected = parseCertificate(o.serverCertPem).sha256;
  const port = o.port ?? NTLS_PORT;
  if (o.signal?.aborted) return Promise.reject(new DeviceAbortedError(o.host, `NTLS handshake on port ${port}`, false));
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (r: NtlsProbeResult | DeviceAbortedError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', abort);
      sock.destroy();
      if (r instanceof DeviceAbortedError) reject(r);
      else resolve(r);
    };
    const abort = (): void => finish(new DeviceAbortedError(o.host, `NTLS handshake on port ${port}`, true));
    const sock = connect({
      host: o.host,
      port,
      ca: o.serverCertPem,
      cert: o.clientCertPem,
      key: o.clientKeyPem,
      maxVersion: 'TLSv1.2',
      // Trust is pinned to server.pem itself; Luna server certificates name the appliance, not our host string.
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout', message: `no NTLS handshake within ${o.timeoutMs ?? 5000} ms` }), o.timeoutMs ?? 5000);
    o.signal?.addEventListener('abort', abort, { once: true });
    sock.once('secureConnect', () => {
      const peer = sock.getPeerCertificate();
      const seen = peer.raw ? digestHex(peer.raw, 'sha256') : '';
      if (seen !== expected) finish({ ok: false, reason: 'server-not-trusted', message: 'NTLS server certificate differs from server.pem' });
      else finish({ ok: true, protocol: sock.getProtocol() ?? 'unknown', serverFingerprint: seen });
    });
    sock.once('error', (err: Error & { code?: string }) => {
      const code = err.code ?? '';
      if (/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE_UNKNOWN|ALERT_HANDSHAKE_FAILURE|ALERT_ACCESS_DENIED/i.test(code) || /alert unknown ca|alert bad certificate/i.test(err.message)) {
        finish({ ok: false, reason: 'client-not-trusted', message: err.message });
      } else if (SERVER_UNTRUSTED.has(code)) finish({ ok: false, reason: 'server-not-trusted', message: err.message });
      else if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN/.test(code)) finish({ ok: false, reason: 'unreachable', message: err.message });
      else finish({ ok: false, reason: 'tls-error', message: err.message });
    });
    sock.once('close', () => finish({ ok: false, reason: 'tls-error', message: 'connection closed during the NTLS handshake' }));
  });
}
