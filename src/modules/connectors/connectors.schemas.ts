import { z } from "zod";
import { labelSchema, memoryTypeSchema, namespaceSchema } from "../../lib/names.ts";
import { checkSecretStrength } from "../../lib/secrets.ts";

/**
 * The contract for a connector's configuration. Every field is bounded; a config that parses is one the
 * verifiers and mappers can run without further checks.
 */

export const CONNECTOR_SOURCES = [
  "github",
  "slack",
  "stripe",
  "standard",
  "generic_hmac",
  "jwt",
  "bearer",
] as const;
export type ConnectorSource = (typeof CONNECTOR_SOURCES)[number];

/** An RFC 6901 JSON pointer: empty (the whole document) or `/`-prefixed tokens. */
export const jsonPointerSchema = z
  .string()
  .max(256)
  .regex(/^(?:\/(?:[^~/]|~[01])*)*$/, "an RFC 6901 JSON pointer such as /issue/title");

/** Header names are matched against Node's lower-cased header record, so they are lower-cased here. */
const headerNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, "an HTTP header name")
  .transform((s) => s.toLowerCase());

export const DEFAULT_TOLERANCE_SEC = 300;
export const DEFAULT_REPLAY_WINDOW_SEC = 86_400;

const toleranceSchema = z.number().int().min(30).max(3600);

const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;

/** Label-shaped selectors used for event-type allowlists (`issues`, `invoice.paid`, `invoice.*`). */
const eventTypeSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9_.*-]+$/, "lowercase event type, '*' as a trailing wildcard");

export const mappingSchema = z
  .strictObject({
    /** `builtin` uses the source's own mapping (github, slack, stripe); `generic` uses the pointers. */
    kind: z.enum(["builtin", "generic"]).optional(),
    namespace: namespaceSchema,
    type: memoryTypeSchema.optional(),
    contentPointer: jsonPointerSchema.optional(),
    tagPointers: z.array(jsonPointerSchema).max(16).optional(),
    entityPointers: z.array(jsonPointerSchema).max(16).optional(),
    /** Tags added to every memory from this connector. */
    staticTags: z.array(labelSchema).max(16).optional(),
    /** Small scalar fields copied into metadata, by name. */
    metadataPointers: z
      .record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), jsonPointerSchema)
      .refine((r) => Object.keys(r).length <= 16, "at most 16 metadata fields")
      .optional(),
    /**
     * Allowlist of event types to store (others are acknowledged and ignored). The event type is the
     * `X-GitHub-Event` header, Slack's `event.type` (`slash_command` for slash commands, the payload
     * `type` such as `block_actions` for interactions), Stripe's `type`, or for generic mappings the value
     * at `eventTypePointer`. A trailing `*` matches a prefix: `invoice.*`.
     */
    eventTypes: z.array(eventTypeSchema).max(64).optional(),
    eventTypePointer: jsonPointerSchema.optional(),
    maxContentChars: z.number().int().min(64).max(32_000).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.kind === "generic" && m.contentPointer === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["contentPointer"],
        message: "a generic mapping needs contentPointer",
      });
    }
  });
export type MappingConfig = z.output<typeof mappingSchema>;

const githubOptions = z.strictObject({});
const slackOptions = z.strictObject({
  toleranceSec: toleranceSchema.optional(),
  /** Messages posted by bots are skipped by default, so an agent's own posts do not loop back. */
  includeBotMessages: z.boolean().optional(),
  /** Reaction names (without colons) stored as memories; others are acknowledged and ignored. */
  reactions: z
    .array(z.string().regex(/^[a-z0-9_+-]{1,64}$/, "a reaction name such as white_check_mark"))
    .max(64)
    .optional(),
});
const stripeOptions = z.strictObject({ toleranceSec: toleranceSchema.optional() });
const standardOptions = z.strictObject({ toleranceSec: toleranceSchema.optional() });
const genericHmacOptions = z.strictObject({
  header: headerNameSchema,
  encoding: z.enum(["hex", "base64"]),
  prefix: z
    .string()
    .max(32)
    .regex(/^[\x21-\x7e]*$/)
    .optional(),
  timestampHeader: headerNameSchema.optional(),
  toleranceSec: toleranceSchema.optional(),
  deliveryIdHeader: headerNameSchema.optional(),
});
const jwtOptions = z.strictObject({
  header: headerNameSchema.optional(),
  /** Only for key sets; a shared secret always means HS256. */
  algorithms: z
    .array(z.enum(["RS256", "ES256"]))
    .min(1)
    .max(2)
    .optional(),
  jwksUrl: z
    .url({ protocol: /^https$/ })
    .max(2048)
    .optional(),
  jwks: z
    .strictObject({
      keys: z.array(z.record(z.string(), z.unknown())).min(1).max(16),
    })
    .optional(),
  issuer: z.string().min(1).max(512).optional(),
  audience: z.string().min(1).max(512).optional(),
  bodyHashClaim: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/)
    .optional(),
  maxTokenAgeSec: z.number().int().min(1).max(86_400).optional(),
  clockToleranceSec: z.number().int().min(0).max(300).optional(),
});
const bearerOptions = z.strictObject({ header: headerNameSchema.optional() });

/** GitHub caps webhook payloads at 25 MB; nothing a connector accepts is larger. */
export const MAX_CONNECTOR_BODY_BYTES = 25 * 1024 * 1024;

/**
 * Body limits that fit each provider. A source not listed uses the server's API body limit
 * (`HYPHA_BODY_LIMIT_BYTES`); `maxBodyBytes` on a connector overrides both.
 */
export const DEFAULT_BODY_LIMIT_BYTES: Readonly<Partial<Record<ConnectorSource, number>>> = {
  github: MAX_CONNECTOR_BODY_BYTES,
};

const common = {
  /** Inline secret. Prefer `secretEnv` so the secret does not sit in a config file. */
  secret: z.string().min(16).max(1024).optional(),
  /** Name of the environment variable holding the secret. */
  secretEnv: z.string().regex(ENV_NAME_RE, "an environment variable name").optional(),
  /**
   * How long a delivery id is remembered; must outlast every timestamp tolerance. Content keys of
   * deliveries without a signed timestamp are kept for good, a JWT's until it expires (`replay.ts`).
   */
  replayWindowSec: z
    .number()
    .int()
    .min(600)
    .max(30 * 86_400)
    .optional(),
  /** Largest request body this connector accepts (bytes); see `DEFAULT_BODY_LIMIT_BYTES`. */
  maxBodyBytes: z.number().int().min(1024).max(MAX_CONNECTOR_BODY_BYTES).optional(),
  mapping: mappingSchema,
};

export const connectorConfigSchema = z
  .discriminatedUnion("source", [
    z.strictObject({ source: z.literal("github"), ...common, options: githubOptions.default({}) }),
    z.strictObject({ source: z.literal("slack"), ...common, options: slackOptions.default({}) }),
    z.strictObject({ source: z.literal("stripe"), ...common, options: stripeOptions.default({}) }),
    z.strictObject({ source: z.literal("standard"), ...common, options: standardOptions.default({}) }),
    z.strictObject({ source: z.literal("generic_hmac"), ...common, options: genericHmacOptions }),
    z.strictObject({ source: z.literal("jwt"), ...common, options: jwtOptions.default({}) }),
    z.strictObject({ source: z.literal("bearer"), ...common, options: bearerOptions.default({}) }),
  ])
  .superRefine((c, ctx) => {
    if (c.secret !== undefined && c.secretEnv !== undefined) {
      ctx.addIssue({ code: "custom", path: ["secretEnv"], message: "set secret or secretEnv, not both" });
    }
    const hasSecret = c.secret !== undefined || c.secretEnv !== undefined;
    // Secrets we generate ourselves (not issued by a provider) must be strong.
    if (
      c.secret !== undefined &&
      (c.source === "generic_hmac" || c.source === "bearer" || c.source === "jwt")
    ) {
      const strength = checkSecretStrength(c.secret, 32);
      if (!strength.ok)
        ctx.addIssue({ code: "custom", path: ["secret"], message: `secret ${strength.reason}` });
    }
    if (
      c.secret !== undefined &&
      c.source === "standard" &&
      !/^(?:whsec_)?[A-Za-z0-9+/]{22,}={0,2}$/.test(c.secret)
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["secret"],
        message: "a Standard Webhooks secret is whsec_ + base64",
      });
    }
    if (c.source === "jwt") {
      const o = c.options;
      const sources = [hasSecret, o.jwksUrl !== undefined, o.jwks !== undefined].filter(Boolean).length;
      if (sources !== 1) {
        ctx.addIssue({
          code: "custom",
          path: ["options"],
          message: "a jwt connector needs exactly one of secret/secretEnv (HS256), jwksUrl or jwks",
        });
      }
      if (hasSecret && o.algorithms !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["options", "algorithms"],
          message: "a shared secret always verifies HS256; algorithms apply to key sets only",
        });
      }
    }
    const tolerance = toleranceSecFor(c);
    if (c.replayWindowSec !== undefined && c.replayWindowSec < 2 * tolerance) {
      ctx.addIssue({
        code: "custom",
        path: ["replayWindowSec"],
        message: "the replay window must be at least twice the timestamp tolerance",
      });
    }
    const kind = c.mapping.kind ?? defaultMappingKind(c.source);
    if (kind === "builtin" && defaultMappingKind(c.source) === "generic") {
      ctx.addIssue({
        code: "custom",
        path: ["mapping", "kind"],
        message: `${c.source} has no built-in mapping`,
      });
    }
    if (kind === "generic" && c.mapping.contentPointer === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["mapping", "contentPointer"],
        message: "a generic mapping needs contentPointer",
      });
    }
  });

export type ConnectorConfigInput = z.input<typeof connectorConfigSchema>;
export type ConnectorConfig = z.output<typeof connectorConfigSchema>;

/** The timestamp tolerance a connector's verifier applies (0 for schemes without a timestamp). */
export function toleranceSecFor(config: ConnectorConfig): number {
  switch (config.source) {
    case "slack":
    case "stripe":
    case "standard":
      return config.options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
    case "generic_hmac":
      return config.options.timestampHeader === undefined
        ? 0
        : (config.options.toleranceSec ?? DEFAULT_TOLERANCE_SEC);
    default:
      return 0;
  }
}

/**
 * How long delivery ids are remembered. Never shorter than twice the tolerance: a capture must not
 * outlive its id record while its timestamp still passes (tolerance applies on both sides of now).
 */
export function replayWindowSecFor(config: ConnectorConfig): number {
  return Math.max(config.replayWindowSec ?? DEFAULT_REPLAY_WINDOW_SEC, 2 * toleranceSecFor(config));
}

/** The body limit for a connector's ingest endpoint, given the server's API body limit. */
export function bodyLimitFor(
  config: Pick<ConnectorConfig, "source" | "maxBodyBytes">,
  apiBodyLimit: number,
): number {
  return config.maxBodyBytes ?? DEFAULT_BODY_LIMIT_BYTES[config.source] ?? apiBodyLimit;
}

/** github, slack and stripe have built-in mappings; every other source maps with JSON pointers. */
export function defaultMappingKind(source: ConnectorSource): "builtin" | "generic" {
  return source === "github" || source === "slack" || source === "stripe" ? "builtin" : "generic";
}

/**
 * Whether a connector may name the environment variable `name` as its secret. A tenant's admin
 * chooses the name, so never one of the server's own settings (`HYPHA_…`: the admin key, database
 * URLs, API keys), whose value a connector would otherwise let them test guesses against; and, when
 * the operator sets `connectorSecretEnvPrefix`, only names under it (then a `HYPHA_…` prefix is the
 * operator's choice).
 *
 * @example
 * secretEnvAllowed("GITHUB_WEBHOOK_SECRET", undefined) // true
 * secretEnvAllowed("HYPHA_ADMIN_KEY", undefined)       // false
 * secretEnvAllowed("GITHUB_WEBHOOK_SECRET", "HOOKS_")  // false
 */
export function secretEnvAllowed(name: string, prefix: string | undefined): boolean {
  if (prefix !== undefined) return name.length > prefix.length && name.startsWith(prefix);
  return !name.startsWith("HYPHA_");
}

/**
 * The secret a connector verifies with: inline, or read from the named environment variable. An empty
 * or unset variable, or one the connector may not name (`secretEnvAllowed`), is `undefined`, which
 * every verifier treats as "reject".
 */
export function resolveConnectorSecret(
  config: Pick<ConnectorConfig, "secret" | "secretEnv">,
  env: Readonly<Record<string, string | undefined>>,
  secretEnvPrefix: string | undefined,
): string | undefined {
  if (config.secret !== undefined) return config.secret;
  if (config.secretEnv === undefined || !secretEnvAllowed(config.secretEnv, secretEnvPrefix))
    return undefined;
  const value = env[config.secretEnv];
  return value === undefined || value === "" ? undefined : value;
}
