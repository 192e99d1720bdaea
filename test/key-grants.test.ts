import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { consoleRequest, consoleSession } from "./console-helpers.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { login, signedInUser } from "./identity-helpers.ts";

type Created = { id: string; key: string; agent: string; scopes: string[]; namespaces: string[] | null };

/**
 * Key creation and rotation never give a key more than its caller holds. The attack sequences are
 * the reviewers' (see docs/security.md): each one answered 201 before this rule.
 */
describe("key grants: a new or rotated key never holds more than its caller", () => {
  let s: TestServer;
  let t: string;
  let admin: string;
  let dev: string;
  before(async () => {
    s = await startServer();
    t = await s.createTenant();
    admin = (await signedInUser(s, t, ["ADMIN"])).token;
    dev = (await signedInUser(s, t, ["DEVELOPER"])).token;
  });
  after(() => s.close());

  const mint = (key: string, body: Record<string, unknown>) =>
    s.request("POST", `/v1/tenants/${t}/keys`, { key, body: { agent: "bot", ...body } });
  const rotate = (key: string, id: string) =>
    s.request("POST", `/v1/tenants/${t}/keys/${id}/rotate`, { key, body: { grace_seconds: 60 } });
  const created = (res: { status: number; text: string; body: unknown }) => {
    assert.equal(res.status, 201, res.text);
    return res.body as Created;
  };

  test("a DEVELOPER cannot create an admin, tenant:admin or audit:read key (403 FORBIDDEN), so cannot reach ADMIN through one", async () => {
    for (const scopes of [["admin"], ["tenant:admin"], ["audit:read"], ["read", "admin"]]) {
      const res = await mint(dev, { scopes });
      assert.equal(res.status, 403, `${scopes.join(",")}: ${res.text}`);
      assert.equal(errorCode(res), "FORBIDDEN");
    }
    // What the role allows, it grants: read, write, memories:*, and admin narrowed to key management.
    for (const scopes of [["read"], ["write"], ["memories:read", "memories:write"]]) {
      created(await mint(dev, { scopes }));
    }
    created(
      await mint(dev, { scopes: ["admin"], capabilities: ["keys", "memories.read", "memories.write"] }),
    );
    const erase = await mint(dev, { scopes: ["admin"], capabilities: ["memories"] });
    assert.equal(erase.status, 403, "memories:erase is the ADMIN's");
    const narrowedTooLittle = await mint(dev, { scopes: ["admin"], capabilities: ["keys", "users"] });
    assert.equal(narrowedTooLittle.status, 403, "users.* is the ADMIN's");
    // An ADMIN grants anything.
    created(await mint(admin, { scopes: ["admin"] }));
    created(await mint(admin, { scopes: ["tenant:admin", "audit:read"] }));
  });

  test("a tenant:admin key cannot mint an admin or memories key (403 INSUFFICIENT_SCOPE); it mints its own kind", async () => {
    const ta = created(await mint(admin, { agent: "ops", scopes: ["tenant:admin"] }));
    assert.equal((await s.request("GET", "/v1/memories", { key: ta.key })).status, 403);
    for (const scopes of [["admin"], ["memories:read"], ["read"], ["audit:read"]]) {
      const res = await mint(ta.key, { agent: "ops", scopes });
      assert.equal(res.status, 403, `${scopes.join(",")}: ${res.text}`);
      assert.equal(errorCode(res), "INSUFFICIENT_SCOPE");
    }
    const same = created(await mint(ta.key, { agent: "ops", scopes: ["tenant:admin"] }));
    assert.equal((await s.request("GET", "/v1/memories", { key: same.key })).status, 403);
  });

  test("a namespace-, capability-, rate- or time-limited key makes only keys at least as limited", async () => {
    const limited = created(
      await mint(admin, {
        agent: "scoped",
        scopes: ["admin"],
        capabilities: ["keys", "memories"],
        namespaces: ["team"],
        rate_limit_per_minute: 120,
        expires_at: new Date(s.clock.now() + 3_600_000).toISOString(),
      }),
    );
    const ok = {
      agent: "scoped",
      scopes: ["read"],
      capabilities: ["memories.recall"],
      namespaces: ["team/sub"],
      rate_limit_per_minute: 60,
      expires_at: new Date(s.clock.now() + 60_000).toISOString(),
    };
    created(await mint(limited.key, ok));
    const { namespaces: _n, ...noNamespaces } = ok;
    const { capabilities: _c, ...noCapabilities } = ok;
    const { rate_limit_per_minute: _r, ...noRate } = ok;
    const { expires_at: _e, ...noExpiry } = ok;
    const wider: [string, Record<string, unknown>][] = [
      ["no namespaces", noNamespaces],
      ["another namespace", { ...ok, namespaces: ["other"] }],
      ["a sibling namespace", { ...ok, namespaces: ["teams"] }],
      ["no capabilities", noCapabilities],
      ["a wider capability", { ...ok, capabilities: ["users"] }],
      ["no rate plan", noRate],
      ["a higher rate plan", { ...ok, rate_limit_per_minute: 600 }],
      ["no expiry", noExpiry],
      ["a later expiry", { ...ok, expires_at: new Date(s.clock.now() + 7_200_000).toISOString() }],
      ["another agent's name", { ...ok, agent: "someone-else" }],
    ];
    for (const [what, body] of wider) {
      const res = await mint(limited.key, body);
      assert.equal(res.status, 403, `${what}: ${res.text}`);
      assert.equal(errorCode(res), "INSUFFICIENT_SCOPE", what);
    }
  });

  test("agent names: a key makes keys under its own agent name only, unless it is an unrestricted admin key", async () => {
    const writer = created(
      await mint(admin, { agent: "alice-bot", scopes: ["admin"], capabilities: ["keys", "memories"] }),
    );
    const posing = await mint(writer.key, {
      agent: "bob-bot",
      scopes: ["memories:read"],
      capabilities: ["memories"],
    });
    assert.equal(posing.status, 403, posing.text);
    created(
      await mint(writer.key, { agent: "alice-bot", scopes: ["memories:read"], capabilities: ["memories"] }),
    );
    const root = created(await mint(admin, { agent: "provisioner", scopes: ["admin"] }));
    created(await mint(root.key, { agent: "bob-bot", scopes: ["read"] }));
  });

  test("agent names: a DEVELOPER cannot make or rotate a key under another person's agent (it would read that agent's private memories); an ADMIN can", async () => {
    const other = (await signedInUser(s, t, ["DEVELOPER"])).token;
    const carol = created(await mint(other, { agent: "carol-bot", scopes: ["write"] }));
    const secret = await s.request("POST", "/v1/memories", {
      key: carol.key,
      body: { namespace: "people", content: "carol's private note about the launch date", access: "private" },
    });
    assert.equal(secret.status, 201, secret.text);
    const keysOf = async (agent: string) =>
      (
        (await s.request("GET", `/v1/tenants/${t}/keys?limit=100`, { key: admin })).body as {
          items: Created[];
        }
      ).items
        .filter((k) => k.agent === agent)
        .map((k) => k.id);
    const before = await keysOf("carol-bot");

    for (const attempt of [
      () => mint(dev, { agent: "carol-bot", scopes: ["read"] }),
      () => rotate(dev, carol.id),
    ]) {
      const res = await attempt();
      assert.equal(res.status, 403, res.text);
      assert.equal(errorCode(res), "FORBIDDEN");
      assert.match(res.text, /carol-bot/);
    }
    assert.deepEqual(await keysOf("carol-bot"), before, "no key was made, the rotated one untouched");
    // A revoked key still names its agent: its private memories outlive it.
    assert.equal(
      (await s.request("DELETE", `/v1/tenants/${t}/keys/${carol.id}`, { key: other })).status,
      200,
    );
    assert.equal((await mint(dev, { agent: "carol-bot", scopes: ["read"] })).status, 403);
    const db = await s.hypha.storage.tenant(t);
    const denied = await db.all<{ details: string }>(
      "SELECT details FROM audit_events WHERE action IN ('key.created', 'key.rotated') AND outcome = 'denied' AND details LIKE '%carol-bot%'",
    );
    assert.equal(denied.length, 3, "each refusal audited");

    // A new name is anyone's; one whose keys the DEVELOPER made (also through their own keys) stays theirs.
    const maker = created(
      await mint(dev, { agent: "dev-agent", scopes: ["admin"], capabilities: ["keys", "memories.read"] }),
    );
    created(await mint(maker.key, { agent: "dev-agent", scopes: ["read"], capabilities: ["memories.read"] }));
    const mine = created(await mint(dev, { agent: "dev-agent", scopes: ["read"] }));
    created(await rotate(dev, mine.id));
    assert.equal((await mint(other, { agent: "dev-agent", scopes: ["read"] })).status, 403);

    // An ADMIN names any agent, and the new key reads the agent's private memory as the agent.
    const byAdmin = created(await mint(admin, { agent: "carol-bot", scopes: ["read"] }));
    const listed = await s.request("GET", "/v1/memories", { key: byAdmin.key });
    assert.equal(listed.status, 200);
    assert.match(listed.text, /launch date/);
    // From then on the name has an ADMIN-made key: the DEVELOPER who began it is held too.
    assert.equal((await mint(other, { agent: "carol-bot", scopes: ["read"] })).status, 403);
  });

  test("the console offers rotation only of keys the person may rotate: not under another person's agent, unless an ADMIN", async () => {
    const other = (await signedInUser(s, t, ["DEVELOPER"])).token;
    const theirs = created(await mint(other, { agent: "their-bot", scopes: ["read"] }));
    const person = await consoleSession(s, t, ["DEVELOPER"]);
    const token = ((await login(s, t, person.email)).body as { access_token: string }).access_token;
    const mine = created(await mint(token, { agent: "my-bot", scopes: ["read"] }));
    const rotateOf = (id: string) => new RegExp(`/console/agents/${id}/rotate`);
    const page = (await consoleRequest(s, "GET", "/console/agents", { cookie: person.cookie })).text;
    assert.match(page, rotateOf(mine.id));
    assert.doesNotMatch(page, rotateOf(theirs.id));
    const administrator = await consoleSession(s, t, ["ADMIN"]);
    const adminPage = (await consoleRequest(s, "GET", "/console/agents", { cookie: administrator.cookie }))
      .text;
    assert.match(adminPage, rotateOf(mine.id));
    assert.match(adminPage, rotateOf(theirs.id));
  });

  test("a DEVELOPER cannot rotate an ADMIN's admin key to obtain its secret; the key stays as it was", async () => {
    const adminKey = created(await mint(admin, { agent: "root", scopes: ["admin"] }));
    const res = await rotate(dev, adminKey.id);
    assert.equal(res.status, 403, res.text);
    assert.equal(errorCode(res), "FORBIDDEN");
    const list = (await s.request("GET", `/v1/tenants/${t}/keys`, { key: admin })).body as {
      items: { id: string; rotated_to: string | null; expires_at: string | null }[];
    };
    const row = list.items.find((k) => k.id === adminKey.id);
    assert.equal(row?.rotated_to, null);
    assert.equal(row?.expires_at, null);
    // A key the DEVELOPER could have created, the DEVELOPER rotates.
    const own = created(await mint(dev, { agent: "dev-bot", scopes: ["write"] }));
    created(await rotate(dev, own.id));
    // A key rotates only keys it could have made: a tenant:admin key cannot rotate a memories key.
    const ta = created(await mint(admin, { agent: "dev-bot", scopes: ["tenant:admin"] }));
    const other = created(await mint(admin, { agent: "dev-bot", scopes: ["read"] }));
    const byKey = await rotate(ta.key, other.id);
    assert.equal(byKey.status, 403, byKey.text);
    assert.equal(errorCode(byKey), "INSUFFICIENT_SCOPE");
  });

  test("a key paused by the anomaly detector is rotated into a working key only by a person who may resume keys", async () => {
    const paused = created(await mint(admin, { agent: "ops", scopes: ["tenant:admin"] }));
    const sibling = created(await mint(admin, { agent: "ops", scopes: ["tenant:admin"] }));
    const db = await s.hypha.storage.tenant(t);
    await db.run("INSERT INTO agent_pauses (key_id, reason, paused_at) VALUES (?, 'error_rate', ?)", [
      paused.id,
      s.clock.now(),
    ]);
    const stopped = await s.request("GET", `/v1/tenants/${t}/keys`, { key: paused.key });
    assert.equal(stopped.status, 423);
    const byKey = await rotate(sibling.key, paused.id);
    assert.equal(byKey.status, 403, byKey.text);
    assert.equal(errorCode(byKey), "INSUFFICIENT_SCOPE");
    // A DEVELOPER may resume keys, but may not grant tenant:admin: still refused.
    assert.equal((await rotate(dev, paused.id)).status, 403);
    const pausedWrite = created(await mint(dev, { agent: "writer", scopes: ["write"] }));
    await db.run("INSERT INTO agent_pauses (key_id, reason, paused_at) VALUES (?, 'error_rate', ?)", [
      pausedWrite.id,
      s.clock.now(),
    ]);
    const root = created(await mint(admin, { agent: "root", scopes: ["admin"] }));
    assert.equal(
      (await rotate(root.key, pausedWrite.id)).status,
      403,
      "no key resumes a key, even an admin key",
    );
    const byDeveloper = created(await rotate(dev, pausedWrite.id));
    assert.equal((await s.request("GET", "/v1/memories", { key: byDeveloper.key })).status, 200);
    const byPerson = created(await rotate(admin, paused.id));
    assert.equal((await s.request("GET", `/v1/tenants/${t}/keys`, { key: byPerson.key })).status, 200);
    assert.equal(
      (await s.request("GET", `/v1/tenants/${t}/keys`, { key: paused.key })).status,
      423,
      "the old key stays paused",
    );
  });

  test("a key frozen by its id is rotated into an unfrozen key only by a person who may lift the freeze", async () => {
    const frozen = created(await mint(dev, { agent: "held", scopes: ["write"] }));
    const set = await s.request("PUT", "/admin/override", {
      key: admin,
      body: { scope: "agent", tenant_id: t, key_id: frozen.id, frozen: true, reason: "incident" },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal((await s.request("GET", "/v1/memories", { key: frozen.key })).status, 423);
    const byDeveloper = await rotate(dev, frozen.id);
    assert.equal(byDeveloper.status, 403, byDeveloper.text);
    assert.equal(errorCode(byDeveloper), "FORBIDDEN");
    const root = created(await mint(admin, { agent: "root", scopes: ["admin"] }));
    assert.equal((await rotate(root.key, frozen.id)).status, 403, "no key lifts a freeze");
    const byAdmin = created(await rotate(admin, frozen.id));
    assert.equal((await s.request("GET", "/v1/memories", { key: byAdmin.key })).status, 200);
    assert.equal((await s.request("GET", "/v1/memories", { key: frozen.key })).status, 423);
  });

  test("refused creations and rotations are audited as denied, with the reason", async () => {
    await mint(dev, { agent: "audited", scopes: ["admin"] });
    const db = await s.hypha.storage.tenant(t);
    const rows = await db.all<{ action: string; outcome: string; details: string | null }>(
      "SELECT action, outcome, details FROM audit_events WHERE action = 'key.created' AND outcome = 'denied' ORDER BY seq",
    );
    assert.ok(rows.length > 0);
    assert.ok(rows.some((r) => (r.details ?? "").includes("audited")));
  });
});
