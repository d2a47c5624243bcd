/**
 * Proves the API server the suite runs against is the real one: storage, RBAC, watches and CRD schema validation.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { ApiextensionsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { adminConfig, createNamespace, userConfig } from '../../support/kube.js';
import { installCrds } from '../../support/crds.js';
import { inject } from 'vitest';

describe('real kube-apiserver', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace('foundation');
  });

  it('stores and reads a namespace, a Secret and a Lease', async () => {
    const core = adminConfig().makeApiClient(CoreV1Api);
    const got = await core.readNamespace({ name: ns });
    expect(got.metadata?.name).toBe(ns);

    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's1' }, stringData: { password: 'p4ss' } } });
    const secret = await core.readNamespacedSecret({ namespace: ns, name: 's1' });
    // stringData is converted to base64 data by the server, which a fake would not do.
    expect(Buffer.from(secret.data?.password ?? '', 'base64').toString()).toBe('p4ss');
    expect(secret.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);

    const coord = adminConfig().makeApiClient(CoordinationV1Api);
    await coord.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'l1' }, spec: { holderIdentity: 'me', leaseDurationSeconds: 15 } } });
    const lease = await coord.readNamespacedLease({ namespace: ns, name: 'l1' });
    expect(lease.spec?.holderIdentity).toBe('me');
  });

  it('forbids the unprivileged user where RBAC says so', async () => {
    const core = userConfig().makeApiClient(CoreV1Api);
    await expect(core.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
    await expect(core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'nope' } } })).rejects.toMatchObject({ code: 403 });
  });

  it('serves real TLS and refuses anonymous access to namespaces', async () => {
    const { request } = await import('node:https');
    const cp = inject('controlPlane');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${cp.server}/api/v1/namespaces`, { ca: cp.caPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('delivers watch events', async () => {
    const kc = adminConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const seen: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      void new Watch(kc)
        .watch(`/api/v1/namespaces/${ns}/configmaps`, {}, (type, obj: { metadata?: { name?: string } }) => {
          seen.push(`${type}:${obj.metadata?.name}`);
          if (obj.metadata?.name === 'cm-watched') resolve();
        }, (err) => (err ? reject(err as Error) : undefined))
        .then((req) => setTimeout(() => req.abort(), 20_000));
    });
    await new Promise((r) => setTimeout(r, 200));
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm-watched' }, data: { a: '1' } } });
    await done;
    expect(seen).toContain('ADDED:cm-watched');
  });

  it('enforces a CRD schema with the field path in the message', async () => {
    const kc = adminConfig();
    const group = 'throwaway.dedicatedhsm.io';
    await installCrds(await kcYaml(), [
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      required: ['size'],
                      properties: { size: { type: 'integer', minimum: 1, maximum: 10 } },
                    },
                  },
                },
              },
            },
          ],
        },
      },
    ]);
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'widgets', body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'ok' }, spec: { size: 3 } } });
    const err = (await custom
      .createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'widgets', body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'bad' }, spec: { size: 42 } } })
      .catch((e: unknown) => e)) as { code?: number; body?: string };
    expect(err.code).toBe(422);
    expect(String(err.body)).toContain('spec.size');
    await kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: `widgets.${group}` });
  });
});

async function kcYaml(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  return readFileSync(inject('controlPlane').kubeconfigPath, 'utf8');
}
