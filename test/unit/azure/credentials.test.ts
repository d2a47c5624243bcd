/**
 * The credential a connection builds talks to the connection's authority: the authority host, the extra CA of
 * `--azure-ca-file` (trusted for the token requests as for ARM; the public roots stay trusted) and, for a private
 * authority the public cloud does not know, `--azure-disable-instance-discovery`. Against an Entra-compatible
 * authority on loopback: the client credentials grant succeeds with the right secret, is refused with a wrong one,
 * and nothing is sent to a server whose certificate chains to no trusted CA.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionFor, createCredential } from '../../../src/azure/credentials.js';
import { startEntraAuthority, type EntraAuthority } from '../../support/entra.js';

describe('createCredential against a private authority', () => {
  const tenantId = '11111111-2222-3333-4444-555555555555';
  const clientId = '66666666-7777-8888-9999-000000000000';
  const clientSecret = randomBytes(24).toString('base64url');
  const scope = 'https://arm.example.internal/.default';
  let entra: EntraAuthority;

  beforeAll(async () => {
    entra = await startEntraAuthority({ tenantId, clientId, clientSecret });
  });
  afterAll(() => entra.stop());

  const conn = (o: { ca?: boolean; disableInstanceDiscovery?: boolean } = {}) =>
    connectionFor(
      { endpoint: 'https://arm.example.internal', credentialScopes: [scope], authorityHost: entra.authorityHost, ...(o.disableInstanceDiscovery === false ? {} : { disableInstanceDiscovery: true }) },
      o.ca === false ? {} : { caPem: entra.caPem },
    );

  it('gets a token with the client credentials grant, over TLS to the authority the CA file vouches for', async () => {
    const before = entra.tokenRequests.length;
    const cred = createCredential({ kind: 'clientSecret', tenantId, clientId, clientSecret }, conn());
    const t = await cred.getToken(scope);
    expect(t && entra.issued(t.token)).toBe(true);
    expect(t!.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3_000_000);
    expect(entra.tokenRequests.slice(before)).toEqual([{ tenant: tenantId, grantType: 'client_credentials', clientId, scope, status: 200 }]);
    // Instance discovery is off: MSAL read the authority's own OpenID metadata, asked nothing else.
    expect(entra.paths).toContain(`/${tenantId}/v2.0/.well-known/openid-configuration`);
  });

  it('a wrong client secret is refused by the authority (invalid_client), and reported as an authentication failure', async () => {
    const before = entra.tokenRequests.length;
    const cred = createCredential({ kind: 'clientSecret', tenantId, clientId, clientSecret: 'not-the-secret' }, conn());
    await expect(cred.getToken(scope)).rejects.toThrow(/AADSTS7000215|invalid_client/);
    expect(entra.tokenRequests.slice(before).map((r) => r.error)).toContain('AADSTS7000215');
  });

  it('without the CA the authority is not trusted: no request gets past the TLS handshake', async () => {
    const before = entra.paths.length;
    const cred = createCredential({ kind: 'clientSecret', tenantId, clientId, clientSecret }, conn({ ca: false }));
    await expect(cred.getToken(scope)).rejects.toThrow(/endpoints_resolution_error/);
    expect(entra.paths.length).toBe(before);
  }, 60_000);
});
