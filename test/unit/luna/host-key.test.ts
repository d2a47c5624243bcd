import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Patterns } from '../../../src/api/common.js';
import { hostKeyTypeOfBlob, normalizeHostKeyPin, parseHostKeyPin } from '../../../src/luna/host-key.js';

const fp = 'SHA256:' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v';

describe('host-key pins as users produce them', () => {
  // ssh-keygen(1) -l prints "<bits> <fingerprint> <comment> (<type>)"; for ssh-keyscan input the comment is the host.
  const accepted: [string, string | undefined][] = [
    [fp, undefined],
    [`${fp}=`, undefined],
    [`  ${fp}  `, undefined],
    [`256 ${fp} 10.0.2.4 (ED25519)`, 'ED25519'],
    [`256 ${fp} 10.0.2.4 (ECDSA)`, 'ECDSA'],
    [`3072 ${fp} 10.0.2.4 (RSA)`, 'RSA'],
    [`256 ${fp} hsm1.example.internal (ED25519)`, 'ED25519'],
    [`256 ${fp} no comment (ED25519)`, 'ED25519'],
  ];
  const refused = [
    'MD5:12:34:56',
    `${fp.slice(0, -1)}`,
    `256 ${fp} 10.0.2.4`,
    `256 ${fp} (ED25519)`,
    `${fp} 10.0.2.4 (ED25519)`,
    `256 ${fp} 10.0.2.4 (DSA)`,
    `10.0.2.4 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI`,
  ];

  it.each(accepted)('%s is the fingerprint, with the type the line names', (text, type) => {
    const pin = parseHostKeyPin(text);
    expect(pin.fingerprint).toBe(fp);
    expect(pin.keyType).toBe(type);
    expect(normalizeHostKeyPin(text)).toBe(fp);
  });

  it.each(refused)('%s is refused with what to paste', (text) => {
    expect(() => parseHostKeyPin(text)).toThrow(/one line of `ssh-keygen -lf <\(ssh-keyscan <host>\)` output/);
  });

  it('the CRD pattern admits exactly what the parser understands', () => {
    const re = new RegExp(Patterns.sshFingerprint);
    for (const [text] of accepted) expect(re.test(text.trim()), text).toBe(true);
    for (const text of refused) expect(re.test(text), text).toBe(false);
  });

  it('reads the family of a host key from its wire blob', () => {
    const blob = (name: string) => Buffer.concat([Buffer.from([0, 0, 0, name.length]), Buffer.from(name, 'latin1'), Buffer.alloc(8)]);
    expect(hostKeyTypeOfBlob(blob('ssh-ed25519'))).toBe('ED25519');
    expect(hostKeyTypeOfBlob(blob('ecdsa-sha2-nistp256'))).toBe('ECDSA');
    expect(hostKeyTypeOfBlob(blob('ssh-rsa'))).toBe('RSA');
    expect(hostKeyTypeOfBlob(blob('ssh-dss'))).toBeUndefined();
    // A real ED25519 public key in SSH wire form.
    const spki = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    const raw = spki.subarray(spki.length - 32);
    expect(hostKeyTypeOfBlob(Buffer.concat([blob('ssh-ed25519').subarray(0, 15), Buffer.from([0, 0, 0, 32]), raw]))).toBe('ED25519');
  });
});
