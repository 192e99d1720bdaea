import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseCidr } from "./cidr.ts";
import { checkSecretStrength } from "./secrets.ts";

const secret = (name: string) =>
  z.string().superRefine((value, ctx) => {
    const strength = checkSecretStrength(value);
    if (!strength.ok) ctx.addIssue({ code: "custom", message: `${name} is too weak: it ${strength.reason}` });
  });

const intFromString = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A list from a config file array or a comma-separated environment variable. */
const listOf = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === "string"
        ? v
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean)
        : v,
    z.array(item).max(100),
  );

/** An address or CIDR, parsed by ipaddr.js (`999.1.1.1/99` and `10.0.0.0/33` are refused). */
const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  error: (issue) => `${JSON.stringify(issue.input)} is not an IP address or CIDR`,
});
/** A host name as the egress allowlist matches it, optionally `*.` for its subdomains. */
const EGRESS_HOST_RE =
  /^(?:\*\.)?[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?$/i;
function isEgressHost(entry: string): boolean {
  if (!EGRESS_HOST_RE.test(entry)) return false;
  try {
    // A name the URL parser reads as an IPv4 address (`999.1.1.1`, `1.2.3`) is neither host nor CIDR.
    new URL(`http://${entry.replace(/^\*\./, "")}/`);
    return !/^[\d.]+$/.test(entry.replace(/^\*\./, ""));
  } catch {
    return false;
  }
}
const egressEntry = z.string().refine((v) => parseCidr(v) !== undefined || isEgressHost(v), {
  error: (issue) => `${JSON.stringify(issue.input)} is not an IP address, CIDR or host name`,
});
const HOST_RE = /^[a-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9a-f:]{2,39}\](?::\d{1,5})?$/;
const ORIGIN_RE = /^https?:\/\/[a-z0-9.-]{1,253}(?::\d{1,5})?$/;
const boolFromString = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());

/** The whole configuration, parsed once at boot. Unknown keys are refused so typos do not pass silently. */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default("./data"),
    /** `postgres://…` puts every tenant's data and the instance data on PostgreSQL (application role). */
    databaseUrl: z
      .string()
      .max(2048)
      .regex(/^postgres(?:ql)?:\/\/\S+$/, "a postgres:// URL")
      .optional(),
    /** The owner role that runs migrations and grants the application role; defaults to databaseUrl. */
    databaseMigrationUrl: z
      .string()
      .max(2048)
      .regex(/^postgres(?:ql)?:\/\/\S+$/, "a postgres:// URL")
      .optional(),
    /** Connections per PostgreSQL pool; a gateway keeps two pools (instance data, tenants' data). */
    databasePoolSize: intFromString(1, 500).default(10),
    host: z.string().min(1).default("127.0.0.1"),
    port: intFromString(0, 65535).default(7411),
    adminKey: secret("HYPHA_ADMIN_KEY").optional(),
    metricsToken: secret("HYPHA_METRICS_TOKEN").optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    rateLimitPerMinute: intFromString(1, 100_000).default(600),
    bodyLimitBytes: intFromString(1024, 64 * 1024 * 1024).default(1024 * 1024),
    maxContentBytes: intFromString(16, 1024 * 1024).default(32 * 1024),
    /** The names a connector's `secretEnv` may take (unset: any but the server's own `HYPHA_…`). */
    connectorSecretEnvPrefix: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, "upper-case letters, digits and _, as environment variable names")
      .refine(
        (p) => p !== "HYPHA_",
        "HYPHA_ alone would open the server's own settings: name a narrower prefix",
      )
      .optional(),
    sweepIntervalSeconds: intFromString(1, 60).default(30),
    /** Load shedding: requests in flight per process and per tenant beyond which new ones get 503. */
    maxInFlight: intFromString(1, 100_000).default(512),
    maxInFlightPerTenant: intFromString(1, 100_000).default(256),
    /**
     * Queue age (ms: the 4th oldest request in flight) beyond which tenants above their share are
     * refused, and past twice this every new request; 0 sheds on the bounds alone. Short, so that a
     * cold process under overload refuses its backlog instead of queueing it (docs/benchmarks.md,
     * "Sustained load", has the runs that chose 100 ms).
     */
    overloadQueueMs: intFromString(0, 600_000).default(100),
    /** Event-loop delay (the longest over half a second) beyond which new requests get 503; 0: off. */
    overloadEventLoopDelayMs: intFromString(0, 60_000).default(500),
    /** Exports in flight per process (each tenant may run one at a time). */
    maxExportsInFlight: intFromString(1, 1000).default(2),
    /** Rows per second all NDJSON exports of the process read together (the rest of the CPU stays for requests). */
    exportRowsPerSecond: intFromString(100, 10_000_000).default(10_000),
    recallHalfLifeDays: z.coerce.number().positive().max(36500).default(30),
    /** Stage histograms per tenant (opt-in); beyond `metricsTenantLimit` tenants the rest count as `other`. */
    metricsPerTenant: boolFromString.default(false),
    metricsTenantLimit: intFromString(1, 1000).default(50),
    /** Proxies whose X-Forwarded-For is believed (addresses or CIDRs); empty: none, use the peer. */
    trustedProxies: listOf(cidr).default([]),
    /** Host header values served (`name` or `name:port`); empty serves any. */
    allowedHosts: listOf(z.string().toLowerCase().regex(HOST_RE, "a host name")).default([]),
    /** Origins allowed to call the cookie routes besides the server's own (`https://app.example`). */
    allowedOrigins: listOf(z.string().toLowerCase().regex(ORIGIN_RE, "an origin")).default([]),
    /** `iss` of the access tokens this instance mints. */
    tokenIssuer: z.string().min(1).max(200).default("hypha"),
    /** Failed sign-ins within the window that lock an account, and for how long. */
    loginMaxFailures: intFromString(1, 100).default(3),
    loginFailureWindowSeconds: intFromString(10, 86_400).default(600),
    loginLockSeconds: intFromString(10, 7 * 86_400).default(3600),
    /** Sign-in attempts one client address may make per window, whatever the account. */
    loginMaxPerAddress: intFromString(1, 10_000).default(30),
    /** A file (on another volume) every signed audit head is appended to, as an anchor outside the data directory. */
    auditAnchorFile: z
      .string()
      .min(2)
      .max(4096)
      .refine((p) => p.startsWith("/"), "an absolute path, on another volume than the data directory")
      .optional(),
    /** Ask for credentials on /docs and /openapi.json (served without them by default: no data there). */
    docsRequireAuth: boolFromString.default(false),
    /** Reach OIDC providers over plain http on loopback and private addresses (local providers only). */
    oidcAllowInsecureLocal: boolFromString.default(false),
    /**
     * Serve the console's cookies without `Secure` (and without the `__Host-` prefix) so it works over
     * plain http; refused unless the server listens on loopback only.
     */
    consoleInsecureHttp: boolFromString.default(false),
    /** The master key (base64, or `<version>:<base64>,…` during a rotation); else a keyring file. */
    masterKey: z.string().min(1).max(10_000).optional(),
    masterKeyFile: z.string().min(1).max(4096).optional(),
    /** An OpenAI-compatible API (`…/v1`) asked for a second opinion on prompt injection; off when unset. */
    judgeUrl: z.url({ protocol: /^https?$/ }).optional(),
    judgeModel: z.string().min(1).max(200).optional(),
    judgeApiKey: z.string().min(1).max(4096).optional(),
    judgeTimeoutMs: intFromString(50, 60_000).default(2000),
    /**
     * Which embedder hybrid recall uses: `off`, `api` (the API at `embeddingsUrl`) or `embedded`
     * (Universal Sentence Encoder lite in the process, from the optional npm packages; no network).
     * Unset: `api` when `embeddingsUrl` is set, `off` otherwise. See `embeddingsAdapter`.
     */
    embeddings: z.enum(["off", "api", "embedded"]).optional(),
    /**
     * An OpenAI-compatible embeddings API (`…/v1`, `POST {url}/embeddings`) for hybrid recall; off when
     * unset. Memories are embedded after commit by a worker, never on the write path.
     */
    embeddingsUrl: z.url({ protocol: /^https?$/ }).optional(),
    embeddingsModel: z.string().min(1).max(200).optional(),
    embeddingsApiKey: z.string().min(1).max(4096).optional(),
    /**
     * One deadline per embeddings call (an API's DNS, connect and answer; the embedded model's queue
     * and computation); past it recall stays lexical.
     */
    embeddingsTimeoutMs: intFromString(50, 120_000).default(5000),
    /** CIDRs and host names outbound webhooks may reach although the egress guard blocks them. */
    egressAllow: z
      .union([z.string(), z.array(z.string())])
      .transform((v) =>
        (typeof v === "string" ? v.split(",") : v).map((s) => s.trim()).filter((s) => s !== ""),
      )
      .pipe(z.array(egressEntry.pipe(z.string().min(1).max(253))).max(100))
      .default([]),
    /** The credential key (base64, or `<version>:<base64>,…`); else a keyring file. Never the master key. */
    credentialKey: z.string().min(1).max(10_000).optional(),
    credentialKeyFile: z.string().min(1).max(4096).optional(),
    /**
     * The unix socket of a `hypha proxy`. When set, this process holds no credential key: it forwards
     * every credential operation to the proxy, authenticated by `proxyToken`.
     */
    proxySocket: z.string().min(1).max(100).optional(),
    proxyToken: secret("HYPHA_PROXY_TOKEN").optional(),
    /** One deadline for a proxied call (DNS, connect, headers, body), and the largest response body. */
    proxyTimeoutMs: intFromString(100, 120_000).default(10_000),
    proxyMaxResponseBytes: intFromString(1024, 16 * 1024 * 1024).default(1024 * 1024),
    /**
     * Redis shared by every gateway (`redis://[:password@]host:port[/db]`, or `rediss://`): rate
     * limits, the login throttle, the event stream and cache invalidation. Unset: all in process.
     */
    redisUrl: z.url({ protocol: /^rediss?$/, error: "a redis:// or rediss:// URL" }).optional(),
    /** Prefix of every Redis key and channel, so several deployments (or test runs) share one Redis. */
    redisPrefix: z
      .string()
      .regex(/^[a-z0-9_:-]{1,64}$/, "letters, digits, _ : - (at most 64)")
      .default("hypha:"),
    /** On SIGTERM: how long in-flight requests and workers may take to finish before they are cut. */
    shutdownTimeoutSeconds: intFromString(1, 3600).default(30),
    /** PEM certificate chain and private key: the server speaks HTTPS (TLS 1.3 only) when both are set. */
    tlsCertFile: z.string().min(1).max(4096).optional(),
    tlsKeyFile: z.string().min(1).max(4096).optional(),
    /** HSTS max-age sent over HTTPS. */
    hstsMaxAgeSeconds: intFromString(0, 2 * 365 * 86_400).default(31_536_000),
    /** A PEM bundle of extra certificate authorities trusted for outbound calls (a private CA). */
    extraCaFile: z.string().min(1).max(4096).optional(),
  })
  .strict()
  .refine((c) => !c.proxySocket || c.proxyToken, {
    message:
      "HYPHA_PROXY_TOKEN is required with HYPHA_PROXY_SOCKET (the same value the proxy was started with)",
    path: ["proxyToken"],
  })

  .refine((c) => !c.consoleInsecureHttp || ["127.0.0.1", "::1", "localhost"].includes(c.host), {
    message:
      "HYPHA_CONSOLE_INSECURE_HTTP is only for a server on loopback: set HYPHA_HOST=127.0.0.1 or serve https",
    path: ["consoleInsecureHttp"],
  })
  .refine((c) => !c.databaseMigrationUrl || c.databaseUrl, {
    message: "HYPHA_DATABASE_MIGRATION_URL needs HYPHA_DATABASE_URL (the application role) beside it",
    path: ["databaseMigrationUrl"],
  })
  .refine((c) => Boolean(c.tlsCertFile) === Boolean(c.tlsKeyFile), {
    message: "HYPHA_TLS_CERT_FILE and HYPHA_TLS_KEY_FILE go together: set both to serve https, or neither",
    path: ["tlsCertFile"],
  })
  .refine((c) => !c.judgeUrl || c.judgeModel, {
    message: "HYPHA_JUDGE_MODEL is required with HYPHA_JUDGE_URL",
    path: ["judgeModel"],
  })
  .refine((c) => c.embeddings === "embedded" || !c.embeddingsUrl || c.embeddingsModel, {
    message: "HYPHA_EMBEDDINGS_MODEL is required with HYPHA_EMBEDDINGS_URL",
    path: ["embeddingsModel"],
  })
  .refine(
    (c) => c.embeddings === "embedded" || c.embeddingsUrl || (!c.embeddingsModel && !c.embeddingsApiKey),
    {
      message:
        "HYPHA_EMBEDDINGS_MODEL and HYPHA_EMBEDDINGS_API_KEY need HYPHA_EMBEDDINGS_URL (the embeddings API) beside them",
      path: ["embeddingsUrl"],
    },
  )
  .refine(
    (c) => c.embeddings !== "embedded" || (!c.embeddingsUrl && !c.embeddingsModel && !c.embeddingsApiKey),
    {
      message:
        "HYPHA_EMBEDDINGS=embedded runs its own model in the process and takes no HYPHA_EMBEDDINGS_URL, HYPHA_EMBEDDINGS_MODEL or HYPHA_EMBEDDINGS_API_KEY: unset those, or set HYPHA_EMBEDDINGS=api to use the API",
      path: ["embeddings"],
    },
  )
  .refine((c) => c.embeddings !== "api" || c.embeddingsUrl, {
    message:
      "HYPHA_EMBEDDINGS=api needs HYPHA_EMBEDDINGS_URL and HYPHA_EMBEDDINGS_MODEL (the embeddings API)",
    path: ["embeddings"],
  })
  .refine((c) => c.embeddings !== "off" || !c.embeddingsUrl, {
    message: "HYPHA_EMBEDDINGS=off contradicts HYPHA_EMBEDDINGS_URL: unset one of them",
    path: ["embeddings"],
  });

/** The embedder the configuration selects: `HYPHA_EMBEDDINGS`, else `api` when a URL is set, else `off`. */
export function embeddingsAdapter(
  c: Pick<Config, "embeddings" | "embeddingsUrl">,
): "off" | "api" | "embedded" {
  return c.embeddings ?? (c.embeddingsUrl ? "api" : "off");
}

export type Config = z.infer<typeof configSchema>;

/** Environment variables and the config keys they set. */
export const ENV_KEYS: Record<string, keyof Config> = {
  HYPHA_DATA_DIR: "dataDir",
  HYPHA_DATABASE_URL: "databaseUrl",
  HYPHA_DATABASE_MIGRATION_URL: "databaseMigrationUrl",
  HYPHA_DATABASE_POOL_SIZE: "databasePoolSize",
  HYPHA_HOST: "host",
  HYPHA_PORT: "port",
  HYPHA_ADMIN_KEY: "adminKey",
  HYPHA_METRICS_TOKEN: "metricsToken",
  HYPHA_LOG_LEVEL: "logLevel",
  HYPHA_RATE_LIMIT_PER_MINUTE: "rateLimitPerMinute",
  HYPHA_BODY_LIMIT_BYTES: "bodyLimitBytes",
  HYPHA_MAX_CONTENT_BYTES: "maxContentBytes",
  HYPHA_CONNECTOR_SECRET_ENV_PREFIX: "connectorSecretEnvPrefix",
  HYPHA_SWEEP_INTERVAL_SECONDS: "sweepIntervalSeconds",
  HYPHA_MAX_IN_FLIGHT: "maxInFlight",
  HYPHA_MAX_IN_FLIGHT_PER_TENANT: "maxInFlightPerTenant",
  HYPHA_OVERLOAD_QUEUE_MS: "overloadQueueMs",
  HYPHA_OVERLOAD_EVENT_LOOP_DELAY_MS: "overloadEventLoopDelayMs",
  HYPHA_MAX_EXPORTS_IN_FLIGHT: "maxExportsInFlight",
  HYPHA_EXPORT_ROWS_PER_SECOND: "exportRowsPerSecond",
  HYPHA_RECALL_HALF_LIFE_DAYS: "recallHalfLifeDays",
  HYPHA_METRICS_PER_TENANT: "metricsPerTenant",
  HYPHA_METRICS_TENANT_LIMIT: "metricsTenantLimit",
  HYPHA_TRUSTED_PROXIES: "trustedProxies",
  HYPHA_ALLOWED_HOSTS: "allowedHosts",
  HYPHA_ALLOWED_ORIGINS: "allowedOrigins",
  HYPHA_TOKEN_ISSUER: "tokenIssuer",
  HYPHA_LOGIN_MAX_FAILURES: "loginMaxFailures",
  HYPHA_LOGIN_FAILURE_WINDOW_SECONDS: "loginFailureWindowSeconds",
  HYPHA_LOGIN_LOCK_SECONDS: "loginLockSeconds",
  HYPHA_LOGIN_MAX_PER_ADDRESS: "loginMaxPerAddress",
  HYPHA_OIDC_ALLOW_INSECURE_LOCAL: "oidcAllowInsecureLocal",
  HYPHA_DOCS_REQUIRE_AUTH: "docsRequireAuth",
  HYPHA_AUDIT_ANCHOR_FILE: "auditAnchorFile",
  HYPHA_CONSOLE_INSECURE_HTTP: "consoleInsecureHttp",
  HYPHA_MASTER_KEY: "masterKey",
  HYPHA_MASTER_KEY_FILE: "masterKeyFile",
  HYPHA_EGRESS_ALLOW: "egressAllow",
  HYPHA_JUDGE_URL: "judgeUrl",
  HYPHA_JUDGE_MODEL: "judgeModel",
  HYPHA_JUDGE_API_KEY: "judgeApiKey",
  HYPHA_JUDGE_TIMEOUT_MS: "judgeTimeoutMs",
  HYPHA_EMBEDDINGS: "embeddings",
  HYPHA_EMBEDDINGS_URL: "embeddingsUrl",
  HYPHA_EMBEDDINGS_MODEL: "embeddingsModel",
  HYPHA_EMBEDDINGS_API_KEY: "embeddingsApiKey",
  HYPHA_EMBEDDINGS_TIMEOUT_MS: "embeddingsTimeoutMs",
  HYPHA_CREDENTIAL_KEY: "credentialKey",
  HYPHA_CREDENTIAL_KEY_FILE: "credentialKeyFile",
  HYPHA_PROXY_SOCKET: "proxySocket",
  HYPHA_PROXY_TOKEN: "proxyToken",
  HYPHA_PROXY_TIMEOUT_MS: "proxyTimeoutMs",
  HYPHA_PROXY_MAX_RESPONSE_BYTES: "proxyMaxResponseBytes",
  HYPHA_REDIS_URL: "redisUrl",
  HYPHA_REDIS_PREFIX: "redisPrefix",
  HYPHA_SHUTDOWN_TIMEOUT_SECONDS: "shutdownTimeoutSeconds",
  HYPHA_TLS_CERT_FILE: "tlsCertFile",
  HYPHA_TLS_KEY_FILE: "tlsKeyFile",
  HYPHA_HSTS_MAX_AGE_SECONDS: "hstsMaxAgeSeconds",
  HYPHA_EXTRA_CA_FILE: "extraCaFile",
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read the config file ${path} (HYPHA_CONFIG): ${(err as NodeJS.ErrnoException).code ?? "error"}; check the path and its permissions`,
    );
  }
  const format = path.endsWith(".json") ? "JSON" : "YAML";
  let parsed: unknown;
  try {
    parsed = format === "JSON" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    throw new ConfigError(
      `the config file ${path} (HYPHA_CONFIG) is not valid ${format}: ${why}; fix the file or point HYPHA_CONFIG at another one`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(
      `the config file ${path} (HYPHA_CONFIG) must hold an object of settings (e.g. {"port": 7411})`,
    );
  }
  return parsed as Record<string, unknown>;
}

/**
 * Builds the configuration from, lowest precedence first: the file named by `HYPHA_CONFIG`,
 * the `HYPHA_*` environment variables, and explicit overrides (command-line flags).
 * Throws ConfigError with every problem listed.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Record<keyof Config, unknown>> = {},
): Config {
  const raw: Record<string, unknown> = env.HYPHA_CONFIG ? readConfigFile(env.HYPHA_CONFIG) : {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) raw[key] = value;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      // The setting, not the list index inside it: `trustedProxies.1` is reported as `trustedProxies`.
      const key = issue.path[0] === undefined ? "(root)" : String(issue.path[0]);
      const envName = Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0];
      return `${key}${envName ? ` (${envName})` : ""}: ${issue.message}`;
    });
    // One line: start-up failures are a single `hypha:` line that names each setting.
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  return result.data;
}
