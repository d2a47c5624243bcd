/**
 * The durations a binding's spec declares, in milliseconds, times a scale: 1 in a cluster; the sandbox and tests
 * compress time (OperatorOptions.compressedTime in src/operator.ts, no operator setting). Pure.
 */
import { parseDuration, type NtlsClientBindingSpec } from '../../api/index.js';

export const DEFAULT_DRIFT_CHECK_INTERVAL = '5m';
export const DEFAULT_CERTIFICATE_DURATION = '2160h';

/** Never check more often than this, whatever the scale says (a scaled interval of 0 would spin). */
const MIN_SCALED_MS = 500;

export interface BindingTiming {
  /** How often every target is compared with the spec. */
  driftCheckMs: number;
  /** certificate.renewBefore; undefined means the default (a third of the lifetime, like cert-manager). */
  renewBeforeMs: number | undefined;
  /** Lifetime of a generated certificate; undefined when the certificate comes from a Secret. */
  generateDurationMs: number | undefined;
}

/** The spec's durations; throws a plain message when one is not a duration (admission normally prevents it). */
export function bindingTiming(spec: Pick<NtlsClientBindingSpec, 'driftCheckInterval' | 'certificate'>, scale = 1): BindingTiming {
  const s = scale > 0 && Number.isFinite(scale) ? scale : 1;
  const scaled = (text: string, field: string): number => {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (e) {
      throw new Error(`${field}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return Math.max(MIN_SCALED_MS, Math.round(ms * s));
  };
  const cert = spec.certificate;
  return {
    driftCheckMs: scaled(spec.driftCheckInterval ?? DEFAULT_DRIFT_CHECK_INTERVAL, 'spec.driftCheckInterval'),
    renewBeforeMs: cert.renewBefore !== undefined ? scaled(cert.renewBefore, 'spec.certificate.renewBefore') : undefined,
    generateDurationMs: cert.generate ? scaled(cert.generate.duration ?? DEFAULT_CERTIFICATE_DURATION, 'spec.certificate.generate.duration') : undefined,
  };
}
