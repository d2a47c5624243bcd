/**
 * Host-key pins as a user produces them, and the key families an SSH server may hold.
 *
 * A pin is what `ssh-keygen -lf <(ssh-keyscan <host>)` prints for one of the host's keys, whole line or the bare
 * fingerprint: `256 SHA256:<43 base64> 10.0.2.4 (ED25519)` or `SHA256:<43 base64>` (ssh-keygen(1), -l). A server
 * usually holds several keys (ED25519, ECDSA, RSA) and ssh-keyscan prints them in no stable order, so a pin of any
 * of them must work: the client negotiates the pinned key's algorithm when the line names its type, and otherwise
 * tries each family until one key matches (a handshake that stops at host-key verification sends no credential).
 */

export type HostKeyType = 'ED25519' | 'ECDSA' | 'RSA';

export interface HostKeyPin {
  /** `SHA256:<base64 without padding>`: what the pool compares. */
  fingerprint: string;
  /** The key type the ssh-keygen line names, when it names one. */
  keyType?: HostKeyType;
}

/** Server host-key algorithms per key family, as ssh2 and OpenSSH name them (strongest first). */
export const HOST_KEY_ALGORITHMS: Readonly<Record<HostKeyType, readonly string[]>> = {
  ED25519: ['ssh-ed25519'],
  ECDSA: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  RSA: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export const HOST_KEY_TYPES: readonly HostKeyType[] = ['ED25519', 'ECDSA', 'RSA'];

const BARE = /^SHA256:([A-Za-z0-9+/]{43})=?$/;
// bits, fingerprint, comment (the host for ssh-keyscan input; "no comment" otherwise), key type in parentheses.
const KEYGEN_LINE = /^\d{1,5} SHA256:([A-Za-z0-9+/]{43})=? .+ \((ED25519|ECDSA|RSA)\)$/;

/** Parses a pin in either form; throws with what was expected when it is neither. */
export function parseHostKeyPin(text: string): HostKeyPin {
  const t = text.trim();
  const bare = BARE.exec(t);
  if (bare) return { fingerprint: `SHA256:${bare[1]}` };
  const line = KEYGEN_LINE.exec(t);
  if (line) return { fingerprint: `SHA256:${line[1]}`, keyType: line[2] as HostKeyType };
  throw new Error(
    'host key pin not understood: give one line of `ssh-keygen -lf <(ssh-keyscan <host>)` output (e.g. "256 SHA256:... 10.0.2.4 (ED25519)") or its SHA256:... fingerprint alone',
  );
}

/** `SHA256:<base64>` of a pin in either form (surrounding blanks and base64 padding do not make another pin). */
export function normalizeHostKeyPin(pin: string): string {
  try {
    return parseHostKeyPin(pin).fingerprint;
  } catch {
    // Not a pin we understand (admission refuses those): compared as given, it never matches a real key.
    return pin.trim().replace(/=+$/, '');
  }
}

/** The family of a host key from its wire blob (RFC 4253 6.6: the blob starts with the algorithm name). */
export function hostKeyTypeOfBlob(blob: Buffer): HostKeyType | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  const name = blob.subarray(4, 4 + n).toString('latin1');
  if (name === 'ssh-ed25519') return 'ED25519';
  if (name.startsWith('ecdsa-sha2-')) return 'ECDSA';
  if (name === 'ssh-rsa') return 'RSA';
  return undefined;
}
