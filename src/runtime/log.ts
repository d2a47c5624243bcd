/**
 * JSON logging (pino) with secret redaction built in, not bolted on per call site: every argument of every log
 * call, and every child logger's bindings, pass through `redact()` before pino serialises them. Secrets are
 * recognised by field name (password, token, privateKey, authorization, ...), by shape (the `data`/`stringData`
 * of a Secret object, binary buffers) and by content (PEM private keys, bearer/basic credentials in strings).
 */
import { pino, type Logger as PinoLogger, type DestinationStream, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export const REDACTED = '[REDACTED]';

// Field names whose values are credentials. Deliberately not bare `key` (work-queue keys are `namespace/name`)
// nor `*Ref`/`*Name` fields, which name a Secret without holding it.
const sensitiveName =
  /pass(word|wd|phrase)|^pwd$|(^|[^a-z])pin$|sopin$|^token$|[a-z_-]token$|^(access|refresh|bearer|id|auth)[_-]?token|privatekey|private[_-]key|key[_-]?material|^tls\.key$|^ssh-privatekey$|^authorization$|^proxy-authorization$|^cookie$|^set-cookie$|client[_-]?secret|^secret$|^credentials?$|^kubeconfig$|^x-ms-authorization/i;

export function isSensitiveField(name: string): boolean {
  return sensitiveName.test(name);
}

const pemPrivateKey = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const authScheme = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const jwtLike = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

/** Removes credentials that hide inside free text (error messages, command output). */
export function redactText(text: string): string {
  return text.replace(pemPrivateKey, '[REDACTED PRIVATE KEY]').replace(authScheme, `$1 ${REDACTED}`).replace(jwtLike, REDACTED);
}

function isSecretObject(o: Record<string, unknown>): boolean {
  return o.kind === 'Secret' || (typeof o.type === 'string' && /^(kubernetes\.io\/|Opaque$|bootstrap\.kubernetes\.io)/.test(o.type) && ('data' in o || 'stringData' in o));
}

/** A deep copy of `value` with every secret replaced by `[REDACTED]`. Cycles and very deep values are cut. */
export function redact(value: unknown): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactText(v);
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Uint8Array || v instanceof ArrayBuffer) return `[binary ${v.byteLength} bytes]`;
    if (v instanceof Date) return v;
    if (seen.has(v)) return '[Circular]';
    if (depth > 10) return '[Truncated]';
    seen.add(v);
    if (v instanceof Error) {
      // Still an Error, so pino's serializer keeps type, message and stack; only scrubbed copies go in.
      const copy = new Error(redactText(v.message));
      copy.name = v.name;
      copy.stack = v.stack === undefined ? undefined : redactText(v.stack);
      const extra = copy as unknown as Record<string, unknown>;
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'name' || k === 'message' || k === 'stack') continue;
        extra[k] = isSensitiveField(k) ? REDACTED : walk(inner, depth + 1);
      }
      if (v.cause !== undefined) copy.cause = walk(v.cause, depth + 1);
      return copy;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v instanceof Map) return walk(Object.fromEntries(v), depth);
    const o = v as Record<string, unknown>;
    const secret = isSecretObject(o);
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(o)) {
      if (isSensitiveField(k)) out[k] = REDACTED;
      else if (secret && (k === 'data' || k === 'stringData')) out[k] = REDACTED;
      else out[k] = walk(inner, depth + 1);
    }
    return out;
  };
  return walk(value, 0);
}

export interface LoggerOptions {
  level?: LogLevel;
  name?: string;
  /** Where JSON lines go; stdout by default. Tests pass a stream to capture them. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

/** The root logger of the process. Child loggers (`logger.child({ controller })`) inherit the redaction. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const root = pino(
    {
      level: options.level ?? 'info',
      name: options.name,
      ...(options.base === undefined ? {} : { base: redact(options.base) as Record<string, unknown> }),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
      },
      // Belt and braces for well-known request shapes, in case a serializer re-adds them.
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'headers.Authorization'], censor: REDACTED },
      hooks: {
        logMethod(args, method) {
          const clean = args.map((a) => redact(a)) as Parameters<typeof method>;
          method.apply(this, clean);
        },
      },
    },
    // Synchronous writes: the last lines before a signal-driven exit must not be lost in a buffer.
    options.destination ?? pino.destination({ sync: true }),
  );
  // Child bindings bypass hooks and formatters; children are prototype-chained to the root, so one override
  // here scrubs the bindings of every descendant.
  const protoChild = root.child;
  root.child = function (this: Logger, bindings, childOptions) {
    return protoChild.call(this, redact(bindings) as typeof bindings, childOptions);
  } as typeof root.child;
  return root;
}

/** A logger that writes nothing: the default for components built without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
