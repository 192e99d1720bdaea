import { readFileSync, statSync } from "node:fs";
import type { Server as TlsServer } from "node:tls";
import { Command, InvalidArgumentError, Option } from "commander";
import { type AppOptions, createApp, type HyphaApp } from "../app.ts";
import { createHyphaClient, type HyphaClient, HyphaError } from "../client/index.ts";
import { type Config, ConfigError, loadConfig } from "../lib/config.ts";
import { newId } from "../lib/ids.ts";
import { safeJoin } from "../lib/names.ts";
import { checkSecretStrength, generateSecret, KEY_PREFIX } from "../lib/secrets.ts";
import { readTlsFiles, trustExtraCertificateAuthorities } from "../lib/tls.ts";
import type { Actor } from "../platform/auth/actor.ts";
import { acquireServeLock, prepareDataDir, storeAdminKey } from "../platform/bootstrap.ts";
import { TLS_SERVER_OPTIONS } from "../platform/http/server.ts";
import { registerConnectorCommands } from "./connector.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command()
  .name("hypha")
  .description("Hypha: self-hosted memory and security runtime for AI agents")
  .version(version, "-V, --version", "print the version")
  .showHelpAfterError();

const dataOption = () => new Option("--data <dir>", "data directory (HYPHA_DATA_DIR)");

function config(overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  try {
    return loadConfig(process.env, overrides);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hypha: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const cliActor = (): Actor => ({
  type: "instance_admin",
  id: "instance_admin",
  tenantId: null,
  origin: { requestId: newId("request"), ip: "cli", userAgent: "hypha-cli" },
});

/** Runs `fn` against the data directory directly (no server needed), as the instance admin. */
async function embedded<T>(
  opts: { data?: string },
  fn: (app: Awaited<ReturnType<typeof createApp>>) => Promise<T>,
) {
  const appOpts: AppOptions = { config: config({ dataDir: opts.data, logLevel: "silent" }) };
  const app = await createApp(appOpts);
  try {
    const result = await fn(app);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await app.close();
  }
}

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("not an integer");
  return n;
};

program
  .command("serve")
  .description("start the server (embedded SQLite store)")
  .addOption(dataOption())
  .option("--port <n>", "port (HYPHA_PORT, default 7411)", int)
  .option("--host <host>", "address to bind (HYPHA_HOST, default 127.0.0.1)")
  .action(async (opts: { data?: string; port?: number; host?: string }) => {
    const cfg = config({ dataDir: opts.data, port: opts.port, host: opts.host });
    // Certificate files and the CA bundle are read before anything else: a bad path is one line.
    const tls = readTlsFiles(cfg);
    trustExtraCertificateAuthorities(cfg);
    // A taken port stops the start before anything (data directory, keys) is created.
    await assertPortFree(cfg.host, cfg.port);
    prepareDataDir(cfg.dataDir);
    const releaseLock = acquireServeLock(cfg.dataDir);
    process.once("exit", releaseLock);
    let hypha: HyphaApp;
    try {
      hypha = await createApp({ config: cfg, ...(tls ? { tls } : {}) });
    } catch (err) {
      releaseLock();
      throw err;
    }
    // The person-name models load before the first request, not during it (here and on the
    // guardrails' detector thread).
    await hypha.apis.governance.warm();
    let address: string;
    try {
      address = await hypha.app.listen({ host: cfg.host, port: cfg.port });
    } catch (err) {
      await hypha.close();
      releaseLock();
      throw listenProblem(cfg.host, cfg.port, err) ?? err;
    }
    hypha.persistAdminKey();
    if (hypha.generatedAdminKey) {
      process.stdout.write(
        `\nInstance admin key (shown once; only its hash is stored):\n\n  ${hypha.generatedAdminKey}\n\n`,
      );
    }
    hypha.startWorkers();
    hypha.logger.info({ address, dataDir: cfg.dataDir, tls: tls !== null }, "hypha listening");
    if (!tls && !["127.0.0.1", "::1", "localhost"].includes(cfg.host)) {
      hypha.logger.warn(
        { host: cfg.host },
        "bound beyond loopback without TLS: set HYPHA_TLS_CERT_FILE and HYPHA_TLS_KEY_FILE, or put TLS in front of this port",
      );
    }
    if (tls) {
      // SIGHUP: the rotated certificate serves new handshakes; open connections keep theirs.
      process.on("SIGHUP", () => {
        try {
          const next = readTlsFiles(cfg);
          if (!next) return;
          (hypha.app.server as unknown as TlsServer).setSecureContext({ ...next, ...TLS_SERVER_OPTIONS });
          hypha.logger.info("tls certificate reloaded");
        } catch (err) {
          hypha.logger.error(
            { reason: err instanceof Error ? err.message : String(err) },
            "tls certificate not reloaded; the previous one stays in use",
          );
        }
      });
    }
    handleShutdownSignals(hypha, cfg.shutdownTimeoutSeconds);
  });

/**
 * Graceful shutdown. The first SIGTERM (or SIGINT) stops accepting connections, lets in-flight
 * requests finish and stops the workers, flushes the audit trail and closes the store, then exits 0.
 * Requests still running after `timeoutSeconds` have their connections cut (the store is still
 * flushed and closed; exit 1). A second signal exits at once (exit 1).
 */
function handleShutdownSignals(hypha: HyphaApp, timeoutSeconds: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      hypha.logger.warn({ signal }, "second signal: exiting without draining");
      process.exit(1);
    }
    stopping = true;
    hypha.logger.info({ signal, timeoutSeconds }, "shutting down: draining in-flight requests");
    let cut = false;
    const deadline = setTimeout(() => {
      cut = true;
      hypha.logger.warn({ timeoutSeconds }, "shutdown deadline reached: cutting the remaining connections");
      hypha.app.server.closeAllConnections();
      // A worker or flush that still does not finish cannot hold the process forever.
      setTimeout(() => process.exit(1), 5000).unref();
    }, timeoutSeconds * 1000);
    hypha.close().then(
      () => {
        clearTimeout(deadline);
        hypha.logger.info({ drained: !cut }, "shut down");
        process.exit(cut ? 1 : 0);
      },
      (err: unknown) => {
        hypha.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** A port the server cannot bind, as one line naming the setting and the fix; null for other errors. */
function listenProblem(host: string, port: number, err: unknown): ConfigError | null {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return new ConfigError(
      `port ${port} on ${host} is already in use (HYPHA_PORT or --port): stop the process that holds it, or choose another port`,
    );
  }
  if (code === "EACCES" || code === "EPERM") {
    return new ConfigError(
      `port ${port} on ${host} may not be bound by this user (HYPHA_PORT or --port): use a port above 1023`,
    );
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
    return new ConfigError(
      `address ${host} is not an address of this machine (HYPHA_HOST or --host): use 127.0.0.1, 0.0.0.0 or one of its addresses`,
    );
  }
  return null;
}

/** Binds and releases the port once, so a taken port is found before the data directory is touched. */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const { createServer } = await import("node:net");
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err) => reject(listenProblem(host, port, err) ?? err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

program
  .command("proxy")
  .description(
    "run the credential proxy: the only process holding the credential key; hypha serve forwards every credential call to it",
  )
  .addOption(dataOption())
  .option(
    "--socket <path>",
    "unix socket to listen on (HYPHA_PROXY_SOCKET); HYPHA_PROXY_TOKEN authenticates callers",
  )
  .action(async (opts: { data?: string; socket?: string }) => {
    const cfg = config({
      dataDir: opts.data,
      proxySocket: opts.socket,
      logLevel: process.env.HYPHA_LOG_LEVEL,
    });
    const { startCredentialProxy } = await import("../modules/credentials/credentials.proxy.ts");
    try {
      const proxy = await startCredentialProxy(cfg);
      const stop = async () => {
        await proxy.close();
        process.exit(0);
      };
      process.once("SIGINT", () => void stop());
      process.once("SIGTERM", () => void stop());
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`hypha: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  });

const tenant = program.command("tenant").description("manage tenants (runs on the data directory)");
tenant
  .command("create <name>")
  .addOption(dataOption())
  .action((name: string, opts: { data?: string }) =>
    embedded(opts, (app) => app.services.tenants.create(cliActor(), { name })),
  );
tenant
  .command("list")
  .addOption(dataOption())
  .option("--limit <n>", "page size", int, 200)
  .action((opts: { data?: string; limit: number }) =>
    embedded(opts, (app) => app.services.tenants.list(cliActor(), { limit: opts.limit })),
  );

const key = program.command("key").description("manage API keys (runs on the data directory)");
key
  .command("create")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--agent <name>", "agent identity the key acts as")
  .requiredOption("--scopes <list>", "comma-separated: memories:read,memories:write,tenant:admin", list)
  .option("--namespaces <list>", "restrict to these namespaces", list)
  .option("--expires-at <iso>", "expiry time (ISO 8601)")
  .option("--rate-limit <n>", "requests per minute", int)
  .addOption(dataOption())
  .action(
    (opts: {
      tenant: string;
      agent: string;
      scopes: string[];
      namespaces?: string[];
      expiresAt?: string;
      rateLimit?: number;
      data?: string;
    }) =>
      embedded(opts, async (app) => {
        const { createKeyBody } = await import("../modules/keys/keys.schemas.ts");
        const input = createKeyBody.parse({
          agent: opts.agent,
          scopes: opts.scopes,
          namespaces: opts.namespaces,
          expires_at: opts.expiresAt,
          rate_limit_per_minute: opts.rateLimit,
        });
        return app.services.keys.create(cliActor(), opts.tenant, input);
      }),
  );
key
  .command("list")
  .requiredOption("--tenant <id>", "tenant id")
  .addOption(dataOption())
  .action((opts: { tenant: string; data?: string }) =>
    embedded(opts, (app) => app.services.keys.list(cliActor(), opts.tenant, { limit: 200 })),
  );
key
  .command("revoke <keyId>")
  .requiredOption("--tenant <id>", "tenant id")
  .addOption(dataOption())
  .action((keyId: string, opts: { tenant: string; data?: string }) =>
    embedded(opts, (app) => app.services.keys.revoke(cliActor(), opts.tenant, keyId)),
  );

const user = program
  .command("user")
  .description("manage users (people) of a tenant (runs on the data directory)");
user
  .command("create <email>")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--roles <list>", "comma-separated: ADMIN,AUDIT_ADMIN,DEVELOPER,VIEWER", list)
  .option("--password-stdin", "read the password from standard input (never from an argument)")
  .addOption(dataOption())
  .action(
    async (
      email: string,
      opts: { tenant: string; roles: string[]; passwordStdin?: boolean; data?: string },
    ) => {
      const password = opts.passwordStdin ? readFileSync(0, "utf8").replace(/\r?\n$/, "") : undefined;
      const { createUserBody } = await import("../modules/identity/users.schemas.ts");
      const input = createUserBody.parse({ email, roles: opts.roles, ...(password ? { password } : {}) });
      return embedded(opts, (app) => app.services.users.create(cliActor(), opts.tenant, input));
    },
  );
user
  .command("list")
  .requiredOption("--tenant <id>", "tenant id")
  .addOption(dataOption())
  .action((opts: { tenant: string; data?: string }) =>
    embedded(opts, (app) => app.services.users.list(cliActor(), opts.tenant, { limit: 200 })),
  );
user
  .command("disable <userId>")
  .requiredOption("--tenant <id>", "tenant id")
  .addOption(dataOption())
  .action((userId: string, opts: { tenant: string; data?: string }) =>
    embedded(opts, (app) =>
      app.services.users.update(cliActor(), opts.tenant, userId, { status: "disabled" }),
    ),
  );
user
  .command("set-role <userId>")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--roles <list>", "comma-separated roles", list)
  .addOption(dataOption())
  .action(async (userId: string, opts: { tenant: string; roles: string[]; data?: string }) => {
    const { updateUserBody } = await import("../modules/identity/users.schemas.ts");
    const input = updateUserBody.parse({ roles: opts.roles });
    return embedded(opts, (app) => app.services.users.update(cliActor(), opts.tenant, userId, input));
  });
/** `24h`, `7d`, `30m` or an ISO time, as an ISO time. */
const sinceArg = (v: string): string => {
  const m = /^(\d{1,6})([mhd])$/.exec(v);
  if (m) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
    return new Date(Date.now() - Number(m[1]) * unit).toISOString();
  }
  if (Number.isNaN(Date.parse(v))) throw new InvalidArgumentError("give 24h, 7d, 30m or an ISO time");
  return new Date(Date.parse(v)).toISOString();
};

const audit = program
  .command("audit")
  .description("read, verify and prune the audit trail (runs on the data directory)");
audit
  .command("events", { isDefault: true })
  .description("list events, newest first")
  .option("--tenant <id>", "a tenant's chain (default: the instance chain)")
  .option("--suspicious", "only security-relevant events")
  .option("--since <when>", "24h, 7d, 30m or an ISO time", sinceArg)
  .option("--action <name>", "an action, or a prefix such as memory.*")
  .option("--limit <n>", "how many", int, 100)
  .addOption(dataOption())
  .action(
    (o: {
      tenant?: string;
      suspicious?: boolean;
      since?: string;
      action?: string;
      limit: number;
      data?: string;
    }) =>
      embedded(o, async (app) => {
        const { auditQuery } = await import("../modules/audit/audit.schemas.ts");
        const q = auditQuery.parse({
          tenant_id: o.tenant,
          suspicious: o.suspicious ? "true" : "false",
          since: o.since,
          action: o.action,
          limit: o.limit,
        });
        return app.services.audit.events(cliActor(), q);
      }),
  );
audit
  .command("verify")
  .description("verify a chain; exits 1 and names the first bad seq when it fails")
  .option("--tenant <id>", "a tenant's chain (default: the instance chain)")
  .addOption(dataOption())
  .action(async (o: { tenant?: string; data?: string }) => {
    let ok = true;
    await embedded(o, async (app) => {
      const result = await app.services.audit.verify(cliActor(), o.tenant);
      ok = result.ok;
      return result;
    });
    process.exitCode = ok ? 0 : 1;
  });
audit
  .command("retain")
  .description("drop events older than --before, leaving a signed anchor (itself audited)")
  .requiredOption("--before <when>", "90d, 24h or an ISO time", sinceArg)
  .option("--tenant <id>", "a tenant's chain (default: the instance chain)")
  .addOption(dataOption())
  .action((o: { before: string; tenant?: string; data?: string }) =>
    embedded(o, (app) =>
      app.services.trail.applyRetention(
        o.tenant ?? "instance",
        Date.parse(o.before),
        cliActor(),
        cliActor().origin,
      ),
    ),
  );

/**
 * The backup passphrase: HYPHA_BACKUP_PASSPHRASE, else typed at a terminal prompt (never an argument,
 * which other users can read in the process list). Backups refuse a weak one.
 */
async function backupPassphrase(opts: { check: boolean }): Promise<string> {
  let value = process.env.HYPHA_BACKUP_PASSPHRASE;
  if (!value && process.stdin.isTTY) {
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Typed characters are not echoed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
    process.stderr.write("backup passphrase: ");
    value = await rl.question("");
    rl.close();
    process.stderr.write("\n");
  }
  if (!value) {
    throw new ConfigError(
      "the keys need a passphrase: set HYPHA_BACKUP_PASSPHRASE or run on a terminal to type it",
    );
  }
  if (opts.check) {
    const strength = checkSecretStrength(value, 20);
    if (!strength.ok) throw new ConfigError(`HYPHA_BACKUP_PASSPHRASE is too weak: it ${strength.reason}`);
  }
  return value;
}

program
  .command("backup")
  .description(
    "write a consistent snapshot of the data directory while the server runs: every database, the audit files and a manifest of checksums",
  )
  .requiredOption("--out <file>", "archive to write (.tar.gz)")
  .option(
    "--include-keys",
    "also the secrets/ directory, sealed with a passphrase (HYPHA_BACKUP_PASSPHRASE or prompt)",
  )
  .addOption(dataOption())
  .action(async (o: { out: string; includeKeys?: boolean; data?: string }) => {
    const cfg = config({ dataDir: o.data, logLevel: "silent" });
    const { createBackup } = await import("../platform/backup.ts");
    const includeKeys = o.includeKeys === true;
    const passphrase = includeKeys ? await backupPassphrase({ check: true }) : undefined;
    const manifest = await createBackup({ dataDir: cfg.dataDir, out: o.out, includeKeys, passphrase });
    process.stdout.write(
      `${JSON.stringify({ out: o.out, created_at: manifest.created_at, databases: manifest.databases, files: manifest.files.length, keys_included: manifest.keys_included })}\n`,
    );
  });

program
  .command("restore")
  .description("check an archive against its manifest and restore it into an empty data directory")
  .requiredOption("--in <file>", "archive written by hypha backup")
  .requiredOption("--data <dir>", "empty (or new) data directory to restore into")
  .action(async (o: { in: string; data: string }) => {
    const { archiveHasKeys, BackupError, restoreBackup } = await import("../platform/backup.ts");
    const sealed = await archiveHasKeys(o.in);
    const passphrase = sealed ? await backupPassphrase({ check: false }) : undefined;
    try {
      const { manifest, keysRestored } = await restoreBackup({ archive: o.in, dataDir: o.data, passphrase });
      process.stdout.write(
        `${JSON.stringify({ data: o.data, created_at: manifest.created_at, files: manifest.files.length, keys_restored: keysRestored })}\n`,
      );
      if (!keysRestored) {
        process.stderr.write(
          "hypha: the archive holds no keys: put the secrets/ directory (or HYPHA_MASTER_KEY) of the backed-up instance in place before starting\n",
        );
      }
    } catch (err) {
      if (!(err instanceof BackupError)) throw err;
      process.stderr.write(`hypha: restore refused: ${err.message}\n`);
      process.exit(1);
    }
  });

const keys = program.command("keys").description("master key operations (runs on the data directory)");
keys
  .command("rotate-master")
  .description("add a master key version and re-wrap every tenant key under it, while the server runs")
  .option("--retire", "then drop master versions no tenant key uses (old backups stop unwrapping)")
  .addOption(dataOption())
  .action((o: { retire?: boolean; data?: string }) =>
    embedded(o, (app) => app.services.rotateMaster(cliActor(), { retire: o.retire === true })),
  );

const vaultCmd = program
  .command("vault")
  .description("plain-markdown export and import of a tenant's memories");
vaultCmd
  .command("export")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--out <dir>", "directory to write <memory id>.md files into")
  .addOption(dataOption())
  .action((o: { tenant: string; out: string; data?: string }) =>
    embedded(o, (app) => app.services.vaultFiles.exportTo(cliActor(), o.tenant, o.out)),
  );
vaultCmd
  .command("import")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--in <dir>", "directory of <memory id>.md files")
  .addOption(dataOption())
  .action((o: { tenant: string; in: string; data?: string }) =>
    embedded(o, (app) => app.services.vaultFiles.importFrom(cliActor(), o.tenant, o.in)),
  );
tenant
  .command("delete <tenantId>")
  .description("delete a tenant and crypto-shred its data key and vault")
  .addOption(dataOption())
  .action((tenantId: string, opts: { data?: string }) =>
    embedded(opts, (app) => app.services.tenants.remove(cliActor(), tenantId)),
  );

/** Memory commands talk to a running server with an agent key, like any agent would. */
const memory = program.command("memory").description("store, recall and export memories over HTTP");
const remote = (cmd: Command) =>
  cmd
    .option("--url <url>", "server URL (HYPHA_URL)", process.env.HYPHA_URL ?? "http://127.0.0.1:7411")
    .option("--key <key>", "agent key (HYPHA_KEY)");

/**
 * Runs `fn` with a typed client for the server at --url with the agent key from --key or
 * HYPHA_KEY, printing its result as JSON; an API error goes to stderr as its envelope (exit 1).
 */
async function call(opts: { url: string; key?: string }, fn: (client: HyphaClient) => Promise<unknown>) {
  const apiKey = opts.key ?? process.env.HYPHA_KEY;
  if (!apiKey) {
    process.stderr.write("hypha: give --key or set HYPHA_KEY\n");
    process.exit(2);
  }
  try {
    const result = await fn(createHyphaClient({ url: opts.url, key: apiKey }));
    if (result !== undefined) process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    if (!(err instanceof HyphaError)) throw err;
    const { code, message, requestId, details } = err;
    process.stderr.write(
      `${JSON.stringify({ error: { code, message, requestId, ...(details ? { details } : {}) } })}\n`,
    );
    process.exit(1);
  }
}

remote(
  memory
    .command("store <content>")
    .requiredOption("--namespace <ns>", "namespace")
    .option("--type <type>", "memory type", "note")
    .option("--tags <list>", "comma-separated tags", list)
    .option("--entities <list>", "comma-separated entities", list)
    .option("--ttl <seconds>", "time to live", int),
).action(
  (
    content: string,
    o: {
      url: string;
      key?: string;
      namespace: string;
      type: string;
      tags?: string[];
      entities?: string[];
      ttl?: number;
    },
  ) =>
    call(o, (client) =>
      client.storeMemory({
        namespace: o.namespace,
        content,
        type: o.type,
        ...(o.tags ? { tags: o.tags } : {}),
        ...(o.entities ? { entities: o.entities } : {}),
        ...(o.ttl ? { ttl_seconds: o.ttl } : {}),
      }),
    ),
);
remote(
  memory
    .command("recall <query>")
    .option("--namespaces <list>", "namespaces to search", list)
    .option("-k <n>", "how many results", int, 10)
    .option("--budget <tokens>", "token budget of the context block", int, 2000),
).action(
  (query: string, o: { url: string; key?: string; namespaces?: string[]; k: number; budget: number }) =>
    call(o, (client) =>
      client.recallMemories({
        query,
        k: o.k,
        token_budget: o.budget,
        ...(o.namespaces ? { namespaces: o.namespaces } : {}),
      }),
    ),
);
remote(
  memory
    .command("export")
    .option("--namespace <ns>", "only this namespace")
    .option("--cursor <id>", "resume after this memory id")
    .option("--history", "include every version"),
).action((o: { url: string; key?: string; namespace?: string; cursor?: string; history?: boolean }) =>
  call(o, async (client) => {
    const lines = client.exportMemories({
      ...(o.namespace ? { namespace: o.namespace } : {}),
      ...(o.cursor ? { cursor: o.cursor } : {}),
      includeHistory: o.history === true,
    });
    for await (const m of lines) process.stdout.write(`${JSON.stringify(m)}\n`);
  }),
);

program
  .command("mcp")
  .description(
    "MCP server on stdio for desktop clients: a bridge to a running server (--url, --key), " +
      "or embedded on a data directory for one local user (--data)",
  )
  .option("--url <url>", "bridge to this server (HYPHA_URL)")
  .option("--key <key>", "agent key for the bridge (HYPHA_KEY)")
  .addOption(dataOption())
  .option("--tenant-name <name>", "embedded: the local tenant, created on first use", "local")
  .option("--agent <name>", "embedded: the agent name the local key acts as", "local-user")
  .action(async (o: { url?: string; key?: string; data?: string; tenantName: string; agent: string }) => {
    const { serveStdioBridge, serveStdioEmbedded } = await import("./mcp.ts");
    const url = o.url ?? process.env.HYPHA_URL;
    if (url && o.data) {
      process.stderr.write("hypha: give --url (bridge) or --data (embedded), not both\n");
      process.exit(2);
    }
    if (url) {
      const apiKey = o.key ?? process.env.HYPHA_KEY;
      if (!apiKey) {
        process.stderr.write("hypha: the bridge needs --key or HYPHA_KEY\n");
        process.exit(2);
      }
      return serveStdioBridge({ url, key: apiKey });
    }
    return serveStdioEmbedded({
      config: config({ dataDir: o.data, logLevel: "warn" }),
      tenantName: o.tenantName,
      agent: o.agent,
    });
  });

program
  .command("doctor")
  .description("check the data directory, its permissions and the configuration")
  .addOption(dataOption())
  .action(async (opts: { data?: string }) => {
    const problems: string[] = [];
    const ok: string[] = [];
    const [major] = process.versions.node.split(".").map(Number);
    ((major ?? 0) >= 24 ? ok : problems).push(`Node.js ${process.versions.node} (24 or newer needed)`);
    let cfg: Config | null = null;
    try {
      cfg = loadConfig(process.env, { dataDir: opts.data });
      ok.push("configuration parses");
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    if (cfg) {
      const check = (path: string, want: number, what: string) => {
        try {
          const mode = statSync(path).mode & 0o777;
          (mode & ~want ? problems : ok).push(
            `${what} ${path} mode ${mode.toString(8)} (want ${want.toString(8)})`,
          );
        } catch {
          problems.push(`${what} ${path} is missing (start the server once to create it)`);
        }
      };
      check(cfg.dataDir, 0o700, "data directory");
      check(safeJoin(cfg.dataDir, "secrets"), 0o700, "secrets directory");
      if (!cfg.adminKey) check(safeJoin(cfg.dataDir, "secrets", "admin-key.sha256"), 0o600, "admin key hash");
      try {
        if (!cfg.databaseUrl) readFileSync(safeJoin(cfg.dataDir, "control.db"));
        const app = await createApp({ config: { ...cfg, logLevel: "silent" } });
        ((await app.storage.ready()) ? ok : problems).push(
          `${cfg.databaseUrl ? "PostgreSQL" : "control"} database answers with every migration applied`,
        );
        await app.close();
      } catch (err) {
        problems.push(`control database: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const line of ok) process.stdout.write(`ok    ${line}\n`);
    for (const line of problems) process.stdout.write(`FAIL  ${line}\n`);
    process.exit(problems.length ? 1 : 0);
  });

registerConnectorCommands(program, { embedded, actor: cliActor, dataOption });

const adminKeyCmd = program
  .command("admin-key")
  .description("the instance admin key (runs on the data directory)");
adminKeyCmd
  .command("reset")
  .description(
    "replace the stored admin key: with HYPHA_ADMIN_KEY set, by that key; else by a new one printed once " +
      "(the recovery path for a lost key; audited in the instance chain)",
  )
  .addOption(dataOption())
  .action(async (o: { data?: string }) => {
    const cfg = config({ dataDir: o.data, logLevel: "silent" });
    const replacement = cfg.adminKey ?? generateSecret(KEY_PREFIX.admin);
    // Opened with the stored key: the one being replaced must not stop this command.
    const app = await createApp({ config: { ...cfg, adminKey: undefined } });
    try {
      const actor = cliActor();
      await app.storage.control.transaction(async (tx) => {
        await app.services.trail.append(
          tx,
          {
            tenantId: null,
            actor: { type: actor.type, id: actor.id },
            action: "admin_key.replaced",
            origin: actor.origin,
            details: { source: cfg.adminKey ? "HYPHA_ADMIN_KEY" : "generated" },
          },
          Date.now(),
        );
        storeAdminKey(safeJoin(cfg.dataDir, "secrets"), replacement);
      });
    } finally {
      await app.close();
    }
    process.stdout.write(
      cfg.adminKey
        ? "The stored admin key is now HYPHA_ADMIN_KEY (only its hash is stored). Restart the server.\n"
        : `New instance admin key (shown once; only its hash is stored). Restart the server.\n\n  ${replacement}\n\n`,
    );
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Start-up problems the operator can fix are one line naming the setting; the rest keep their trace.
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`hypha: ${err.message}\n`);
  process.exit(2);
}
