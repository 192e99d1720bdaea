import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";

type Mem = { id: string; access: string; owner: string };

describe("per-memory access, enforced inside every read query", () => {
  let s: TestServer;
  let t: string;
  let owner: string;
  let friend: string;
  let stranger: string;
  let restricted: string;
  let ids: { priv: string; shared: string; pub: string; allowed: string };

  const ids_of = async (key: string, path: string) => {
    const res = await s.request("GET", path, { key });
    return (res.body as { items: Mem[] }).items.map((m) => m.id);
  };

  before(async () => {
    s = await startServer();
    t = await s.createTenant();
    owner = (await s.createKey(t, { agent: "owner", scopes: ["write"] })).key;
    friend = (await s.createKey(t, { agent: "friend", scopes: ["write"] })).key;
    stranger = (await s.createKey(t, { agent: "stranger", scopes: ["write"] })).key;
    restricted = (await s.createKey(t, { agent: "integration", scopes: ["read"], namespaces: ["elsewhere"] }))
      .key;
    const store = (body: Record<string, unknown>) => s.storeMemory(owner, { namespace: "team", ...body });
    ids = {
      priv: (await store({ content: "zebra private plan", access: "private" })).id,
      allowed: (await store({ content: "zebra for friend", access: "private", allowed_agents: ["friend"] }))
        .id,
      shared: (await store({ content: "zebra shared note" })).id,
      pub: (await store({ content: "zebra public notice", access: "public" })).id,
    };
  });
  after(() => s.close());

  test("defaults to shared and records the owner", async () => {
    const res = await s.request("GET", `/v1/memories/${ids.shared}`, { key: owner });
    assert.equal((res.body as Mem).access, "shared");
    assert.equal((res.body as Mem).owner, "owner");
  });

  test("get and history: private only for the owner and allowed agents", async () => {
    for (const path of ["", "/history"]) {
      assert.equal((await s.request("GET", `/v1/memories/${ids.priv}${path}`, { key: owner })).status, 200);
      assert.equal((await s.request("GET", `/v1/memories/${ids.priv}${path}`, { key: friend })).status, 404);
      assert.equal(
        (await s.request("GET", `/v1/memories/${ids.allowed}${path}`, { key: friend })).status,
        200,
      );
      assert.equal(
        (await s.request("GET", `/v1/memories/${ids.allowed}${path}`, { key: stranger })).status,
        404,
      );
    }
  });

  test("list: counts and pages never include hidden memories", async () => {
    assert.deepEqual(new Set(await ids_of(stranger, "/v1/memories")), new Set([ids.shared, ids.pub]));
    assert.deepEqual(
      new Set(await ids_of(friend, "/v1/memories")),
      new Set([ids.shared, ids.pub, ids.allowed]),
    );
    assert.equal((await ids_of(owner, "/v1/memories")).length, 4);
    // A page of one for the stranger holds a visible memory, and the cursor ends after two.
    const first = await s.request("GET", "/v1/memories?limit=1", { key: stranger });
    const p1 = first.body as { items: Mem[]; next_cursor: string };
    const second = await s.request("GET", `/v1/memories?limit=1&cursor=${p1.next_cursor}`, { key: stranger });
    const p2 = second.body as { items: Mem[]; next_cursor: string | null };
    assert.equal(p2.next_cursor, null);
    assert.ok([...p1.items, ...p2.items].every((m) => m.id === ids.shared || m.id === ids.pub));
  });

  test("recall never ranks or counts a hidden memory", async () => {
    const res = await s.request("POST", "/v1/memories/recall", { key: stranger, body: { query: "zebra" } });
    const got = (res.body as { results: { memory: Mem }[]; context: string }).results.map((r) => r.memory.id);
    assert.deepEqual(new Set(got), new Set([ids.shared, ids.pub]));
    assert.ok(!(res.body as { context: string }).context.includes("private plan"));
  });

  test("export streams only what the caller may see", async () => {
    const res = await s.request("GET", "/v1/memories/export?include_history=true", { key: stranger });
    assert.ok(!res.text.includes("private plan") && !res.text.includes("for friend"));
    assert.ok(res.text.includes("shared note"));
  });

  test("public memories are readable by any key of the tenant, read-only integrations outside the namespace included", async () => {
    assert.deepEqual(await ids_of(restricted, "/v1/memories"), [ids.pub]);
    assert.equal((await s.request("GET", `/v1/memories/${ids.shared}`, { key: restricted })).status, 404);
  });

  test("a public memory outside the caller's namespaces cannot be written or deleted", async () => {
    const ns = (await s.createKey(t, { agent: "ns-writer", scopes: ["write"], namespaces: ["elsewhere"] }))
      .key;
    assert.equal(
      (await s.request("PATCH", `/v1/memories/${ids.pub}`, { key: ns, body: { importance: 1 } })).status,
      404,
    );
    assert.equal((await s.request("DELETE", `/v1/memories/${ids.pub}`, { key: ns })).status, 404);
    const bulk = await s.request("DELETE", "/v1/memories", { key: ns, body: { ids: [ids.pub] } });
    assert.deepEqual(bulk.body, { deleted: 0 });
  });

  test("private memories cannot be deleted by others, by id or by GDPR selector", async () => {
    const bulk = await s.request("DELETE", "/v1/memories", {
      key: stranger,
      body: { ids: [ids.priv, ids.allowed] },
    });
    assert.deepEqual(bulk.body, { deleted: 0 });
    assert.equal((await s.request("DELETE", `/v1/memories/${ids.priv}`, { key: stranger })).status, 404);
  });

  test("only the owner changes who may read a memory; hiding a memory hides its history too", async () => {
    const m = await s.storeMemory(owner, { namespace: "team", content: "soon private" });
    const byOther = await s.request("PATCH", `/v1/memories/${m.id}`, {
      key: stranger,
      body: { access: "private" },
    });
    assert.equal(byOther.status, 403);
    const byOwner = await s.request("PATCH", `/v1/memories/${m.id}`, {
      key: owner,
      body: { access: "private" },
    });
    assert.equal(byOwner.status, 200);
    assert.equal((await s.request("GET", `/v1/memories/${m.id}/history`, { key: stranger })).status, 404);
    const bulk = await s.request("DELETE", "/v1/memories", { key: stranger, body: { ids: [m.id] } });
    assert.deepEqual(
      bulk.body,
      { deleted: 0 },
      "an older shared version does not make it erasable by others",
    );
  });

  test("people are principals too: a user sees private memories only when named", async () => {
    const u = await signedInUser(s, t, ["DEVELOPER"]);
    assert.equal((await s.request("GET", `/v1/memories/${ids.priv}`, { key: u.token })).status, 404);
    const mine = await s.request("POST", "/v1/memories", {
      key: u.token,
      body: { namespace: "team", content: "user private", access: "private", allowed_agents: ["owner"] },
    });
    const id = (mine.body as Mem).id;
    assert.equal((mine.body as Mem).owner, `user:${u.userId}`);
    assert.equal((await s.request("GET", `/v1/memories/${id}`, { key: owner })).status, 200);
    assert.equal((await s.request("GET", `/v1/memories/${id}`, { key: stranger })).status, 404);
  });
});

describe("cross-namespace grants", () => {
  let s: TestServer;
  let t: string;
  let a: string;
  let writer: string;
  before(async () => {
    s = await startServer();
    t = await s.createTenant();
    a = (await s.createKey(t, { agent: "agent-a", scopes: ["write"], namespaces: ["team-a"] })).key;
    writer = (await s.createKey(t, { agent: "writer", scopes: ["write"] })).key;
    await s.storeMemory(writer, {
      namespace: "team-b",
      content: "kiwi runbook from b",
      type: "runbook",
      importance: 1,
    });
    await s.storeMemory(writer, { namespace: "team-b", content: "kiwi chatter from b", type: "note" });
    await s.storeMemory(a, { namespace: "team-a", content: "kiwi own note", importance: 0 });
  });
  after(() => s.close());

  const recall = async () => {
    const res = await s.request("POST", "/v1/memories/recall", { key: a, body: { query: "kiwi" } });
    return (res.body as { results: { memory: { namespace: string; type: string }; score: number }[] })
      .results;
  };

  test("without a grant namespace A sees nothing of B", async () => {
    assert.deepEqual(
      (await recall()).map((r) => r.memory.namespace),
      ["team-a"],
    );
  });

  test("only an admin grants; a grant limited to types opens just those, for reads only, until it expires", async () => {
    const dev = await signedInUser(s, t, ["DEVELOPER"]);
    const denied = await s.request("POST", `/v1/tenants/${t}/grants`, {
      key: dev.token,
      body: { grantee: "team-a", namespace: "team-b" },
    });
    assert.equal(denied.status, 403);
    const g = await s.request("POST", `/v1/tenants/${t}/grants`, {
      body: {
        grantee: "team-a",
        namespace: "team-b",
        types: ["runbook"],
        expires_at: new Date(s.clock.now() + 3600_000).toISOString(),
      },
    });
    assert.equal(g.status, 201, g.text);
    const results = await recall();
    assert.deepEqual(results.map((r) => r.memory.type).sort(), ["note", "runbook"]);
    assert.ok(!results.some((r) => r.memory.namespace === "team-b" && r.memory.type === "note"));
    const bId = results.find((r) => r.memory.namespace === "team-b") as unknown as { memory: { id: string } };
    const patch = await s.request("PATCH", `/v1/memories/${bId.memory.id}`, {
      key: a,
      body: { importance: 0 },
    });
    assert.equal(patch.status, 404, "a grant never opens writes");
    s.clock.advance(3600_000);
    assert.deepEqual(
      (await recall()).map((r) => r.memory.namespace),
      ["team-a"],
    );
    s.clock.advance(-3600_000);
    await s.request("DELETE", `/v1/tenants/${t}/grants/${(g.body as { id: string }).id}`);
    assert.deepEqual(
      (await recall()).map((r) => r.memory.namespace),
      ["team-a"],
      "a revoked grant opens nothing",
    );
  });

  test("recall ranks granted memories below the caller's own by the documented factor 0.5", async () => {
    await s.request("POST", `/v1/tenants/${t}/grants`, { body: { grantee: "team-a", namespace: "team-b" } });
    const results = await recall();
    assert.equal(
      results[0]?.memory.namespace,
      "team-a",
      "own memory first although B's runbook has importance 1",
    );
    const unrestricted = await s.request("POST", "/v1/memories/recall", {
      key: writer,
      body: { query: "kiwi runbook" },
    });
    const top = (unrestricted.body as { results: { memory: { content: string }; score: number }[] })
      .results[0];
    const granted = results.find((r) => r.memory.type === "runbook");
    assert.ok(top && granted);
    assert.ok(granted.score <= top.score * 0.5 + 1e-6);
  });
});
