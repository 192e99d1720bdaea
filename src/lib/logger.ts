import { type DestinationStream, type Logger, pino } from "pino";
import { redactDeep, redactSecrets } from "./secret-patterns.ts";

export type { Logger };

/** Paths that never reach a log line whatever their value. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-agent-key"]',
  'req.headers["x-admin-key"]',
  'req.headers["x-metrics-token"]',
  'res.headers["set-cookie"]',
  "*.content",
  "*.password",
  "*.key",
  "*.secret",
  "*.token",
  "body",
];

/**
 * The JSON logger. Besides the fixed paths, every string of every line passes through the secret
 * pattern registry, so a key pasted into a message or an error is scrubbed too.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  /** Fields added to every line (the active trace id). */
  mixin?: () => object,
): Logger {
  return pino(
    {
      level,
      ...(mixin ? { mixin } : {}),
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      formatters: {
        log: (obj) => redactDeep(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === "string" ? redactSecrets(a) : a)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        err: (err: Error) => ({
          type: err.name,
          message: redactSecrets(err.message),
          stack: err.stack ? redactSecrets(err.stack) : undefined,
        }),
      },
    },
    destination,
  );
}
