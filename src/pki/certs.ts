/**
 * X.509 helpers shared by the NTLS binding controller (client certificates), the simulators (NTLS server
 * certificates, the ARM simulator's HTTPS) and tests. Generation uses @peculiar/x509 over Node's WebCrypto;
 * parsing uses Node's own X509Certificate.
 */
import { X509Certificate as NodeX509, createHash, createPrivateKey, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its crypto provider through tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyAlgorithm = 'RSA2048' | 'ECDSAP256';

export interface CertificateRequest {
  commonName: string;
  /** DNS names for subjectAltName. */
  dnsNames?: string[];
  /** IP addresses for subjectAltName. */
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
  keyAlgorithm?: KeyAlgorithm;
  /** Mark the certificate as a CA (it can then sign others). */
  isCA?: boolean;
  /** Sign with this issuer instead of self-signing. */
  issuer?: IssuedCertificate;
}

/** A certificate and its private key, both PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

function algorithmFor(alg: KeyAlgorithm): RsaHashedKeyGenParams | EcKeyGenParams {
  return alg === 'RSA2048'
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 }
    : { name: 'ECDSA', namedCurve: 'P-256' };
}

function signingFor(alg: KeyAlgorithm): Algorithm | EcdsaParams {
  return alg === 'RSA2048' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Detects the algorithm of a PKCS#8 PEM key, so an issuer key can be imported for signing. */
async function importSigningKey(keyPem: string): Promise<{ key: CryptoKey; alg: KeyAlgorithm }> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  for (const alg of ['RSA2048', 'ECDSAP256'] as const) {
    try {
      const params = algorithmFor(alg);
      const key = await webcrypto.subtle.importKey('pkcs8', der, params, false, ['sign']);
      return { key: key as unknown as CryptoKey, alg };
    } catch {
      /* try the next algorithm */
    }
  }
  throw new Error('issuer private key is neither an RSA nor a P-256 PKCS#8 key');
}

const DAY = 86_400_000;

/** Issues a certificate: self-signed, or signed by `req.issuer`. */
export async function issueCertificate(req: CertificateRequest): Promise<IssuedCertificate> {
  const alg = req.keyAlgorithm ?? 'RSA2048';
  const keys = (await webcrypto.subtle.generateKey(algorithmFor(alg), true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const notBefore = req.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = req.notAfter ?? new Date(notBefore.getTime() + 365 * DAY);
  const sanEntries: x509.JsonGeneralName[] = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(req.isCA ?? false, undefined, true),
    new x509.KeyUsagesExtension(
      req.isCA ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (!req.isCA) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]));
  if (sanEntries.length) extensions.push(new x509.SubjectAlternativeNameExtension(sanEntries));
  const subject = `CN=${req.commonName.replace(/([,+=<>#;"\\])/g, '\\$1')}`;
  const serialNumber = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

  let cert: x509.X509Certificate;
  if (req.issuer) {
    const issuerCert = new x509.X509Certificate(req.issuer.certPem);
    const { key, alg: issuerAlg } = await importSigningKey(req.issuer.keyPem);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
    cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject,
      issuer: issuerCert.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: key,
      signingAlgorithm: signingFor(issuerAlg),
      extensions,
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber, name: subject, notBefore, notAfter, keys, signingAlgorithm: signingFor(alg), extensions });
  }
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: toPem(pkcs8, 'PRIVATE KEY') };
}

export interface CertificateFacts {
  subjectCommonName: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, colon-separated upper-case hex (the form Luna prints). */
  sha256: string;
  sha1: string;
  md5: string;
  selfSigned: boolean;
  der: Buffer;
}

/** Reads the first certificate of a PEM bundle. Throws a plain message (no key material) when it is not one. */
export function parseCertificate(pem: string | Buffer): CertificateFacts {
  let cert: NodeX509;
  try {
    cert = new NodeX509(pem);
  } catch {
    throw new Error('not a PEM-encoded X.509 certificate');
  }
  const der = cert.raw;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  return {
    subjectCommonName: cn,
    issuer: cert.issuer,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    sha256: digestHex(der, 'sha256'),
    sha1: digestHex(der, 'sha1'),
    md5: digestHex(der, 'md5'),
    selfSigned: cert.subject === cert.issuer,
    der,
  };
}

/** Colon-separated upper-case hex digest of DER bytes. */
export function digestHex(der: Buffer, algorithm: 'sha256' | 'sha1' | 'md5'): string {
  return createHash(algorithm).update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** Normalises a fingerprint as printed by Luna or OpenSSL: upper-case, colon-separated. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  return hex.replace(/(..)(?!$)/g, '$1:');
}

/**
 * Compares a certificate with a fingerprint printed by an appliance. Older firmware prints 16 bytes (MD5), others
 * 20 (SHA-1) or 32 (SHA-256): the same digest of the local certificate's DER is compared.
 */
export function fingerprintMatches(cert: CertificateFacts, printed: string): boolean {
  const fp = normalizeFingerprint(printed);
  const bytes = fp.split(':').length;
  const local = bytes === 16 ? cert.md5 : bytes === 20 ? cert.sha1 : bytes === 32 ? cert.sha256 : undefined;
  return local !== undefined && local === fp;
}

/** Whether a private key (PEM) belongs to a certificate (PEM). */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    const cert = new NodeX509(certPem);
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** OpenSSH-style SHA-256 fingerprint of a public host key blob: `SHA256:<base64 without padding>`. */
export function sshHostKeyFingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}
