import { describe, expect, it } from 'vitest';
import type { NtlsClientBinding } from '../../../../src/api/index.js';
import { clientNameHolder } from '../../../../src/controllers/ntlsclientbinding/conflicts.js';

/** `hsms`: names in the binding's namespace, or namespace/name. */
const binding = (name: string, clientName: string, created: string, hsms: string[], namespace = 'ns'): NtlsClientBinding =>
  ({
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'NtlsClientBinding',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, creationTimestamp: created },
    spec: {
      clientName,
      targets: hsms.map((h) => {
        const [ns, n] = h.includes('/') ? h.split('/') : [undefined, h];
        return { dedicatedHsmRef: { name: n, ...(ns ? { namespace: ns } : {}) }, partitions: ['par0'] };
      }),
    },
  }) as unknown as NtlsClientBinding;

describe('clientNameHolder', () => {
  const first = binding('first', 'app', '2030-01-01T00:00:00Z', ['hsm1', 'hsm2']);
  const second = binding('second', 'app', '2030-01-02T00:00:00Z', ['hsm2']);

  it('gives the client name on an HSM to the oldest binding', () => {
    expect(clientNameHolder(second, 'ns/hsm2', [first, second])?.metadata.name).toBe('first');
    expect(clientNameHolder(first, 'ns/hsm2', [first, second])).toBeUndefined();
  });

  it('breaks a creation-time tie by name, the same way for both', () => {
    const a = binding('a', 'app', '2030-01-01T00:00:00Z', ['hsm1']);
    const b = binding('b', 'app', '2030-01-01T00:00:00Z', ['hsm1']);
    expect(clientNameHolder(b, 'ns/hsm1', [a, b])?.metadata.name).toBe('a');
    expect(clientNameHolder(a, 'ns/hsm1', [a, b])).toBeUndefined();
  });

  it('finds the holder in any namespace that names the same HSM (a client name is unique per appliance)', () => {
    const tenant = binding('t', 'app', '2029-01-01T00:00:00Z', ['ns/hsm2'], 'team-a');
    expect(clientNameHolder(second, 'ns/hsm2', [tenant, second])?.metadata.namespace).toBe('team-a');
    expect(clientNameHolder(tenant, 'ns/hsm2', [tenant, second])).toBeUndefined();
  });

  it('the binding that owns the client there holds the name, whatever its age (a same-second tie cannot displace it)', () => {
    const owner = binding('zz-owner', 'app', '2030-01-02T00:00:00Z', ['hsm2']);
    owner.status = { targets: [{ dedicatedHsm: 'hsm2', owned: true }] };
    const rival = binding('aa-rival', 'app', '2030-01-02T00:00:00Z', ['ns/hsm2'], 'team-x');
    expect(clientNameHolder(owner, 'ns/hsm2', [owner, rival])).toBeUndefined();
    expect(clientNameHolder(rival, 'ns/hsm2', [owner, rival])?.metadata.name).toBe('zz-owner');
    // Without an owner, the oldest (then the name) decides, as before.
    owner.status = undefined;
    expect(clientNameHolder(owner, 'ns/hsm2', [owner, rival])?.metadata.name).toBe('aa-rival');
  });

  it('ignores other client names, other HSMs and HSMs of the same name in other namespaces', () => {
    expect(clientNameHolder(second, 'ns/hsm2', [binding('x', 'other', '2029-01-01T00:00:00Z', ['hsm2']), second])).toBeUndefined();
    expect(clientNameHolder(second, 'ns/hsm2', [binding('y', 'app', '2029-01-01T00:00:00Z', ['hsm1']), second])).toBeUndefined();
    expect(clientNameHolder(second, 'ns/hsm2', [binding('z', 'app', '2029-01-01T00:00:00Z', ['hsm2'], 'elsewhere'), second])).toBeUndefined();
  });
});
