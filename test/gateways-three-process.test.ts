import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
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

const errorCode = (res: Res) => (res.body as { error?: { code?: string } } | null)?.error?.code;

describe("three hypha serve processes on one PostgreSQL database and one Redis", { skip }, () => {
  const root = mkdtempSync(join(tmpdir(), "hypha-test-3gw-"));
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
    rmSync(root, { recursive: true, force: true });
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

  /** Reads an SSE response into `frames` until aborted. */
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

  // Last: it kills gateway C.
  test("1,000 concurrent writes over the three gateways, C killed mid-load: every acknowledged write is there once and the audit chains verify", async () => {
    const { tenantId, key } = await seedTenant(A);
    const policy = await call(A, "PUT", `/v1/tenants/${tenantId}/policy`, {
      body: { anomaly: { enforce: false } },
    });
    assert.equal(policy.status, 200, policy.text);
    const total = 1000;
    const inFlight = 32;
    const acked = new Map<string, string>(); // content → id
    const failed: { n: number; gw: string; why: string }[] = [];
    const by = { a: 0, b: 0, c: 0 } as Record<string, number>;
    let next = 0;
    let killedAt: number | null = null;
    const content = (n: number) => `load write ${n} of the three gateway run`;
    const worker = async () => {
      for (;;) {
        const n = next++;
        if (n >= total) return;
        const live = all.filter((gw) => !gw.dead);
        const gw = live[n % live.length] as Gateway;
        try {
          const r = await call(gw, "POST", "/v1/memories", {
            key,
            body: { namespace: "load", content: content(n) },
          });
          if (r.status === 201) {
            acked.set(content(n), (r.body as { id: string }).id);
            by[gw.name] = (by[gw.name] ?? 0) + 1;
          } else failed.push({ n, gw: gw.name, why: `${r.status} ${r.text.slice(0, 200)}` });
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
    assert.ok((by.c ?? 0) > 0, "C acknowledged writes before it died");
    // Only requests C held when it died may fail; nothing on A or B.
    assert.deepEqual(
      failed.filter((f) => f.gw !== "c"),
      [],
    );
    assert.ok(
      failed.length <= inFlight,
      `at most the requests in flight on C fail: ${JSON.stringify(failed)}`,
    );
    assert.ok(acked.size >= total - inFlight, `acknowledged ${acked.size}`);

    // Everything stored, read through A with the list cursor.
    const stored: { id: string; content: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        A,
        "GET",
        `/v1/memories?namespace=load&limit=200${cursor ? `&cursor=${cursor}` : ""}`,
        {
          key,
        },
      );
      assert.equal(page.status, 200, page.text);
      const body = page.body as { items: { id: string; content: string }[]; next_cursor: string | null };
      stored.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    const counts = new Map<string, number>();
    for (const m of stored) counts.set(m.content, (counts.get(m.content) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], "no write is stored twice");
    const missing = [...acked].filter(([c, id]) => !stored.some((m) => m.id === id && m.content === c));
    assert.deepEqual(missing, [], "every acknowledged write is stored");
    assert.ok(stored.length <= total && stored.length >= acked.size);
    const unacked = stored.filter((m) => !acked.has(m.content));
    assert.ok(
      unacked.every((m) => failed.some((f) => content(f.n) === m.content)),
      "a stored write that was not acknowledged is one that C held when it died",
    );

    // The tenant chain and the instance chain verify on both surviving gateways.
    for (const gw of [A, B]) {
      for (const q of [`?tenant_id=${tenantId}`, ""]) {
        const v = await call(gw, "GET", `/v1/audit/verify${q}`);
        assert.equal(v.status, 200, v.text);
        const body = v.body as { ok: boolean; count: number };
        assert.equal(body.ok, true, `${gw.name} verify${q}: ${v.text}`);
        if (q) assert.ok(body.count >= stored.length, `${gw.name}: ${v.text}`);
      }
    }
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
