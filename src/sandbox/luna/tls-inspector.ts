/**
 * Reads the client's plaintext TLS 1.2 handshake flight to find its certificate before the TLS engine sees
 * it, so the simulated NTLS server can refuse an unregistered certificate with a real fatal `unknown_ca`
 * alert, as the appliance's OpenSSL does (Node's own server verification just drops the connection).
 */

export type Verdict = 'undecided' | 'accept' | 'reject';

const RECORD_HANDSHAKE = 22;
const RECORD_CHANGE_CIPHER_SPEC = 20;
const HANDSHAKE_CERTIFICATE = 11;

/** A fatal `unknown_ca` (48) alert record. */
export const UNKNOWN_CA_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30]);

export class ClientCertificateInspector {
  #pending: Buffer = Buffer.alloc(0);
  #handshake: Buffer = Buffer.alloc(0);
  #verdict: Verdict = 'undecided';

  /** `isRegistered` decides on the leaf certificate's DER. */
  constructor(private readonly isRegistered: (der: Buffer) => boolean) {}

  get verdict(): Verdict {
    return this.#verdict;
  }

  /** Feeds bytes from the client; returns the bytes that may go on to the TLS engine. */
  feed(chunk: Buffer): Buffer {
    if (this.#verdict !== 'undecided') return this.#verdict === 'accept' ? chunk : Buffer.alloc(0);
    this.#pending = Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    while (this.#verdict === 'undecided' && this.#pending.length - offset >= 5) {
      const type = this.#pending[offset] ?? 0;
      const length = this.#pending.readUInt16BE(offset + 3);
      if (this.#pending.length - offset < 5 + length) break;
      if (type === RECORD_HANDSHAKE) {
        this.#handshake = Buffer.concat([this.#handshake, this.#pending.subarray(offset + 5, offset + 5 + length)]);
        this.#scanHandshake();
      } else if (type === RECORD_CHANGE_CIPHER_SPEC) {
        // No certificate before the cipher switch: the TLS engine decides (it requires one).
        this.#verdict = 'accept';
      }
      if ((this.#verdict as Verdict) === 'reject') return Buffer.alloc(0);
      offset += 5 + length;
    }
    if (this.#verdict === 'accept') {
      const all = this.#pending;
      this.#pending = Buffer.alloc(0);
      return all;
    }
    const complete = this.#pending.subarray(0, offset);
    this.#pending = this.#pending.subarray(offset);
    return Buffer.from(complete);
  }

  #scanHandshake(): void {
    while (this.#handshake.length >= 4) {
      const type = this.#handshake[0] ?? 0;
      const length = this.#handshake.readUIntBE(1, 3);
      if (this.#handshake.length < 4 + length) return;
      const body = this.#handshake.subarray(4, 4 + length);
      this.#handshake = this.#handshake.subarray(4 + length);
      if (type === HANDSHAKE_CERTIFICATE) {
        this.#verdict = this.#decide(body);
        return;
      }
    }
  }

  #decide(body: Buffer): Verdict {
    if (body.length < 3) return 'accept';
    const listLength = body.readUIntBE(0, 3);
    // An empty list: the TLS engine refuses it itself (a certificate is required).
    if (listLength === 0 || body.length < 6) return 'accept';
    const leafLength = body.readUIntBE(3, 3);
    const leaf = body.subarray(6, 6 + leafLength);
    return leaf.length === leafLength && this.isRegistered(leaf) ? 'accept' : 'reject';
  }
}
