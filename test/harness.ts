import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Writable } from "node:stream";
import pg from "pg";
import { createApp, type HyphaApp } from "../src/app.ts";
import { manualClock } from "../src/lib/clock.ts";
import { type Config, loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { type FreshDatabase, freshDatabase, TEST_DATABASE_URL } from "./pg.ts";

export type Res = { status: number; headers: Headers; body: unknown; text: string };
export type Req = {
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
};

/** Captures every log line the server writes, for assertions on what never reaches a log. */
export function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

/**
 * A real server on 127.0.0.1 with its own data directory, a manual clock and a known admin key.
 * Requests go through real HTTP (fetch), the store is a real SQLite file, or a fresh PostgreSQL
 * database of its own when HYPHA_TEST_DATABASE_URL is set.
 */
export async function startServer(overrides: Partial<Record<keyof Config, unknown>> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-test-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const clock = manualClock(Date.parse("2026-06-01T12:00:00Z"));
  const logs = logSink();
  const database: FreshDatabase | null = TEST_DATABASE_URL ? await freshDatabase() : null;
  const dbConfig = database ? { databaseUrl: database.url, databaseMigrationUrl: database.migrationUrl } : {};
  // Shedding on event-loop delay and on the queue's age has tests of its own (admission.test.ts,
  // overload.test.ts); a shared CI machine's stalls must not turn into 503s in unrelated tests, so
  // the queue may be older than the default before it counts as overload.
  const config = loadConfig(
    {},
    {
      dataDir,
      adminKey,
      logLevel: "info",
      port: 0,
      overloadEventLoopDelayMs: 0,
      overloadQueueMs: 2000,
      ...dbConfig,
      ...overrides,
    },
  );
  const hypha: HyphaApp = await createApp({ config, clock, logDestination: logs.stream });
  const address = await hypha.app.listen({ host: "127.0.0.1", port: 0 });

  async function request(method: string, path: string, req: Req = {}): Promise<Res> {
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    const key = req.key === undefined ? adminKey : req.key;
    if (key !== null && headers.authorization === undefined) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (req.rawBody !== undefined) body = req.rawBody;
    else if (req.body !== undefined) body = JSON.stringify(req.body);
    if (body !== undefined && headers["content-type"] === undefined)
      headers["content-type"] = "application/json";
    const res = await fetch(address + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (NDJSON, HTML, metrics)
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  async function createTenant(name = `t-${Math.random().toString(36).slice(2, 10)}`): Promise<string> {
    const res = await request("POST", "/v1/tenants", { body: { name } });
    if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${res.text}`);
    return (res.body as { id: string }).id;
  }

  async function createKey(
    tenantId: string,
    body: Record<string, unknown> = {},
  ): Promise<{ id: string; key: string }> {
    const res = await request("POST", `/v1/tenants/${tenantId}/keys`, {
      body: { agent: "agent-1", scopes: ["memories:read", "memories:write"], ...body },
    });
    if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${res.text}`);
    return res.body as { id: string; key: string };
  }

  /** Creates a user (as the instance admin) and returns its id. */
  async function createUser(
    tenantId: string,
    body: { email?: string; password?: string; roles?: string[] } = {},
  ): Promise<string> {
    const res = await request("POST", `/v1/tenants/${tenantId}/users`, {
      body: { email: `u-${Math.random().toString(36).slice(2, 10)}@example.com`, roles: ["VIEWER"], ...body },
    });
    if (res.status !== 201) throw new Error(`user create failed: ${res.status} ${res.text}`);
    return (res.body as { id: string }).id;
  }

  /** A fresh tenant with a read-write agent key. */
  async function seedTenant() {
    const tenantId = await createTenant();
    const { key, id: keyId } = await createKey(tenantId);
    return { tenantId, key, keyId };
  }

  async function storeMemory(key: string, memory: Record<string, unknown>) {
    const res = await request("POST", "/v1/memories", { key, body: { namespace: "default", ...memory } });
    if (res.status !== 201) throw new Error(`store failed: ${res.status} ${res.text}`);
    return res.body as { id: string; version: number; content: string };
  }

  /**
   * Edits the audit tables the way an attacker with storage access would, triggers off: on SQLite
   * with its own connection to the file, on PostgreSQL as the owner role (row-level security still
   * scopes it to the tenant). `tenantId` null is the instance chain.
   */
  async function tamper(tenantId: string | null, sql: string): Promise<void> {
    if (!database) {
      const path = tenantId ? join(dataDir, "vaults", tenantId, "vault.db") : join(dataDir, "control.db");
      const db = new DatabaseSync(path);
      try {
        db.exec(
          "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;",
        );
        db.exec(sql);
      } finally {
        db.close();
      }
      return;
    }
    const c = new pg.Client({ connectionString: database.migrationUrl });
    await c.connect();
    try {
      await c.query(`SET search_path = ${tenantId ? "hypha_tenant" : "hypha_control"}`);
      await c.query("BEGIN");
      if (tenantId) await c.query("SELECT set_config('hypha.tenant_id', $1, true)", [tenantId]);
      await c.query("ALTER TABLE audit_events DISABLE TRIGGER USER");
      await c.query(sql);
      await c.query("ALTER TABLE audit_events ENABLE TRIGGER USER");
      await c.query("COMMIT");
    } finally {
      await c.end();
    }
  }

  /** Runs DDL on a tenant's tables with the rights of their owner (the vault file, or the owner role). */
  async function asOwner(tenantId: string, sql: string): Promise<void> {
    if (!database) {
      await (await hypha.storage.tenant(tenantId)).run(sql);
      return;
    }
    const c = new pg.Client({ connectionString: database.migrationUrl });
    await c.connect();
    try {
      await c.query("SET search_path = hypha_tenant");
      await c.query(sql);
    } finally {
      await c.end();
    }
  }

  return {
    url: address,
    asOwner,
    dataDir,
    /** The fresh PostgreSQL database of this server, or null on SQLite. */
    database,
    /** Config overrides that open this server's store again (a second process or gateway). */
    storageConfig: dbConfig,
    tamper,
    adminKey,
    clock,
    logs: logs.lines,
    hypha,
    request,
    createTenant,
    createKey,
    createUser,
    seedTenant,
    storeMemory,
    async close() {
      await hypha.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type TestServer = Awaited<ReturnType<typeof startServer>>;

export function errorCode(res: Res): string | undefined {
  return (res.body as { error?: { code?: string } } | null)?.error?.code;
}
