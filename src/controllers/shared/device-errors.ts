/**
 * Device failures, as conditions: what happened and what a human must do. Pure; messages carry no secrets
 * (the luna errors never include credential values).
 */
import { Annotations } from '../../api/index.js';
import {
  AuthenticationRejectedError,
  CredentialBudgetExhaustedError,
  CredentialRefusedError,
  HostKeyMismatchError,
  LunaCommandError,
  LunaParseError,
  SshAuthUnsupportedError,
  SshCommandTimeoutError,
  SshConnectionError,
  SshConnectionLostError,
} from '../../luna/index.js';

export interface DeviceProblem {
  reason: 'HostKeyMismatch' | 'CredentialRejected' | 'ApplianceUnreachable' | 'CommandFailed';
  message: string;
  /** A human must act before trying again (no retry until the spec or Secret changes). */
  needsHuman: boolean;
}

export function describeDeviceError(e: unknown, what: string): DeviceProblem {
  if (e instanceof HostKeyMismatchError) {
    return {
      reason: 'HostKeyMismatch',
      message: `${what}: the SSH host key changed (${e.message}). All traffic to this host is stopped. If the change is expected (appliance reset by Microsoft support), verify the new fingerprint out of band and update hostKey in the spec.`,
      needsHuman: true,
    };
  }
  if (e instanceof CredentialBudgetExhaustedError) {
    return {
      reason: 'CredentialRejected',
      message: `${what}: ${sentence(e.message)}: set the annotation ${Annotations.credentialBudgetReset} to the current time (RFC 3339) on the object that uses this login (DedicatedHsm for appliance SSH, HsmHaGroup for the LunaCM host and group password). Rejected values stay refused; failed logins can lock or zeroize an HSM.`,
      needsHuman: true,
    };
  }
  if (e instanceof CredentialRefusedError) {
    return {
      reason: 'CredentialRejected',
      message: `${what}: ${sentence(e.message)} The operator will not try this credential again (failed logins can lock or zeroize an HSM); update the Secret to retry.`,
      needsHuman: true,
    };
  }
  if (e instanceof AuthenticationRejectedError) {
    return {
      reason: 'CredentialRejected',
      message: `${what}: the credential was rejected (${e.message}). It will not be tried again until its Secret changes.`,
      needsHuman: true,
    };
  }
  if (e instanceof SshAuthUnsupportedError) {
    return {
      reason: 'ApplianceUnreachable',
      message: `${what}: ${sentence(e.message)} Let the SSH server accept password or keyboard-interactive authentication for this user (the Secret was not tried and is not marked rejected).`,
      needsHuman: true,
    };
  }
  if (e instanceof SshConnectionError || e instanceof SshConnectionLostError || e instanceof SshCommandTimeoutError) {
    return { reason: 'ApplianceUnreachable', message: `${what}: ${e.message}. Check the ExpressRoute path and that TCP 22 is open from the operator.`, needsHuman: false };
  }
  if (e instanceof LunaParseError) {
    // The parsers refuse what they do not understand rather than guess: a human must look at what the device said.
    return {
      reason: 'CommandFailed',
      message: `${what}: ${sentence(e.message)} The operator does not act on output it cannot read; check the appliance's software version against the supported ones and report the output.`,
      needsHuman: true,
    };
  }
  if (e instanceof LunaCommandError) return { reason: 'CommandFailed', message: `${what}: ${e.message}`, needsHuman: false };
  return { reason: 'ApplianceUnreachable', message: `${what}: ${e instanceof Error ? e.message : String(e)}`, needsHuman: false };
}

/** A message as one finished sentence, so another can follow it. */
function sentence(text: string): string {
  return /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
}
