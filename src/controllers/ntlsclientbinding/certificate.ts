/**
 * The client certificate, as pure decisions: is a tls.crt/tls.key pair usable, when is it renewed (cert-manager's
 * rule: at 2/3 of the lifetime unless renewBefore says otherwise), must a generated one be issued again, and what
 * CertificateValid says about it. Messages name Secrets and dates, never key material.
 */
import { createHash } from 'node:crypto';
import type { ConditionLike, KeyAlgorithm, NtlsClientBindingSpec } from '../../api/index.js';
import { keyMatchesCertificate, parseCertificate, type CertificateFacts } from '../../pki/index.js';
import { toKubeTime } from '../../runtime/index.js';

export const TLS_CERT = 'tls.crt';
export const TLS_KEY = 'tls.key';
/** Annotation on a generated certificate Secret: what it was issued for, so a spec change re-issues it. */
export const ISSUED_FOR_ANNOTATION = 'dedicatedhsm.io/issued-for';
const GENERATED_SUFFIX = '-client-cert';

export interface KeyPair {
  /** tls.crt as given (may carry a chain after the leaf). */
  certPem: string;
  keyPem: string;
  /** The leaf certificate. */
  facts: CertificateFacts;
}

export type KeyPairCheck = { ok: true; pair: KeyPair } | { ok: false; message: string };

/** Whether `data` (a decoded Secret) holds a certificate and its private key. `where` names the Secret in messages. */
export function checkKeyPair(data: Readonly<Record<string, string>>, where: string): KeyPairCheck {
  const certPem = data[TLS_CERT];
  const keyPem = data[TLS_KEY];
  if (!certPem?.trim()) return { ok: false, message: `${where} has no ${TLS_CERT}: use a kubernetes.io/tls Secret with ${TLS_CERT} and ${TLS_KEY}.` };
  if (!keyPem?.trim()) return { ok: false, message: `${where} has no ${TLS_KEY}: use a kubernetes.io/tls Secret with ${TLS_CERT} and ${TLS_KEY}.` };
  let facts: CertificateFacts;
  try {
    facts = parseCertificate(certPem);
  } catch {
    return { ok: false, message: `${TLS_CERT} in ${where} is not a PEM-encoded X.509 certificate.` };
  }
  if (!keyMatchesCertificate(certPem, keyPem)) {
    return { ok: false, message: `${TLS_KEY} in ${where} is not the private key of the certificate in ${TLS_CERT} (or not a PEM private key).` };
  }
  return { ok: true, pair: { certPem, keyPem, facts } };
}

/** The leaf certificate alone, PEM: what is uploaded to the HSMs (their fingerprint is of the leaf). */
export function leafPem(facts: Pick<CertificateFacts, 'der'>): string {
  const b64 = facts.der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * When a certificate is renewed (generated) or reported as expiring (from a Secret): `renewBefore` ahead of
 * notAfter, or at 2/3 of the lifetime when renewBefore is unset or not shorter than the lifetime. Never in the first
 * tenth of the lifetime, so a renewBefore close to the lifetime cannot make the operator re-issue in a loop.
 */
export function renewalTime(notBefore: Date, notAfter: Date, renewBeforeMs?: number): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  if (!(lifetime > 0)) return new Date(notAfter.getTime());
  const before = renewBeforeMs !== undefined && renewBeforeMs > 0 && renewBeforeMs < lifetime ? renewBeforeMs : lifetime / 3;
  const floor = notBefore.getTime() + lifetime / 10;
  return new Date(Math.max(floor, Math.round(notAfter.getTime() - before)));
}

export type ValidityState = 'notYetValid' | 'valid' | 'expiring' | 'expired';

export interface Validity {
  state: ValidityState;
  renewalTime: Date;
}

export function certificateValidity(facts: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, now: number, renewBeforeMs?: number): Validity {
  const renewal = renewalTime(facts.notBefore, facts.notAfter, renewBeforeMs);
  const state: ValidityState =
    now < facts.notBefore.getTime() ? 'notYetValid' : now >= facts.notAfter.getTime() ? 'expired' : now >= renewal.getTime() ? 'expiring' : 'valid';
  return { state, renewalTime: renewal };
}

/** A usable certificate can be pushed: not expired and already valid. */
export const usable = (v: Validity): boolean => v.state === 'valid' || v.state === 'expiring';

// ---------------------------------------------------------------------------------------------------------------
// Generated certificates

export interface IssuancePlan {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  keyAlgorithm: KeyAlgorithm;
  durationMs: number;
}

/** Name of the Secret a generated certificate lives in: `<binding>-client-cert`, shortened with a hash if needed. */
export function generatedSecretName(bindingName: string): string {
  const name = `${bindingName}${GENERATED_SUFFIX}`;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(bindingName).digest('hex').slice(0, 8);
  return `${bindingName.slice(0, 253 - GENERATED_SUFFIX.length - 9).replace(/[-.]+$/, '')}-${hash}${GENERATED_SUFFIX}`;
}

/** What to issue for a binding that generates its certificate; CN defaults to the identity (hostname or ip). */
export function issuancePlan(spec: Pick<NtlsClientBindingSpec, 'identity' | 'certificate' | 'clientName'>, durationMs: number): IssuancePlan {
  const g = spec.certificate.generate;
  const { hostname, ip } = spec.identity;
  return {
    commonName: g?.commonName ?? hostname ?? ip ?? spec.clientName,
    dnsNames: hostname !== undefined ? [hostname] : [],
    ipAddresses: ip !== undefined ? [ip] : [],
    keyAlgorithm: g?.keyAlgorithm ?? 'RSA2048',
    durationMs,
  };
}

/** A short, stable digest of the plan: stored on the Secret, compared on every pass. */
export function issuedFor(plan: IssuancePlan): string {
  const canonical = JSON.stringify([plan.commonName, plan.dnsNames, plan.ipAddresses, plan.keyAlgorithm, plan.durationMs]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** The validity window of a certificate issued `now`: backdated a little for clock skew, whole seconds (X.509). */
export function validityWindow(now: number, durationMs: number): { notBefore: Date; notAfter: Date } {
  const backdate = Math.min(60_000, durationMs / 100);
  const notBefore = Math.floor((now - backdate) / 1000) * 1000;
  const notAfter = Math.floor((now + durationMs) / 1000) * 1000;
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}

export interface StoredCertificate {
  check: KeyPairCheck;
  /** The ISSUED_FOR_ANNOTATION value on the Secret. */
  issuedFor: string | undefined;
}

/**
 * Why a generated certificate must be issued (again), or undefined when the stored one is fine: none yet, unusable,
 * issued for another spec, or its renewal time has come.
 */
export function reissueReason(stored: StoredCertificate | undefined, plan: IssuancePlan, now: number, renewBeforeMs?: number): string | undefined {
  if (!stored) return 'no certificate has been generated yet';
  if (!stored.check.ok) return `the stored certificate is not usable (${stored.check.message})`;
  if (stored.issuedFor !== issuedFor(plan)) return 'the certificate settings changed (common name, identity, key algorithm or duration)';
  const v = certificateValidity(stored.check.pair.facts, now, renewBeforeMs);
  if (v.state === 'expired') return `the certificate expired at ${toKubeTime(stored.check.pair.facts.notAfter)}`;
  if (v.state === 'expiring') return `its renewal time ${toKubeTime(v.renewalTime)} has come`;
  if (v.state === 'notYetValid') return `the stored certificate is not valid before ${toKubeTime(stored.check.pair.facts.notBefore)}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// CertificateValid

export type CertificateSource = { kind: 'secret'; secret: string } | { kind: 'generated'; secret: string };


/** CertificateValid for a certificate that parsed and whose key matches. Messages are stable between passes. */
export function validityCondition(source: CertificateSource, facts: Pick<CertificateFacts, 'subjectCommonName' | 'notBefore' | 'notAfter'>, v: Validity): ConditionLike {
  const what = source.kind === 'generated' ? `Generated client certificate CN=${facts.subjectCommonName} in Secret ${source.secret}` : `Client certificate CN=${facts.subjectCommonName} from Secret ${source.secret}`;
  switch (v.state) {
    case 'valid':
      return {
        type: 'CertificateValid',
        status: 'True',
        reason: 'Valid',
        message: `${what} is valid until ${toKubeTime(facts.notAfter)}; ${source.kind === 'generated' ? 'it is renewed' : 'it is reported as expiring'} at ${toKubeTime(v.renewalTime)}.`,
      };
    case 'expiring':
      return {
        type: 'CertificateValid',
        status: 'True',
        reason: 'CertificateExpiring',
        message:
          source.kind === 'generated'
            ? `${what} expires at ${toKubeTime(facts.notAfter)} and is due for renewal since ${toKubeTime(v.renewalTime)}.`
            : `${what} expires at ${toKubeTime(facts.notAfter)} (renewal window since ${toKubeTime(v.renewalTime)}): put a renewed certificate into the Secret (cert-manager does so by itself for certificates it issues); the operator pushes it to every HSM.`,
      };
    case 'expired':
      return {
        type: 'CertificateValid',
        status: 'False',
        reason: 'CertificateExpired',
        message:
          source.kind === 'generated'
            ? `${what} expired at ${toKubeTime(facts.notAfter)} and was not renewed.`
            : `${what} expired at ${toKubeTime(facts.notAfter)}: NTLS refuses it. Put a renewed certificate into the Secret; the operator pushes it to every HSM.`,
      };
    case 'notYetValid':
      return {
        type: 'CertificateValid',
        status: 'False',
        reason: 'CertificateInvalid',
        message: `${what} is not valid before ${toKubeTime(facts.notBefore)}: check the issuer's clock.`,
      };
  }
}
