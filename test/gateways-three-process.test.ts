import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import pg from "pg";
import { MIGRATIONS } from "../src/app.ts";
import { systemClock } from "../src/lib/clock.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { INSTANCE_CHAIN, openTenantKeys } from "../src/modules/tenant-keys/tenant-keys.service.ts";
import { openPostgresStorage } from "../src/platform/storage/postgres.ts";
import { PASSWORD } from "./identity-helpers.ts";
import { type FreshDatabase, freshDatabase, TEST_DATABASE_URL } from "./pg.ts";
import { type Served, serveProcess } from "./serve-process.ts";

/**
 * Three real `hypha serve` processes over one PostgreSQL database and one Redis, as the README's
 * "Scale out" section prescribes: each gateway has its own data directory and the same secrets
 * (master key, credential key, admin key, audit checkpoint key), database URL, Redis URL and prefix.
 * The in-process pairs in test/redis.test.ts and test/postgres-gateways.test.ts test the parts; this
 * file tests the whole topology through HTTP only.
 */

const GITHUB_SECRET = "gh-secret-0123456789abcdef";
const REDIS_URL = process.env.HYPHA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

async function redisAnswers(): Promise<boolean> {
  const r = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on("error", () => {});
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

const skip = !TEST_DATABASE_URL
  ? "HYPHA_TEST_DATABASE_URL is not set"
  : (await redisAnswers())
    ? false
    : `Redis at ${REDIS_URL} does not answer (set HYPHA_TEST_REDIS_URL)`;

type Gateway = { name: string; dataDir: string; served: Served; url: string; dead: boolean };
type Res = { status: number; text: string; body: unknown };
type Call = { key?: string | null; body?: unknown; headers?: Record<string, string> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it holds, sending no probe later than `ms` after the call. Returns when the
 * probe that held was sent (milliseconds after the call), or null: the state had changed by then.
 * Measured at the send, so a slow answer on a loaded machine does not count against the gateway.
 */
async function within(ms: number, check: () => Promise<boolean>): Promise<number | null> {
  const started = Date.now();
  for (;;) {
    const sent = Date.now() - started;
    if (sent > ms) return null;
    if (await check()) return sent;
    await sleep(10);
  }
}

const eventually = async (ms: number, check: () => Promise<boolean>) => (await within(ms, check)) !== null;

function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill(signal);
  });
}

/** A gateway's error log lines (pino level 50 and above), for failure messages. */
const errorLines = (gw: Gateway) =>
  gw.served
    .output()
    .split("\n")
    .filter((l) => /"level":(5|6)\d/.test(l))
    .map((l) => l.slice(0, 3000));

const errorCode = (res: Res) => (res.body as { error?: { code?: string } } | null)?.error?.code;

describe("three hypha serve processes on one PostgreSQL database and one Redis", { skip }, () => {
  let root = "";
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const prefix = `hypha-test-3gw:${randomUUID()}:`;
  const secrets = {
    HYPHA_ADMIN_KEY: adminKey,
    HYPHA_MASTER_KEY: randomBytes(32).toString("base64"),
    HYPHA_CREDENTIAL_KEY: randomBytes(32).toString("base64"),
  };
  const checkpointKey = `${randomBytes(32).toString("base64")}\n`;
  let db: FreshDatabase | null = null;
  let A: Gateway;
  let B: Gateway;
  let C: Gateway;
  let all: Gateway[] = [];
  /** Writes C acknowledged before it was killed whose outbound notice was never queued (load test). */
  let lostNotices: { id: string; gw: string }[] | null = null;

  async function call(gw: Gateway, method: string, path: string, opts: Call = {}): Promise<Res> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(gw.url + path, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, text, body };
  }

  async function seedTenant(gw: Gateway, keyBody: Record<string, unknown> = {}) {
    const t = await call(gw, "POST", "/v1/tenants", { body: { name: `t-${randomUUID().slice(0, 8)}` } });
    assert.equal(t.status, 201, t.text);
    const tenantId = (t.body as { id: string }).id;
    const k = await call(gw, "POST", `/v1/tenants/${tenantId}/keys`, {
      body: { agent: "agent-1", scopes: ["memories:read", "memories:write"], ...keyBody },
    });
    assert.equal(k.status, 201, k.text);
    const { id: keyId, key } = k.body as { id: string; key: string };
    return { tenantId, key, keyId };
  }

  async function store(gw: Gateway, key: string, content: string, namespace = "default") {
    const res = await call(gw, "POST", "/v1/memories", { key, body: { namespace, content } });
    assert.equal(res.status, 201, `${gw.name}: ${res.text}`);
    return res.body as { id: string; content: string };
  }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "hypha-test-3gw-"));
    db = await freshDatabase();
    const env = (dataDir: string): Record<string, string> => ({
      HOME: process.env.HOME ?? root,
      HYPHA_DATA_DIR: dataDir,
      HYPHA_DATABASE_URL: db?.url ?? "",
      HYPHA_DATABASE_MIGRATION_URL: db?.migrationUrl ?? "",
      HYPHA_REDIS_URL: REDIS_URL,
      HYPHA_REDIS_PREFIX: prefix,
      // The load test must not meet the default rate plan (600 a minute per key).
      HYPHA_RATE_LIMIT_PER_MINUTE: "100000",
      HYPHA_SHUTDOWN_TIMEOUT_SECONDS: "5",
      // The outbound webhook receiver of the load test listens on loopback.
      HYPHA_EGRESS_ALLOW: "127.0.0.1",
      ...secrets,
    });
    const names = ["a", "b", "c"];
    const dirs = names.map((name) => {
      const dataDir = join(root, name);
      // The audit checkpoint key is one of the secrets every gateway shares (a mounted file).
      mkdirSync(join(dataDir, "secrets"), { recursive: true, mode: 0o700 });
      writeFileSync(join(dataDir, "secrets", "audit-checkpoint.key"), checkpointKey, { mode: 0o600 });
      return dataDir;
    });
    // Started together: the migrations run once, under PostgreSQL's advisory lock.
    const started = await Promise.allSettled(
      dirs.map((dataDir) => serveProcess(env(dataDir), [process.execPath, "bin/hypha.js"])),
    );
    const failed = started.flatMap((s, i) =>
      s.status === "rejected" ? [`gateway ${names[i]}: ${(s.reason as Error).message}`] : [],
    );
    if (failed.length > 0) {
      for (const s of started) if (s.status === "fulfilled") await stop(s.value.child);
      assert.fail(`a gateway did not start:\n${failed.join("\n")}`);
    }
    all = started.map((s, i) => {
      const served = (s as PromiseFulfilledResult<Served>).value;
      return { name: names[i] ?? "", dataDir: dirs[i] ?? "", served, url: served.url, dead: false };
    });
    [A, B, C] = all as [Gateway, Gateway, Gateway];
    // Ready means the store and Redis both answer (the invalidation subscriber is up).
    for (const gw of all) {
      const ready = await within(15_000, async () => {
        const r = await call(gw, "GET", "/health/ready", { key: null });
        return r.status === 200 && (r.body as { status?: string }).status === "ok";
      });
      assert.ok(ready !== null, `gateway ${gw.name} never became ready:\n${gw.served.output()}`);
    }
  });

  after(async () => {
    await Promise.all(all.map((gw) => stop(gw.served.child)));
    await db?.drop();
    const redis = new Redis(REDIS_URL);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    redis.disconnect();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("a memory written on A is read and recalled on B and C", async () => {
    const { key } = await seedTenant(A);
    const m = await store(A, key, "the quartz gateway handshake happens at dawn");
    for (const gw of [B, C]) {
      const read = await call(gw, "GET", `/v1/memories/${m.id}`, { key });
      assert.equal(read.status, 200, `${gw.name}: ${read.text}`);
      assert.equal((read.body as { content: string }).content, m.content);
      const recall = await call(gw, "POST", "/v1/memories/recall", {
        key,
        body: { query: "quartz handshake" },
      });
      assert.equal(recall.status, 200, recall.text);
      const results = (recall.body as { results: { memory: { id: string } }[] }).results;
      assert.equal(results[0]?.memory.id, m.id, `${gw.name} recalls it first`);
    }
  });

  test("recall on B and C follows writes made on A after their index lists were built", async () => {
    const { key } = await seedTenant(A);
    await store(A, key, "the amber lighthouse log opens the season");
    const ids = async (gw: Gateway, query: string) => {
      const r = await call(gw, "POST", "/v1/memories/recall", { key, body: { query } });
      assert.equal(r.status, 200, r.text);
      return (r.body as { results: { memory: { id: string } }[] }).results.map((x) => x.memory.id);
    };
    // B and C build their lists now; what A writes next reaches them only through the tenant's log.
    for (const gw of [B, C]) assert.equal((await ids(gw, "amber lighthouse")).length, 1, gw.name);
    const m = await store(A, key, "the cobalt lighthouse keeper retires in spring");
    // First by its own words (the older memory may follow it through recall's feedback terms).
    for (const gw of [B, C]) assert.equal((await ids(gw, "cobalt keeper"))[0], m.id, gw.name);
    assert.equal((await call(A, "DELETE", `/v1/memories/${m.id}`, { key })).status, 200);
    for (const gw of [B, C]) assert.deepEqual(await ids(gw, "cobalt keeper"), [], gw.name);
  });

  test("a key revoked on A is refused (401) on B and C within a second", async () => {
    const { tenantId, key, keyId } = await seedTenant(A);
    for (const gw of [B, C]) {
      assert.equal((await call(gw, "GET", "/v1/memories?limit=1", { key })).status, 200, gw.name);
    }
    const revoked = await call(A, "DELETE", `/v1/tenants/${tenantId}/keys/${keyId}`);
    assert.equal(revoked.status, 200, revoked.text);
    // B and C are polled at once, each from the moment A acknowledged.
    const took = await Promise.all(
      [B, C].map((gw) =>
        within(1000, async () => (await call(gw, "GET", "/v1/memories?limit=1", { key })).status === 401),
      ),
    );
    assert.ok(took[0] !== null, "b still serves the revoked key after a second");
    assert.ok(took[1] !== null, "c still serves the revoked key after a second");
  });

  test("a kill switch set on A freezes the agent on B and C, and only that agent", async () => {
    const { tenantId, key } = await seedTenant(A);
    const other = await call(A, "POST", `/v1/tenants/${tenantId}/keys`, {
      body: { agent: "agent-2", scopes: ["memories:read"] },
    });
    assert.equal(other.status, 201, other.text);
    const otherKey = (other.body as { key: string }).key;
    for (const gw of [B, C]) {
      assert.equal((await call(gw, "GET", "/v1/memories?limit=1", { key })).status, 200, gw.name);
    }
    const freeze = await call(A, "PUT", "/admin/override", {
      body: { scope: "agent", tenant_id: tenantId, agent: "agent-1", frozen: true, reason: "incident 42" },
    });
    assert.equal(freeze.status, 200, freeze.text);
    const took = await Promise.all(
      [B, C].map((gw) =>
        within(1000, async () => {
          const r = await call(gw, "GET", "/v1/memories?limit=1", { key });
          return r.status === 423 && errorCode(r) === "AGENT_FROZEN";
        }),
      ),
    );
    assert.ok(took[0] !== null, "b still serves the frozen agent after a second");
    assert.ok(took[1] !== null, "c still serves the frozen agent after a second");
    for (const gw of [B, C]) {
      const write = await call(gw, "POST", "/v1/memories", { key, body: { namespace: "n", content: "x" } });
      assert.equal(write.status, 423, `${gw.name}: ${write.text}`);
      const unfrozen = await call(gw, "GET", "/v1/memories?limit=1", { key: otherKey });
      assert.equal(unfrozen.status, 200, `${gw.name}: another agent of the tenant is not frozen`);
    }
  });

  test("three failed sign-ins spread over A, B and C lock the account on every gateway", async () => {
    const t = await call(A, "POST", "/v1/tenants", { body: { name: `t-${randomUUID().slice(0, 8)}` } });
    const tenantId = (t.body as { id: string }).id;
    const email = `l-${randomUUID().slice(0, 8)}@example.com`;
    const user = await call(A, "POST", `/v1/tenants/${tenantId}/users`, {
      body: { email, password: PASSWORD, roles: ["VIEWER"] },
    });
    assert.equal(user.status, 201, user.text);
    const login = (gw: Gateway, password: string) =>
      call(gw, "POST", "/v1/auth/login", { key: null, body: { tenant_id: tenantId, email, password } });
    assert.equal((await login(C, PASSWORD)).status, 200, "the password is right");
    for (const gw of [A, B, C]) {
      const r = await login(gw, "not the password at all");
      assert.equal(r.status, 401, `${gw.name}: ${r.text}`);
    }
    for (const gw of [A, B, C]) {
      const r = await login(gw, PASSWORD);
      assert.equal(r.status, 423, `${gw.name} lets the right password in: ${r.text}`);
      assert.equal(errorCode(r), "LOCKED");
    }
  });

  test("a key's rate plan holds across gateways: 60 a minute in all, not per gateway", async () => {
    const { key } = await seedTenant(A, { rate_limit_per_minute: 60 });
    const statuses: { gw: string; status: number }[] = [];
    for (let i = 0; i < 66; i++) {
      const gw = all[i % 3] as Gateway;
      statuses.push({ gw: gw.name, status: (await call(gw, "GET", "/v1/memories?limit=1", { key })).status });
    }
    assert.equal(statuses.filter((s) => s.status === 200).length, 60, JSON.stringify(statuses));
    const refused = statuses.slice(60);
    assert.deepEqual(
      refused.map((s) => s.status),
      [429, 429, 429, 429, 429, 429],
    );
    assert.deepEqual([...new Set(refused.map((s) => s.gw))].sort(), ["a", "b", "c"], "each gateway refuses");
  });

  /** Opens a tenant stream on a gateway and collects its text until `close()`. */
  function sse(gw: Gateway, tenantId: string, lastEventId?: string) {
    const ctrl = new AbortController();
    const state = { text: "", status: 0 };
    const opened = fetch(`${gw.url}/admin/stream/${tenantId}`, {
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(lastEventId ? { "last-event-id": lastEventId } : {}),
      },
      signal: ctrl.signal,
    });
    const pump = (async () => {
      const res = await opened;
      state.status = res.status;
      const reader = res.body?.getReader();
      if (!reader) return;
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        state.text += dec.decode(value, { stream: true });
      }
    })().catch(() => {});
    const events = () =>
      [...state.text.matchAll(/^id: (\d+)\nevent: ([^\n]+)\ndata: ([^\n]*)\n\n/gm)].map((m) => ({
        id: Number(m[1]),
        type: m[2] ?? "",
        data: JSON.parse(m[3] ?? "{}") as { ids?: string[] },
      }));
    return {
      state,
      events,
      async close() {
        ctrl.abort();
        await pump;
      },
    };
  }

  test("an SSE client on A sees events caused on B, then resumes with Last-Event-ID on C without gaps or repeats", async () => {
    const { tenantId, key } = await seedTenant(A);
    const written: string[] = [];
    const first = sse(A, tenantId);
    assert.ok(
      await eventually(5000, async () => first.state.text.includes(": connected")),
      "stream on A opened",
    );
    assert.equal(first.state.status, 200);
    for (let i = 0; i < 3; i++) written.push((await store(B, key, `stream note ${i} from b`)).id);
    assert.ok(
      await eventually(5000, async () => first.events().length >= 3),
      `A saw B's events: ${first.state.text}`,
    );
    await first.close();
    const seen = first.events();
    // Written while no client listens, on B and on C.
    for (let i = 3; i < 6; i++)
      written.push((await store(i % 2 ? B : C, key, `stream note ${i} offline`)).id);
    const last = seen.at(-1)?.id;
    assert.ok(last !== undefined);
    const second = sse(C, tenantId, String(last));
    assert.ok(
      await eventually(5000, async () => second.state.text.includes(": connected")),
      "stream on C opened",
    );
    for (let i = 6; i < 8; i++) written.push((await store(A, key, `stream note ${i} live`)).id);
    assert.ok(
      await eventually(
        5000,
        async () => second.events().filter((e) => e.type === "memory.created").length >= 5,
      ),
      `C caught up and follows: ${second.state.text}`,
    );
    await sleep(100);
    await second.close();
    const ids = [...seen, ...second.events()].map((e) => e.id);
    for (let i = 1; i < ids.length; i++) {
      assert.equal(ids[i], (ids[i - 1] ?? 0) + 1, `no gap and no repeat: ${ids.join(",")}`);
    }
    const memoryIds = [...seen, ...second.events()]
      .filter((e) => e.type === "memory.created")
      .flatMap((e) => e.data.ids ?? []);
    assert.deepEqual(memoryIds.sort(), [...written].sort(), "every write announced once");
  });

  test("a tenant deleted on A cannot be read on B and C within a second, announced once", async () => {
    const { tenantId, key } = await seedTenant(A);
    await store(A, key, "soon crypto-shredded lighthouse log");
    for (const gw of [B, C]) {
      const r = await call(gw, "POST", "/v1/memories/recall", {
        key,
        body: { query: "shredded lighthouse" },
      });
      assert.ok(r.text.includes("soon crypto-shredded"), `${gw.name} has the tenant cached: ${r.text}`);
    }
    // What the gateways tell each other about this tenant: B and C must not announce it again.
    const listener = new Redis(REDIS_URL);
    const heard: string[] = [];
    listener.on("message", (_channel: string, message: string) => {
      if (message.includes(tenantId)) heard.push((JSON.parse(message) as { t: string }).t);
    });
    await listener.subscribe(`${prefix}invalidate`);
    try {
      const deleted = await call(A, "DELETE", `/v1/tenants/${tenantId}`);
      assert.equal(deleted.status, 200, deleted.text);
      const last: Record<string, Res> = {};
      const took = await Promise.all(
        [B, C].map((gw) =>
          within(1000, async () => {
            const r = await call(gw, "POST", "/v1/memories/recall", {
              key,
              body: { query: "shredded lighthouse" },
            });
            last[gw.name] = r;
            return r.status >= 400 && !r.text.includes("soon crypto-shredded");
          }),
        ),
      );
      assert.ok(took[0] !== null, `b still serves the deleted tenant: ${last.b?.text}`);
      assert.ok(took[1] !== null, `c still serves the deleted tenant: ${last.c?.text}`);
      for (const gw of [B, C]) {
        assert.equal((await call(gw, "GET", `/v1/tenants/${tenantId}`)).status, 404, gw.name);
      }
      await sleep(300);
      assert.equal(
        heard.filter((t) => t === "tenant.deleted").length,
        1,
        `one announcement, not an echo between gateways (${heard.length} messages)`,
      );
    } finally {
      listener.disconnect();
    }
  });

  /** A tenant's inbox and outbound queue as stored (read as the owner role, scoped to the tenant). */
  async function queues(tenantId: string) {
    const c = new pg.Client({ connectionString: db?.migrationUrl });
    await c.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT set_config('hypha.tenant_id', $1, true)", [tenantId]);
      type Row = {
        id: string;
        status: string;
        next_attempt_at: string;
        attempts: number;
        last_error: string | null;
      };
      const inbox = await c.query<Row & { delivery_id: string }>(
        "SELECT id, delivery_id, status, next_attempt_at, attempts, last_error FROM hypha_tenant.webhook_deliveries",
      );
      const outbound = await c.query<Row & { payload: string }>(
        "SELECT id, status, next_attempt_at, attempts, last_error, payload FROM hypha_tenant.outbound_deliveries",
      );
      await c.query("COMMIT");
      return { inbox: inbox.rows, outbound: outbound.rows };
    } finally {
      await c.end();
    }
  }

  async function listAll(gw: Gateway, key: string, namespace: string) {
    const items: { id: string; content: string; metadata: Record<string, unknown> }[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        gw,
        "GET",
        `/v1/memories?namespace=${namespace}&limit=200${cursor ? `&cursor=${cursor}` : ""}`,
        { key },
      );
      assert.equal(page.status, 200, page.text);
      const body = page.body as { items: typeof items; next_cursor: string | null };
      items.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    return items;
  }

  const githubIssue = (n: number) =>
    JSON.stringify({
      action: "opened",
      issue: {
        number: n,
        title: `Issue ${n}`,
        body: "details",
        user: { login: "octo" },
        html_url: `https://x/${n}`,
      },
      repository: { full_name: "acme/app" },
      sender: { login: "octo" },
    });

  // Last: it kills gateway C.
  test("1,000 concurrent writes over the three gateways, C killed mid-load: every acknowledged write is there once, the audit chains verify, inbox deliveries are processed once and notices sent once", async (t) => {
    const { tenantId, key } = await seedTenant(A);
    const policy = await call(A, "PUT", `/v1/tenants/${tenantId}/policy`, {
      body: { anomaly: { enforce: false } },
    });
    assert.equal(policy.status, 200, policy.text);
    // Outbound: every memory.created of the tenant is posted to this receiver.
    const received: { delivery: string; ids: string[] }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => {
        body += d.toString();
      });
      req.on("end", () => {
        const payload = JSON.parse(body) as { data: { ids?: string[] } };
        received.push({ delivery: String(req.headers["x-hypha-delivery"]), ids: payload.data.ids ?? [] });
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
    t.after(() => {
      receiver.closeAllConnections();
      return new Promise<void>((ok) => receiver.close(() => ok()));
    });
    const hook = await call(A, "POST", `/v1/tenants/${tenantId}/webhooks`, {
      body: {
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        events: ["memory.created"],
      },
    });
    assert.equal(hook.status, 201, hook.text);
    // Inbox: signed GitHub deliveries, accepted by any gateway, processed by whichever claims them.
    const connector = await call(A, "POST", `/v1/tenants/${tenantId}/connectors`, {
      body: { name: "gh", config: { source: "github", secret: GITHUB_SECRET, mapping: { namespace: "gh" } } },
    });
    assert.equal(connector.status, 201, connector.text);
    const ingestPath = (connector.body as { ingest_path: string }).ingest_path;

    const total = 1000;
    const deliveries = 200;
    const inFlight = 32;
    const acked = new Map<string, { id: string; gw: string }>(); // content → memory
    const accepted = new Set<string>(); // delivery ids answered 202
    const failed: { n: number; gw: string; why: string }[] = [];
    let next = 0;
    let killedAt: number | null = null;
    const content = (n: number) => `load write ${n} of the three gateway run`;
    // Like the typed client, a request shed with 503 OVERLOADED (nothing written) is sent again after
    // a pause: two cores serving three gateways and this load are overloaded at times.
    const send = async (gw: Gateway, n: number): Promise<void> => {
      for (;;) {
        const shed = await sendOnce(gw, n);
        if (!shed) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const sendOnce = async (gw: Gateway, n: number): Promise<boolean> => {
      if (n % 6 === 5 && n / 6 < deliveries) {
        const body = githubIssue(n);
        const r = await fetch(gw.url + ingestPath, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "issues",
            "x-github-delivery": `d-${n}`,
            "x-hub-signature-256": `sha256=${createHmac("sha256", GITHUB_SECRET).update(body).digest("hex")}`,
          },
          body,
        });
        const text = await r.text();
        if (r.status === 503) return true;
        if (r.status === 202) accepted.add(`d-${n}`);
        else failed.push({ n, gw: gw.name, why: `ingest ${r.status} ${text.slice(0, 200)}` });
        return false;
      }
      const r = await call(gw, "POST", "/v1/memories", {
        key,
        body: { namespace: "load", content: content(n) },
      });
      if (r.status === 503) return true;
      if (r.status === 201) acked.set(content(n), { id: (r.body as { id: string }).id, gw: gw.name });
      else failed.push({ n, gw: gw.name, why: `${r.status} ${r.text.slice(0, 200)}` });
      return false;
    };
    const jobs = total + deliveries;
    const worker = async () => {
      for (;;) {
        const n = next++;
        if (n >= jobs) return;
        const live = all.filter((gw) => !gw.dead);
        const gw = live[n % live.length] as Gateway;
        try {
          await send(gw, n);
        } catch (err) {
          failed.push({ n, gw: gw.name, why: String((err as Error).cause ?? err) });
        }
        if (killedAt === null && acked.size >= 300) {
          killedAt = acked.size;
          C.dead = true;
          C.served.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    await C.served.exited;
    assert.ok(killedAt !== null, "C was killed mid-load");
    assert.equal(C.served.child.signalCode, "SIGKILL");
    const byC = [...acked.values()].filter((m) => m.gw === "c").length;
    assert.ok(byC > 0, "C acknowledged writes before it died");
    // Only requests C held when it died may fail; nothing on A or B.
    assert.deepEqual(
      failed.filter((f) => f.gw !== "c"),
      [],
      `errors logged: ${[A, B].flatMap((gw) => errorLines(gw)).join("\n")}`,
    );
    assert.ok(
      failed.length <= inFlight,
      `at most the requests in flight on C fail: ${JSON.stringify(failed)}`,
    );
    assert.equal(acked.size + accepted.size + failed.length, jobs);
    assert.ok(acked.size >= total - inFlight, `acknowledged ${acked.size}`);

    // Everything stored, read through A with the list cursor.
    const stored = await listAll(A, key, "load");
    const counts = new Map<string, number>();
    for (const m of stored) counts.set(m.content, (counts.get(m.content) ?? 0) + 1);
    assert.deepEqual(
      [...counts].filter(([, n]) => n > 1),
      [],
      "no write is stored twice",
    );
    const storedIds = new Map(stored.map((m) => [m.id, m.content]));
    const missing = [...acked].filter(([c, m]) => storedIds.get(m.id) !== c);
    assert.deepEqual(missing, [], "every acknowledged write is stored");
    assert.ok(stored.length <= total && stored.length >= acked.size);
    const unacked = stored.filter((m) => !acked.has(m.content));
    assert.ok(
      unacked.every((m) => failed.some((f) => content(f.n) === m.content)),
      "a stored write that was not acknowledged is one that C held when it died",
    );

    // The load tenant's chain and the instance chain verify on both surviving gateways, and every
    // other tenant's chain of this run on A.
    for (const gw of [A, B]) {
      for (const q of [`?tenant_id=${tenantId}`, ""]) {
        const v = await call(gw, "GET", `/v1/audit/verify${q}`);
        assert.equal(v.status, 200, v.text);
        const body = v.body as { ok: boolean; count: number };
        assert.equal(body.ok, true, `${gw.name} verify${q}: ${v.text}`);
        if (q) assert.ok(body.count >= stored.length, `${gw.name}: ${v.text}`);
      }
    }
    const tenants = await call(A, "GET", "/v1/tenants?limit=100");
    assert.equal(tenants.status, 200, tenants.text);
    const others = (tenants.body as { items: { id: string }[] }).items.filter((x) => x.id !== tenantId);
    for (const { id } of others) {
      const v = await call(A, "GET", `/v1/audit/verify?tenant_id=${id}`);
      assert.equal((v.body as { ok?: boolean }).ok, true, `verify ${id}: ${v.text}`);
    }

    // The inbox and the outbound queue settle: nothing due is left, and the rows still claimed
    // (by C, whose claims lapse after five minutes) stop changing.
    let q = await queues(tenantId);
    let claimedBefore = "";
    let stableSince = Date.now();
    const settled = await eventually(45_000, async () => {
      q = await queues(tenantId);
      const now = Date.now();
      const due = [...q.inbox, ...q.outbound].filter(
        (r) => r.status === "pending" && Number(r.next_attempt_at) <= now,
      );
      const claimed = JSON.stringify([
        received.length,
        [...q.inbox, ...q.outbound].filter((r) => r.status === "pending").map((r) => r.id),
      ]);
      if (claimed !== claimedBefore || due.length > 0) {
        claimedBefore = claimed;
        stableSince = now;
        await sleep(200);
        return false;
      }
      await sleep(200);
      return now - stableSince >= 1500;
    });
    const summary = (rows: { status: string; next_attempt_at: string; attempts: number }[]) => {
      const out: Record<string, number> = {};
      for (const r of rows) {
        const k = `${r.status}${r.status === "pending" ? (Number(r.next_attempt_at) > Date.now() ? ":claimed" : ":due") : ""}:${r.attempts}`;
        out[k] = (out[k] ?? 0) + 1;
      }
      return JSON.stringify(out);
    };
    assert.ok(
      settled,
      `the queues did not settle: inbox ${summary(q.inbox)}, outbound ${summary(q.outbound)}, received ${received.length}`,
    );

    // Inbox: every accepted delivery is stored once, processed once, or still claimed by the dead C.
    assert.deepEqual(
      q.inbox.filter((r) => r.attempts > 1 || r.status === "dead"),
      [],
      "no delivery failed",
    );
    const inboxRows = new Map(q.inbox.map((r) => [r.delivery_id, r]));
    assert.ok(
      [...accepted].every((d) => inboxRows.has(d)),
      "every 202 is in the inbox",
    );
    const gh = await listAll(A, key, "gh");
    const ghDeliveries = gh.map((m) => String(m.metadata.delivery_id));
    assert.equal(new Set(ghDeliveries).size, ghDeliveries.length, "each delivery is processed once");
    const inboxClaimedByC = q.inbox.filter((r) => r.status === "pending");
    assert.equal(ghDeliveries.length, q.inbox.filter((r) => r.status === "done").length);
    assert.equal(ghDeliveries.length + inboxClaimedByC.length, q.inbox.length);
    // A gateway claims one batch (100) at a time.
    assert.ok(inboxClaimedByC.length <= 100, "only what C held when it died waits");

    // Outbound: each notice sent once, and no write announced twice.
    const deliveryIds = received.map((r) => r.delivery);
    assert.equal(new Set(deliveryIds).size, deliveryIds.length, "each notice is sent once");
    const announced = received.flatMap((r) => r.ids);
    assert.equal(new Set(announced).size, announced.length, "no memory is announced twice");
    const delivered = q.outbound.filter((r) => r.status === "delivered").map((r) => r.id);
    const outboundClaimedByC = new Set(q.outbound.filter((r) => r.status === "pending").map((r) => r.id));
    assert.ok(outboundClaimedByC.size <= 100, "only what C held when it died waits");
    const sent = new Set(deliveryIds);
    assert.deepEqual(
      delivered.filter((id) => !sent.has(id)),
      [],
      "every notice marked sent was received",
    );
    // A notice received but not marked sent: C sent it and died before recording it. Its claim
    // lapses in five minutes and another gateway sends it again (the README's "may be sent twice").
    const sentByDead = deliveryIds.filter((id) => !delivered.includes(id));
    assert.ok(
      sentByDead.every((id) => outboundClaimedByC.has(id)),
      "a notice received but not marked sent is one C held when it died",
    );
    // Every acknowledged write has its notice queued: sent, or waiting in a claim of the dead C.
    const queued = new Set(
      q.outbound.flatMap((r) => (JSON.parse(r.payload) as { data: { ids?: string[] } }).data.ids ?? []),
    );
    const notified = new Set(announced);
    const unannounced = [...acked.values()].filter((m) => !notified.has(m.id));
    const neverQueued = [...acked.values()].filter((m) => !queued.has(m.id));
    assert.deepEqual(
      neverQueued.filter((m) => m.gw !== "c"),
      [],
      "every write acknowledged by A or B has its notice queued",
    );
    lostNotices = neverQueued;
    t.diagnostic(
      `writes acknowledged ${acked.size} (c: ${byC}), failed with c ${failed.length}; ` +
        `deliveries accepted ${accepted.size}, processed ${ghDeliveries.length}, claimed by c ${inboxClaimedByC.length}; ` +
        `notices sent ${received.length} (by c without recording it: ${sentByDead.length}), claimed by c ${outboundClaimedByC.size}, writes not announced yet ${unannounced.length}, never queued ${neverQueued.length} (c: ${neverQueued.filter((m) => m.gw === "c").length})`,
    );
  });

  test("every write a gateway acknowledged before it was killed has its outbound notice queued (in the write's own transaction)", () => {
    assert.ok(lostNotices !== null, "the load test ran");
    assert.deepEqual(lostNotices, [], "writes acknowledged by C whose notice was never queued");
  });
});

describe("gateways starting together on an empty PostgreSQL database", {
  skip: TEST_DATABASE_URL ? false : "HYPHA_TEST_DATABASE_URL is not set",
}, () => {
  test("each provisions the instance chain's data key or keeps the one another committed first", async () => {
    const db = await freshDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), "hypha-test-3gw-keys-"));
    const stores = [0, 1, 2].map(() =>
      openPostgresStorage({ url: db.url, migrationUrl: db.migrationUrl, poolSize: 2 }, MIGRATIONS),
    );
    try {
      for (const s of stores) await s.init();
      const masterKey = randomBytes(32).toString("base64");
      const keys = await Promise.all(
        stores.map((storage) =>
          openTenantKeys({ storage, clock: systemClock, source: { dataDir, masterKey } }),
        ),
      );
      // Every one reads "no key yet" before any inserts: two of the three inserts lose the race.
      await Promise.all(keys.map((k) => k.ensure(INSTANCE_CHAIN)));
      const [first, ...rest] = await Promise.all(keys.map((k) => k.auditKey(INSTANCE_CHAIN)));
      assert.ok(first);
      for (const k of rest) assert.ok(k.equals(first), "every gateway holds the committed key");
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
