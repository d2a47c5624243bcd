import { describe, expect, it } from 'vitest';
import { RestError, createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { CredentialUnavailableError } from '@azure/identity';
import { ACTIONS, AzurePlaneError, CLASSIFIER_RULES, classifyAzureError, classifyFailedProvisioning, parseRetryAfter, redactSecrets } from '../../../src/azure/errors.js';
import type { AzureFailure, FailureClass } from '../../../src/azure/errors.js';

interface ErrorNode {
  code: string;
  message: string;
  target?: string;
  details?: ErrorNode[];
  innererror?: ErrorNode;
}

/** A RestError as core-client builds it from an ARM error body (code and message of the outer error; the body kept raw). */
function armError(status: number, body: { error: ErrorNode }, headers: Record<string, string> = {}): RestError {
  const request = createPipelineRequest({ url: 'https://management.azure.com/x' });
  const response = { status, headers: createHttpHeaders(headers), request, bodyAsText: JSON.stringify(body) };
  return new RestError(body.error.message, { statusCode: status, code: body.error.code, request, response });
}

/** The Error core-lro throws when an async operation ends Failed. */
function lroFailure(code: string, message: string): Error {
  return new Error(`The long-running operation has failed. ${code}. ${message}`);
}

const seen = new Set<FailureClass>();
function expectClass(f: AzureFailure, cls: FailureClass, retryable: boolean): void {
  seen.add(f.class);
  expect(f.class).toBe(cls);
  expect(f.retryable).toBe(retryable);
  expect(f.action.length).toBeGreaterThan(20);
}

describe('classifyAzureError', () => {
  it('recognises the gateway race by code and by message text', () => {
    // NetworkingDependencyNotReady is the simulator's (assumed) code; the text rules carry real reports.
    const byCode = classifyAzureError(
      lroFailure(
        'NetworkingDependencyNotReady',
        "The ExpressRoute gateway '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworkGateways/ergw' was in provisioning state 'Updating' while the dedicated HSM was being connected: networking dependencies were not ready.",
      ),
    );
    expectClass(byCode, 'race', true);
    expect(byCode.code).toBe('NetworkingDependencyNotReady');
    expect(byCode.message).toContain("provisioning state 'Updating'");
    expect(byCode.action).toContain('Issues configuring the Azure setup');
    expect(byCode.action).toContain('delete the failed resources and redeploy');

    const byText = classifyAzureError(lroFailure('DeploymentFailed', 'The virtual network gateway is still being provisioned; dependent resources are not ready.'));
    expectClass(byText, 'race', true);
    expectClass(classifyFailedProvisioning('HSM deployment failed because the ExpressRoute gateway was not ready.'), 'race', true);
  });

  it('recognises quota, including failed leftovers named in the message', () => {
    const f = classifyAzureError(
      lroFailure('QuotaExceeded', "Operation results in exceeding the dedicated HSM quota: the subscription has 2 HSMs in stamp1 of region 'westeurope' (limit 2 per stamp)."),
    );
    expectClass(f, 'quota', false);
    expect(f.action).toContain('delete the resources of previous failed deployments');
    expect(f.action).toContain('support ticket to request a quota increase');
    expectClass(classifyAzureError(armError(409, { error: { code: 'ResourceQuotaExceeded', message: 'Resource quota exceeded.' } })), 'quota', false);
    expectClass(classifyAzureError(armError(409, { error: { code: 'OperationNotAllowed', message: 'Operation would exceed the quota limit for dedicated HSMs.' } })), 'quota', false);
    expectClass(classifyFailedProvisioning('Quota exceeded for region westeurope.'), 'quota', false);
  });

  it('recognises capacity', () => {
    const f = classifyAzureError(lroFailure('InsufficientCapacity', "There is not enough capacity in stamp2 of region 'westeurope' to allocate a dedicated HSM device."));
    expectClass(f, 'capacity', false);
    expect(f.action).toContain('inquire about available capacity');
    expectClass(classifyAzureError(armError(409, { error: { code: 'SkuNotAvailable', message: "The requested SKU is not available in location 'westeurope'." } })), 'capacity', false);
  });

  it('recognises a missing delegation and an NSG or route table on the HSM subnet', () => {
    const f = classifyAzureError(lroFailure('InvalidSubnetDelegation', "Subnet '/subscriptions/s/.../subnets/hsm' is not delegated to 'Microsoft.HardwareSecurityModules/dedicatedHSMs'."));
    expectClass(f, 'delegation', false);
    expect(f.action).toContain('Delegate the HSM subnet to Microsoft.HardwareSecurityModules/dedicatedHSMs');
    const nsg = classifyFailedProvisioning("Subnet 'hsm' has a network security group or route table associated with it; the subnet of dedicated HSMs must have neither.");
    expectClass(nsg, 'delegation', false);
    expect(nsg.action).toBe(ACTIONS.subnetPolicy);
  });

  it('recognises a subscription that is not allowlisted (a missing feature)', () => {
    const f = classifyAzureError(
      armError(409, { error: { code: 'SubscriptionNotRegisteredForFeature', message: "Subscription 's' lacks the feature 'Microsoft.Network/AllowBaremetalServers'." } }),
    );
    expectClass(f, 'notAllowlisted', false);
    expect(f.action).toContain('Microsoft account manager');
    expectClass(classifyFailedProvisioning('The subscription is not allowlisted for Dedicated HSM.'), 'notAllowlisted', false);
  });

  it.each(['SubscriptionNotRegistered', 'MissingSubscriptionRegistration', 'NoRegisteredProviderFound'])(
    '%s means the resource provider is not registered: register it, not "ask for allowlisting"',
    (code) => {
      // Even with a message that mentions a feature, the documented code decides.
      const f = classifyAzureError(armError(409, { error: { code, message: "Subscription 's' is not registered for 'Microsoft.HardwareSecurityModules'; no feature was granted yet." } }));
      expect(f.class).not.toBe('notAllowlisted');
      expect(f.retryable).toBe(false);
      expect(f.action).toBe(ACTIONS.providerNotRegistered);
      expect(f.action).toContain('az provider register --namespace Microsoft.HardwareSecurityModules');
      expect(f.action).not.toContain('account manager');
    },
  );

  it('classifies on the narrower cause in details / innererror before the outer code, and on codes before message text', () => {
    // A 400 whose outer code and message are generic; the cause sits in details, with its target.
    const deleg = classifyAzureError(
      armError(400, {
        error: {
          code: 'InvalidParameter',
          message: 'One or more properties of the request are invalid.',
          details: [{ code: 'SubnetMissingRequiredDelegation', target: 'properties.networkProfile.subnet.id', message: "Subnet 'hsm' lacks a delegation." }],
        },
      }),
    );
    expectClass(deleg, 'delegation', false);
    expect(deleg.code).toBe('SubnetMissingRequiredDelegation');
    expect(deleg.statusCode).toBe(400);
    expect(deleg.message).toContain("Subnet 'hsm' lacks a delegation.");
    expect(deleg.message).toContain('properties.networkProfile.subnet.id');

    // innererror (the provider's own swagger) two levels down beats a generic outer Conflict.
    const quota = classifyAzureError(
      armError(409, { error: { code: 'Conflict', message: 'The request conflicts.', innererror: { code: 'Wrapped', message: 'See inner.', innererror: { code: 'ResourceQuotaExceeded', message: 'Limit reached.' } } } }),
    );
    expectClass(quota, 'quota', false);
    expect(quota.code).toBe('ResourceQuotaExceeded');

    // A documented code wins over contradicting message text.
    expectClass(classifyAzureError(armError(409, { error: { code: 'SkuNotAvailable', message: 'The subnet delegation was checked; the SKU is not offered here.' } })), 'capacity', false);
    // Without a telling code, the message text still decides.
    expectClass(classifyAzureError(armError(400, { error: { code: 'BadRequest', message: 'The subnet is not delegated to the service.' } })), 'delegation', false);
  });

  it('recognises stampId refused in a zonal region (terraform-provider-azurerm #8741)', () => {
    const f = classifyAzureError(armError(400, { error: { code: 'BadRequest', message: 'Availability zones are supported in this region, so leave the stampId out.', target: 'properties.stampId' } }));
    expectClass(f, 'invalid', false);
    expect(f.action).toBe(ACTIONS.stampInZonalRegion);
    expect(f.action).toContain('spec.azure.zones');
  });

  it('names where every rule comes from; invented codes are marked assumed, documented codes documented', () => {
    const sources = new Set(CLASSIFIER_RULES.map((r) => r.source));
    expect([...sources].every((x) => ['documented', 'seen', 'assumed'].includes(x))).toBe(true);
    for (const r of CLASSIFIER_RULES) expect(r.ref.length, r.class).toBeGreaterThan(5);
    const sourceOf = (code: string): string | undefined => CLASSIFIER_RULES.find((r) => r.codes?.some((c) => c.toLowerCase() === code.toLowerCase()))?.source;
    for (const code of ['NetworkingDependencyNotReady', 'SubscriptionNotAllowlisted', 'InvalidSubnetConfiguration', 'HsmNotZeroized', 'InsufficientCapacity']) expect(sourceOf(code), code).toBe('assumed');
    for (const code of ['ResourceQuotaExceeded', 'SubscriptionNotRegistered', 'MissingSubscriptionRegistration', 'SkuNotAvailable', 'AllocationFailed', 'RequestDisallowedByPolicy', 'AnotherOperationInProgress'])
      expect(sourceOf(code), code).toBe('documented');
    expect(sourceOf('SubscriptionNotRegisteredForFeature')).toBe('seen');
    // Rules that match message text say so, and are marked as such.
    expect(CLASSIFIER_RULES.filter((r) => r.text).length).toBeGreaterThan(3);
  });

  it('honours Retry-After on 429 as seconds, as an HTTP date and as retry-after-ms', () => {
    const body = { error: { code: 'TooManyRequests', message: 'The request is being throttled.' } };
    const secs = classifyAzureError(armError(429, body, { 'retry-after': '7' }));
    expectClass(secs, 'throttled', true);
    expect(secs.retryAfterMs).toBe(7000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    const date = classifyAzureError(armError(429, body, { 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }), now);
    expect(date.retryAfterMs).toBe(30_000);
    expect(classifyAzureError(armError(429, body, { 'retry-after-ms': '250' })).retryAfterMs).toBe(250);
    expect(classifyAzureError(armError(429, body)).retryAfterMs).toBeUndefined();
  });

  it('treats 5xx, network errors, unknown failures and internal LRO failures as transient', () => {
    expectClass(classifyAzureError(armError(500, { error: { code: 'InternalServerError', message: 'Encountered internal server error.' } })), 'transient', true);
    expectClass(classifyAzureError(armError(503, { error: { code: 'ServiceUnavailable', message: 'The service is unavailable.' } })), 'transient', true);
    expectClass(classifyAzureError(new RestError('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' })), 'transient', true);
    expectClass(classifyAzureError(new RestError('socket hang up', { code: 'REQUEST_SEND_ERROR' })), 'transient', true);
    expectClass(classifyAzureError(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), 'transient', true);
    expectClass(classifyAzureError(lroFailure('InternalServerError', 'An internal error occurred while deploying the dedicated HSM.')), 'transient', true);
    expectClass(classifyAzureError(new Error('something odd')), 'transient', true);
  });

  it('recognises authentication and authorization failures', () => {
    expectClass(classifyAzureError(armError(401, { error: { code: 'InvalidAuthenticationTokenTenant', message: 'The access token is from the wrong issuer.' } })), 'auth', false);
    expectClass(classifyAzureError(armError(403, { error: { code: 'AuthorizationFailed', message: "The client 'x' does not have authorization to perform action." } })), 'auth', false);
    expectClass(classifyAzureError(new CredentialUnavailableError('WorkloadIdentityCredential: no token file')), 'auth', false);
  });

  it('makes unknown 400s terminal and names immutable properties and policy denials', () => {
    expectClass(classifyAzureError(armError(400, { error: { code: 'InvalidParameter', message: "The value 'x' of property 'sku.name' is invalid." } })), 'invalid', false);
    expectClass(classifyAzureError(armError(400, { error: { code: 'SomethingNobodyPublished', message: 'Nope.' } })), 'invalid', false);
    const immutable = classifyAzureError(
      armError(400, { error: { code: 'PropertyChangeNotAllowed', message: "Changing property 'properties.networkProfile.subnet.id' is not allowed: all properties of a dedicated HSM except tags are immutable." } }),
    );
    expectClass(immutable, 'invalid', false);
    expect(immutable.action).toBe(ACTIONS.immutable);
    // ARM answers policy denials with 403, but they need the policy owner, not a role assignment.
    const policy = classifyAzureError(armError(403, { error: { code: 'RequestDisallowedByPolicy', message: 'Resource was disallowed by policy.' } }));
    expectClass(policy, 'invalid', false);
    expect(policy.action).toBe(ACTIONS.policy);
  });

  it('recognises not found and conflicts, and refuses deletion of a non-zeroized HSM for good', () => {
    expectClass(classifyAzureError(armError(404, { error: { code: 'ResourceNotFound', message: "The Resource 'Microsoft.Network/virtualNetworkGateways/ergw' was not found." } })), 'notFound', false);
    expectClass(classifyAzureError(armError(409, { error: { code: 'AnotherOperationInProgress', message: 'Another operation is in progress.' } })), 'conflict', true);
    const zeroize = classifyAzureError(armError(409, { error: { code: 'HsmNotZeroized', message: "The dedicated HSM 'hsm1' cannot be deleted because the HSM is not zeroized." } }));
    expectClass(zeroize, 'conflict', false);
    expect(zeroize.action).toContain('Never delete the resource group first');
  });

  it('covers every failure class', () => {
    expect([...seen].sort()).toEqual(['auth', 'capacity', 'conflict', 'delegation', 'invalid', 'notAllowlisted', 'notFound', 'quota', 'race', 'throttled', 'transient']);
  });

  it('passes an AzurePlaneError through unchanged', () => {
    const failure = classifyAzureError(armError(404, { error: { code: 'ResourceNotFound', message: 'gone' } }));
    expect(classifyAzureError(new AzurePlaneError(failure, 'get'))).toBe(failure);
  });
});

describe('secrets never leave in messages', () => {
  it('redacts bearer tokens, JWTs, secrets and private keys', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eXoifQ.c2lnbmF0dXJlLXBhcnQ';
    const raw = `Authorization: Bearer ${jwt} failed; client_secret=S3cr3t!x password: hunter2 -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY----- done`;
    const out = redactSecrets(raw);
    for (const secret of [jwt, 'S3cr3t!x', 'hunter2', 'MIIB']) expect(out).not.toContain(secret);
    expect(out).toContain('done');
    const err = new AzurePlaneError(classifyAzureError(armError(401, { error: { code: 'InvalidAuthenticationToken', message: `token ${jwt} is invalid` } })), 'get');
    expect(err.message).not.toContain(jwt);
    expect(err.failure.message).not.toContain(jwt);
  });

  it('bounds message length', () => {
    expect(redactSecrets('x'.repeat(5000)).length).toBeLessThanOrEqual(1001);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, never negative, undefined when unreadable', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
