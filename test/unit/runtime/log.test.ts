import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApiError, createLogger, redact } from '../../../src/runtime/index.js';

const PASSWORD = 'Pl4nted-P4ssw0rd-9f3c';
const TOKEN = 'tok_5b8e2f0c91d04a7e8c1b';
const PEM = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj', '-----END PRIVATE KEY-----'].join('\n');
const SECRET_DATA = Buffer.from(PASSWORD).toString('base64');

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ level: 'trace', destination });
  return { log, text: () => lines.join('\n'), lines };
}

describe('logger redaction', () => {
  it('never writes a planted secret, whichever way it is logged', () => {
    const { log, text, lines } = capture();
    const secretObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'ns' }, type: 'Opaque', data: { password: SECRET_DATA }, stringData: { password: PASSWORD } };
    log.info({ password: PASSWORD, hsm: { spec: { appliance: { username: 'tenantadmin', password: PASSWORD } } } }, 'login');
    log.info({ token: TOKEN, accessToken: TOKEN, headers: { authorization: `Bearer ${TOKEN}`, Authorization: `Bearer ${TOKEN}` } }, 'request');
    log.info({ secret: secretObject }, 'read secret');
    log.info({ objects: [secretObject] }, 'listed');
    log.info({ privateKey: PEM, keyPem: PEM, note: `got ${PEM}` }, 'pem');
    log.info({ keyMaterial: Buffer.from(PASSWORD) }, 'buffer');
    log.warn(`message with Bearer ${TOKEN} inside`);
    log.error({ err: new ApiError(401, 'Unauthorized', `rejected token Bearer ${TOKEN}`) }, 'api');
    const e = Object.assign(new Error(`ssh auth failed for ${PEM}`), { password: PASSWORD });
    log.error(e);
    log.child({ password: PASSWORD, controller: 'x' }).info('child bindings');
    log.info({ deep: { a: { b: { c: { d: { clientSecret: PASSWORD } } } } } }, 'deep');

    const out = text();
    expect(lines.length).toBe(11);
    for (const planted of [PASSWORD, TOKEN, SECRET_DATA, 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj']) expect(out).not.toContain(planted);
    // What isn't secret stays readable.
    expect(out).toContain('tenantadmin');
    expect(out).toContain('"name":"creds"');
    expect(out).toContain('"controller":"x"');
    expect(out).toContain('ssh auth failed for');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('keeps work-queue keys and Secret references, which name secrets without holding them', () => {
    const out = redact({ key: 'ns/hsm-1', credentialsRef: { name: 'creds' }, secretName: 'creds' });
    expect(out).toEqual({ key: 'ns/hsm-1', credentialsRef: { name: 'creds' }, secretName: 'creds' });
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(redact(a)).toEqual({ name: 'a', self: '[Circular]' });
  });
});
