import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { systemClock } from "../src/lib/clock.ts";
import { createLogger } from "../src/lib/logger.ts";
import { createSharedLoginThrottle } from "../src/modules/identity/login-throttle.ts";
import type { BusEvent, BusEventType } from "../src/platform/events/bus.ts";
import { createRedisEventBus } from "../src/platform/events/redis-bus.ts";
import { createSharedRateLimiter } from "../src/platform/http/rate-limit.ts";
import { createRedisInvalidation } from "../src/platform/shared/invalidation.ts";
import { connectRedis, type SharedRedis } from "../src/platform/shared/redis.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { login, PASSWORD } from "./identity-helpers.ts";
import { TEST_DATABASE_URL } from "./pg.ts";
import { startHypha, stopProcess } from "./serve-process.ts";

const sqliteStore = { skip: TEST_DATABASE_URL ? "two gateways on one SQLite data directory" : false };

/** The machine's Redis; every run uses its own key prefix, removed afterwards. */
const REDIS_URL = process.env.HYPHA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";
/** A loopback port where no Redis listens: a gateway pointed here runs with Redis unavailable. */
const DEAD_URL = "redis://127.0.0.1:1/0";
const logger = createLogger("silent");
const prefix = `hypha-test:${randomUUID()}:`;
const opened: SharedRedis[] = [];
const open = (url = REDIS_URL) => {
  const r = connectRedis(url, prefix, logger);
  opened.push(r);
  return r;
};
const until = async (check: () => boolean | Promise<boolean>, ms = 2000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
};
/** The server-side id of a gateway's subscriber connection (named `<prefix><pid>:sub`). */
async function subscriberId(admin: Redis): Promise<number> {
  const list = String(await admin.client("LIST"));
  const subs = list.split("\n").filter((l) => l.includes(` name=${prefix}`) && l.includes(":sub "));
  // Every connection of this run carries the same name: the newest subscriber is the one the
  // calling test opened last.
  const ids = subs.map((l) => Number(/\bid=(\d+)/.exec(l)?.[1] ?? 0)).sort((x, y) => x - y);
  const last = ids.at(-1);
  if (last === undefined) throw new Error("no subscriber connection found");
  return last;
}
const connected = (r: SharedRedis) => until(() => r.ready() && r.subscriber.status === "ready");

after(async () => {
  const admin = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length) await admin.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  admin.disconnect();
  for (const r of opened) await r.close();
});

describe("shared limits (rate-limiter-flexible on Redis)", () => {
  test("a key's limit holds across gateways; each gateway counts locally when Redis is down", async () => {
    const [a, b] = [open(), open()];
    await Promise.all([connected(a), connected(b)]);
    const la = createSharedRateLimiter(a, systemClock, logger);
    const lb = createSharedRateLimiter(b, systemClock, logger);
    const allowed: boolean[] = [];
    for (let i = 0; i < 10; i++) allowed.push((await (i % 2 ? la : lb).hit("key_1", 6)).allowed);
    assert.equal(allowed.filter(Boolean).length, 6, "six of ten hits spread over two gateways pass");
    const refused = await la.hit("key_1", 6);
    assert.equal(refused.allowed, false);
    assert.ok(refused.resetSeconds >= 1 && refused.resetSeconds <= 60);

    const dead = open(DEAD_URL);
    const local = createSharedRateLimiter(dead, systemClock, logger);
    const d: boolean[] = [];
    for (let i = 0; i < 5; i++) d.push((await local.hit("key_2", 3)).allowed);
    assert.deepEqual(d, [true, true, true, false, false], "the local fallback still enforces the limit");
  });

  test("failed sign-ins spread over gateways lock the account on all of them", async () => {
    const [a, b, c] = [open(), open(), open()];
    await Promise.all([connected(a), connected(b), connected(c)]);
    const opts = { maxFailures: 3, windowMs: 600_000, lockMs: 3_600_000, maxPerAddress: 30 };
    const [ta, tb, tc] = [a, b, c].map((r) => createSharedLoginThrottle(r, systemClock, logger, opts));
    assert.ok(ta && tb && tc);
    assert.equal(await ta.fail("tnt_x:ann@example.com"), null);
    assert.equal(await tb.fail("tnt_x:ann@example.com"), null);
    const until3 = await tc.fail("tnt_x:ann@example.com");
    assert.ok(until3 !== null && until3 > Date.now() + 3_500_000, "the third failure locks for an hour");
    for (const t of [ta, tb, tc]) {
      const locked = await t.lockedUntil("tnt_x:ann@example.com");
      assert.ok(locked !== null && Math.abs(locked - until3) < 2000, "every gateway sees the lock");
    }
    assert.equal(await ta.lockedUntil("tnt_x:bob@example.com"), null, "another account is not locked");
    await tb.fail("tnt_x:bob@example.com");
    await tb.succeed("tnt_x:bob@example.com");
    await ta.fail("tnt_x:bob@example.com");
    assert.equal(await tc.fail("tnt_x:bob@example.com"), null, "a success resets the count everywhere");
  });
});

describe("invalidation over Redis pub/sub", () => {
  test("a message published on one gateway reaches the others within a second, not the publisher", async () => {
    const [ra, rb, rc] = [open(), open(), open()];
    await Promise.all([connected(ra), connected(rb), connected(rc)]);
    const [a, b, c] = [ra, rb, rc].map((r) => createRedisInvalidation(r, logger));
    assert.ok(a && b && c);
    assert.ok(await until(() => a.reliable() && b.reliable() && c.reliable()));
    const heard: string[] = [];
    a.subscribe("tenant.deleted", (k) => heard.push(`a:${k}`));
    b.subscribe("tenant.deleted", (k) => heard.push(`b:${k}`));
    c.subscribe("governance.policy", (k) => heard.push(`c:${k}`));
    const sent = Date.now();
    a.publish("tenant.deleted", "tnt_1");
    assert.ok(await until(() => heard.includes("b:tnt_1"), 1000));
    assert.ok(Date.now() - sent < 1000);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(heard, ["b:tnt_1"], "the publisher and other topics hear nothing");

    const dead = createRedisInvalidation(open(DEAD_URL), logger);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(dead.reliable(), false, "without Redis the caches are told not to trust themselves");
  });
});

describe("event bus on Redis Streams", () => {
  test("events published on one gateway reach live listeners on another and replay on a third", async () => {
    const [ra, rb, rc] = [open(), open(), open()];
    await Promise.all([connected(ra), connected(rb), connected(rc)]);
    const make = (r: SharedRedis, maxLen?: number) =>
      createRedisEventBus({ redis: r, clock: systemClock, logger, ...(maxLen ? { maxLen } : {}) });
    const [a, b, c] = [make(ra), make(rb), make(rc)];
    const tenantId = `tnt_${randomUUID().replaceAll("-", "")}`;
    const seen: BusEvent[] = [];
    b.subscribe(tenantId, (e) => seen.push(e));
    const outbound: BusEvent[] = [];
    a.subscribeAll((e) => outbound.push(e));
    b.subscribeAll((e) => outbound.push(e));
    await new Promise((r) => setTimeout(r, 50));
    const type = "memory.created" as BusEventType;
    for (let i = 1; i <= 5; i++) (i % 2 ? a : c).publish(tenantId, type, { n: i });
    assert.ok(await until(() => seen.length === 5));
    assert.deepEqual(
      seen.map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(seen.map((e) => e.data.n as number).sort(), [1, 2, 3, 4, 5]);
    assert.equal(await c.lastSeq(tenantId), 5);
    const replay = await c.since(tenantId, 2);
    assert.ok(replay.ok);
    assert.deepEqual(
      replay.events.map((e) => e.seq),
      [3, 4, 5],
    );
    assert.ok(await until(() => outbound.length === 3));
    assert.deepEqual(outbound.map((e) => e.data.n).sort(), [1, 3, 5], "outbound hears only its own gateway");

    // A short stream drops old events; a resume from before them is told so.
    const small = make(rc, 5);
    const other = `tnt_${randomUUID().replaceAll("-", "")}`;
    for (let i = 0; i < 400; i++) small.publish(other, type, { i });
    assert.ok(await until(async () => (await small.lastSeq(other)) === 400));
    const old = await small.since(other, 1);
    assert.equal(old.ok, false);
  });
});

describe("reconnection", () => {
  test("a gateway whose Redis connection drops distrusts its caches, then catches its live listeners up", async () => {
    const [ra, rb] = [open(), open()];
    await Promise.all([connected(ra), connected(rb)]);
    const inv = createRedisInvalidation(rb, logger);
    assert.ok(await until(() => inv.reliable()));
    const dropped: (string | null)[] = [];
    inv.subscribe("governance.policy", (k) => dropped.push(k));
    const a = createRedisEventBus({ redis: ra, clock: systemClock, logger });
    const b = createRedisEventBus({ redis: rb, clock: systemClock, logger });
    const tenantId = `tnt_${randomUUID().replaceAll("-", "")}`;
    const seen: number[] = [];
    b.subscribe(tenantId, (e) => seen.push(e.seq));
    await new Promise((r) => setTimeout(r, 50));
    const type = "memory.created" as BusEventType;
    a.publish(tenantId, type, { n: 1 });
    assert.ok(await until(() => seen.length === 1));

    // Cut b's subscription: this test's own connection only, found by its client id.
    const admin = new Redis(REDIS_URL);
    await admin.call("CLIENT", "KILL", "ID", String(await subscriberId(admin)));
    assert.ok(
      await until(() => !inv.reliable(), 1000),
      "caches are distrusted while the subscription is down",
    );
    a.publish(tenantId, type, { n: 2 });
    a.publish(tenantId, type, { n: 3 });
    assert.ok(await until(() => inv.reliable(), 5000), "the subscription comes back");
    assert.ok(await until(() => seen.length === 3, 3000), `caught up: ${seen}`);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.ok(dropped.includes(null), "every cache was told to drop everything");
    admin.disconnect();
  });
});

// Two in-process gateways share one SQLite data directory here; on PostgreSQL each test server gets a
// database of its own, so the pair would not share a store (the PostgreSQL gateway tests cover that).
describe("gateways sharing Redis (two gateways on one data directory)", sqliteStore, () => {
  let a: TestServer;
  let b: TestServer;
  let dead: TestServer;
  before(async () => {
    a = await startServer({ redisUrl: REDIS_URL, redisPrefix: prefix });
    b = await startServer({
      redisUrl: REDIS_URL,
      redisPrefix: prefix,
      dataDir: a.dataDir,
      adminKey: a.adminKey,
    });
    dead = await startServer({ redisUrl: DEAD_URL, redisPrefix: prefix });
  });
  after(async () => {
    await dead.close();
    await b.hypha.close();
    await a.close();
  });

  test("readiness reports each dependency: Redis down is degraded, not down", async () => {
    await until(async () => (await a.request("GET", "/health/ready", { key: null })).text.includes('"ok"}'));
    const ok = await a.request("GET", "/health/ready", { key: null });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { status: "ok", dependencies: { store: "ok", redis: "ok" } });
    const degraded = await dead.request("GET", "/health/ready", { key: null });
    assert.equal(degraded.status, 200);
    assert.deepEqual(degraded.body, {
      status: "degraded",
      dependencies: { store: "ok", redis: "unavailable" },
    });
  });

  test("a key's rate plan holds across gateways", async () => {
    const { tenantId } = await a.seedTenant();
    const { key } = await a.createKey(tenantId, { rate_limit_per_minute: 60 });
    const statuses: number[] = [];
    for (let i = 0; i < 64; i++) {
      const gw = i % 2 ? a : b;
      statuses.push((await gw.request("GET", "/v1/memories?limit=1", { key })).status);
    }
    assert.equal(statuses.filter((st) => st === 200).length, 60, "60 a minute in all, not 60 per gateway");
    assert.deepEqual(statuses.slice(60), [429, 429, 429, 429]);
  });

  test("three failed sign-ins spread over gateways lock the account", async () => {
    const tenantId = await a.createTenant();
    const email = `l-${randomUUID().slice(0, 8)}@example.com`;
    await a.createUser(tenantId, { email, password: PASSWORD, roles: ["VIEWER"] });
    assert.equal((await login(a, tenantId, email, "not the password!")).status, 401);
    assert.equal((await login(b, tenantId, email, "not the password!")).status, 401);
    assert.equal((await login(a, tenantId, email, "not the password!")).status, 401);
    const locked = await login(b, tenantId, email);
    assert.equal(locked.status, 423, "locked on the gateway that saw one failure");
    assert.equal(errorCode(locked), "LOCKED");
  });

  test("an SSE client on one gateway sees events caused on the other and resumes there", async () => {
    const { tenantId, key } = await a.seedTenant();
    const ctrl = new AbortController();
    const res = await fetch(`${b.url}/admin/stream/${tenantId}`, {
      headers: { authorization: `Bearer ${a.adminKey}` },
      signal: ctrl.signal,
    });
    assert.equal(res.status, 200);
    let text = "";
    const reader = res.body?.getReader();
    assert.ok(reader);
    const pump = (async () => {
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += dec.decode(value);
      }
    })();
    await until(() => text.includes(": connected"));
    await a.storeMemory(key, { content: "written on gateway a" });
    await a.storeMemory(key, { content: "and another" });
    assert.ok(await until(() => (text.match(/event: memory.created/g) ?? []).length === 2, 3000), text);
    ctrl.abort();
    await pump;
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(ids.length, 2);
    const resumed = await a.request("GET", `/admin/stream/${tenantId}?follow=false`, {
      headers: { "last-event-id": String(ids[0]) },
    });
    assert.equal(resumed.status, 200);
    assert.ok(resumed.text.includes(`id: ${ids[1]}\n`));
    assert.ok(!resumed.text.includes(`id: ${ids[0]}\n`));
  });

  test("a policy change on one gateway reaches the other's cache within a second", async () => {
    const { tenantId, key } = await a.seedTenant();
    assert.equal(
      (await b.request("GET", "/v1/memories?limit=1", { key })).status,
      200,
      "b caches the policy",
    );
    const put = await a.request("PUT", `/v1/tenants/${tenantId}/policy`, {
      body: { anomaly: { enforce: true, max_requests_per_minute: 1 } },
    });
    assert.ok(put.status === 200, `${put.status} ${put.text}`);
    const started = Date.now();
    const refused = await until(
      async () => (await b.request("GET", "/v1/memories?limit=1", { key })).status === 429,
      1000,
    );
    assert.ok(refused && Date.now() - started <= 1000, "b enforces the new anomaly cap");
  });

  const within = async (ms: number, check: () => Promise<boolean>) => {
    const started = Date.now();
    const ok = await until(check, ms);
    return ok && Date.now() - started <= ms;
  };

  test("a key revoked on one gateway is refused on the other within a second", async () => {
    const { tenantId, key, keyId } = await a.seedTenant();
    assert.equal((await b.request("GET", "/v1/memories?limit=1", { key })).status, 200);
    assert.equal((await a.request("DELETE", `/v1/tenants/${tenantId}/keys/${keyId}`)).status, 200);
    assert.ok(
      await within(
        1000,
        async () => (await b.request("GET", "/v1/memories?limit=1", { key })).status === 401,
      ),
    );
  });

  test("a kill switch set on one gateway freezes the agent on the other", async () => {
    const { tenantId, key } = await a.seedTenant();
    assert.equal((await b.request("GET", "/v1/memories?limit=1", { key })).status, 200);
    const freeze = await a.request("PUT", "/admin/override", {
      body: { reason: "incident 42", frozen: true, scope: "tenant", tenant_id: tenantId },
    });
    assert.ok(freeze.status === 200 || freeze.status === 201, `${freeze.status} ${freeze.text}`);
    assert.ok(
      await within(
        1000,
        async () => errorCode(await b.request("GET", "/v1/memories?limit=1", { key })) === "AGENT_FROZEN",
      ),
    );
  });

  test("a tenant deleted on one gateway cannot be read on the other within a second", async () => {
    const { tenantId, key } = await a.seedTenant();
    await a.storeMemory(key, { content: "soon crypto-shredded" });
    const before = await b.request("POST", "/v1/memories/recall", { key, body: { query: "shredded" } });
    assert.ok(before.text.includes("soon crypto-shredded"), "b has the tenant's key and codec cached");
    assert.equal((await a.request("DELETE", `/v1/tenants/${tenantId}`)).status, 200);
    assert.ok(
      await within(1000, async () => {
        const r = await b.request("POST", "/v1/memories/recall", { key, body: { query: "shredded" } });
        return r.status >= 400 && !r.text.includes("soon crypto-shredded");
      }),
    );
    const adminRead = await b.request("GET", `/v1/tenants/${tenantId}`, { key: a.adminKey });
    assert.equal(adminRead.status, 404);
  });

  test("with Redis unavailable, a cached tenant key is served only while the database still holds it (fail closed)", async () => {
    const cut = await startServer({
      redisUrl: DEAD_URL,
      redisPrefix: prefix,
      dataDir: a.dataDir,
      adminKey: a.adminKey,
    });
    try {
      const { tenantId } = await a.seedTenant();
      const keys = cut.hypha.services.tenantKeys;
      await keys.cipher(tenantId);
      // Deleted on a; the invalidation cannot reach `cut`, whose Redis is unreachable.
      assert.equal((await a.request("DELETE", `/v1/tenants/${tenantId}`)).status, 200);
      await assert.rejects(
        keys.cipher(tenantId),
        (err: Error & { code?: string }) => err.code === "NOT_FOUND",
      );
    } finally {
      await cut.hypha.close();
    }
  });

  test("with Redis unavailable a gateway still serves, reading its caches through", async () => {
    const { key } = await dead.seedTenant();
    await dead.storeMemory(key, { content: "the lighthouse keeper logs the storm" });
    const recall = await dead.request("POST", "/v1/memories/recall", {
      key,
      body: { query: "lighthouse storm" },
    });
    assert.equal(recall.status, 200);
    assert.ok(recall.text.includes("lighthouse"));
  });
});

describe("embedded mode: one serve per data directory", () => {
  test("a second hypha serve on the same data directory refuses with one line", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "hypha-lock-"));
    const env = { ...process.env, HYPHA_DATA_DIR: dataDir, HYPHA_LOG_LEVEL: "silent", HYPHA_PORT: "0" };
    const first = startHypha(["serve"], env, /Instance admin key/);
    try {
      await first.ready;
      // The second refuses before it would print that line; its exit is what the test waits for.
      const second = startHypha(["serve"], env, /Instance admin key/);
      const code = await second.exited;
      assert.notEqual(code, 0);
      const err = second.errors();
      const lines = err.trim().split("\n");
      assert.equal(lines.length, 1, err);
      assert.match(
        lines[0] ?? "",
        /^hypha: the data directory .* is in use by another hypha serve \(pid \d+/,
      );
    } finally {
      await stopProcess(first.child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
