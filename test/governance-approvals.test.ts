import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { GovernanceEvent } from "../src/modules/governance/governance.service.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";

type Approval = { id: string; status: string; approvals: number; required_approvals: number; tier: string };
const approvalOf = (body: unknown) => (body as { approval: Approval }).approval;

describe("risk tiers and approvals", () => {
  let s: TestServer;
  let t: string;
  let agent: { id: string; key: string };
  let admin: string;
  let dev1: string;
  let dev2: string;
  const events: GovernanceEvent[] = [];

  const setPolicy = async (policy: unknown, tenantId = t) => {
    const key = tenantId === t ? admin : s.adminKey;
    const res = await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { key, body: policy });
    assert.equal(res.status, 200, res.text);
  };
  const store = (key: string, content: string, headers: Record<string, string> = {}) =>
    s.request("POST", "/v1/memories", { key, body: { namespace: "ops", content }, headers });
  const vote = (token: string, id: string, decision: "approve" | "reject" = "approve") =>
    s.request("POST", `/v1/approvals/${id}/${decision}`, { key: token });
  const count = async (key: string) =>
    ((await s.request("GET", "/v1/memories?namespace=ops", { key })).body as { items: unknown[] }).items
      .length;

  before(async () => {
    s = await startServer();
    s.hypha.onGovernanceEvent((e) => events.push(e));
    t = await s.createTenant();
    agent = await s.createKey(t, { agent: "deployer", scopes: ["write"] });
    admin = (await signedInUser(s, t, ["ADMIN"])).token;
    dev1 = (await signedInUser(s, t, ["DEVELOPER"])).token;
    dev2 = (await signedInUser(s, t, ["DEVELOPER"])).token;
  });
  after(() => s.close());

  test("the default policy needs no approval: tiers are documented and agents run as before", async () => {
    const res = await s.request("GET", `/v1/tenants/${t}/policy`, { key: admin });
    assert.equal(res.status, 200);
    const p = res.body as { approvals: Record<string, number>; version: number };
    assert.deepEqual(p.approvals, { low: 0, medium: 0, high: 0, critical: 0 });
    assert.equal(p.version, 0);
    assert.equal((await store(agent.key, "runs at once")).status, 201);
  });

  test("only ADMIN users and the instance admin set the policy; an agent or a DEVELOPER cannot", async () => {
    const body = { approvals: { critical: 1 } };
    for (const key of [dev1, agent.key, (await s.createKey(t, { scopes: ["admin"] })).key]) {
      const res = await s.request("PUT", `/v1/tenants/${t}/policy`, { key, body });
      assert.equal(res.status, 403, res.text);
    }
    const byInstance = await s.request("PUT", `/v1/tenants/${t}/policy`, { body: {} });
    assert.equal(byInstance.status, 200);
    const unknown = await s.request("PUT", `/v1/tenants/${t}/policy`, {
      key: admin,
      body: { approvals: { low: 99 } },
    });
    assert.equal(unknown.status, 422);
  });

  test("the caller cannot choose a tier: a tier field or header changes nothing", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const res = await s.request("POST", "/v1/memories", {
      key: agent.key,
      body: { namespace: "ops", content: "tier games" },
      headers: { "x-risk-tier": "low" },
    });
    assert.equal(res.status, 202);
    assert.equal(approvalOf(res.body).tier, "medium");
    const withField = await s.request("POST", "/v1/memories", {
      key: agent.key,
      body: { namespace: "ops", content: "x", tier: "low" },
    });
    assert.equal(withField.status, 422);
  });

  test("an action that needs approval answers 202 and does not run; approved, it runs exactly once with X-Approval-Id", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const before = await count(dev1);
    const res = await store(agent.key, "rotate the database password");
    assert.equal(res.status, 202);
    const a = approvalOf(res.body);
    assert.equal(a.status, "pending");
    assert.equal(await count(dev1), before, "not executed");
    const listed = (await s.request("GET", "/v1/approvals?status=pending", { key: dev1 })).body as {
      items: Approval[];
    };
    assert.ok(listed.items.some((x) => x.id === a.id));
    const ownView = await s.request("GET", `/v1/approvals/${a.id}`, { key: agent.key });
    assert.equal(ownView.status, 200);

    const decided = await vote(dev1, a.id);
    assert.equal(decided.status, 200, decided.text);
    assert.equal((decided.body as Approval).status, "approved");
    const run = await store(agent.key, "rotate the database password", { "x-approval-id": a.id });
    assert.equal(run.status, 201, run.text);
    assert.equal(await count(dev1), before + 1);

    // Replay: the approval is consumed.
    const replay = await store(agent.key, "rotate the database password", { "x-approval-id": a.id });
    assert.equal(replay.status, 409);
    assert.equal(errorCode(replay), "APPROVAL_INVALID");
    assert.equal(await count(dev1), before + 1);
    assert.equal(
      ((await s.request("GET", `/v1/approvals/${a.id}`, { key: dev1 })).body as Approval).status,
      "consumed",
    );

    const db = await s.hypha.storage.tenant(t);
    const trail = await db.all<{ action: string }>(
      "SELECT action FROM audit_events WHERE EXISTS (SELECT 1 FROM json_each(target_ids) j WHERE j.value = ?) ORDER BY seq",
      [a.id],
    );
    assert.deepEqual(
      trail.map((r) => r.action),
      ["approval.requested", "approval.decided", "approval.consumed"],
    );
    assert.ok(events.some((e) => e.type === "approval.requested" && e.data.approval_id === a.id));
    assert.ok(events.some((e) => e.type === "approval.decided" && e.data.approval_id === a.id));
  });

  test("a changed payload is refused: the approval is bound to the hash of method, route, params and body", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const a = approvalOf((await store(agent.key, "delete staging")).body);
    await vote(dev1, a.id);
    const changed = await store(agent.key, "delete production", { "x-approval-id": a.id });
    assert.equal(changed.status, 409);
    assert.equal(errorCode(changed), "APPROVAL_INVALID");
    const otherRoute = await s.request("PATCH", "/v1/memories/mem_01M802E5JD4FJMYM7SYYST5T6W", {
      key: agent.key,
      body: { content: "delete staging" },
      headers: { "x-approval-id": a.id },
    });
    assert.equal(otherRoute.status, 409);
    // Another key of the same agent cannot spend it either.
    const sibling = await s.createKey(t, { agent: "deployer", scopes: ["write"] });
    const stolen = await store(sibling.key, "delete staging", { "x-approval-id": a.id });
    assert.equal(stolen.status, 409);
    // The refused attempts did not spend it.
    assert.equal((await store(agent.key, "delete staging", { "x-approval-id": a.id })).status, 201);
  });

  test("no self-approval: a person cannot approve what they requested, nor what a key they created requested", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const own = approvalOf((await store(dev1, "my own change")).body);
    const self = await vote(dev1, own.id);
    assert.equal(self.status, 403, self.text);
    assert.equal((await vote(dev2, own.id)).status, 200);
    assert.equal((await store(dev1, "my own change", { "x-approval-id": own.id })).status, 201);

    const created = await s.request("POST", `/v1/tenants/${t}/keys`, {
      key: dev2,
      body: { agent: "dev2-bot", scopes: ["write"] },
    });
    assert.equal(created.status, 201);
    const botKey = (created.body as { key: string }).key;
    const a = approvalOf((await store(botKey, "bot change")).body);
    assert.equal((await vote(dev2, a.id)).status, 403, "the key's creator may not vote");
    assert.equal((await vote(dev1, a.id)).status, 200);
  });

  test("no self-approval through keys made by keys: a key's owner carries over when a key creates or rotates a key", async () => {
    await setPolicy({ approvals: { high: 1 } });
    const mint = async (key: string, body: Record<string, unknown>) => {
      const res = await s.request("POST", `/v1/tenants/${t}/keys`, {
        key,
        body: { agent: "chain", ...body },
      });
      assert.equal(res.status, 201, res.text);
      return res.body as { id: string; key: string };
    };
    const exportAs = (key: string, headers: Record<string, string> = {}) =>
      s.request("GET", "/v1/memories/export", { key, headers });
    const k0 = await mint(dev2, { scopes: ["admin"], capabilities: ["keys", "memories.export"] });
    const direct = approvalOf((await exportAs(k0.key)).body);
    assert.equal((await vote(dev2, direct.id)).status, 403, "the person's own key");
    const k1 = await mint(k0.key, { scopes: ["read"], capabilities: ["memories.export"] });
    const res = await exportAs(k1.key);
    assert.equal(res.status, 202, res.text);
    const a = approvalOf(res.body);
    const self = await vote(dev2, a.id);
    assert.equal(self.status, 403, self.text);
    assert.equal(errorCode(self), "FORBIDDEN");
    assert.equal((await exportAs(k1.key, { "x-approval-id": a.id })).status, 409, "not approved");
    // Rotation by a key keeps the owner too: k0 rotates k1, and itself.
    const rotated = await s.request("POST", `/v1/tenants/${t}/keys/${k1.id}/rotate`, {
      key: k0.key,
      body: { grace_seconds: 0 },
    });
    assert.equal(rotated.status, 201, rotated.text);
    const k1r = (rotated.body as { key: string }).key;
    const b = approvalOf((await exportAs(k1r)).body);
    assert.equal((await vote(dev2, b.id)).status, 403, "a rotated key keeps its owner");
    const selfRotated = await s.request("POST", `/v1/tenants/${t}/keys/${k0.id}/rotate`, {
      key: k0.key,
      body: { grace_seconds: 0 },
    });
    assert.equal(selfRotated.status, 201, selfRotated.text);
    const c = approvalOf((await exportAs((selfRotated.body as { key: string }).key)).body);
    assert.equal((await vote(dev2, c.id)).status, 403);
    // Another person decides.
    assert.equal((await vote(dev1, a.id)).status, 200);
    assert.equal((await exportAs(k1r, { "x-approval-id": a.id })).status, 409, "bound to the key that asked");
    await setPolicy({});
  });

  test("a key's maker is kept with the key: the owner outlives the audit trail, and keys made before fall back to it", async () => {
    await setPolicy({ approvals: { high: 1 } });
    const mint = async (key: string, agentName: string, body: Record<string, unknown>) => {
      const res = await s.request("POST", `/v1/tenants/${t}/keys`, {
        key,
        body: { agent: agentName, ...body },
      });
      assert.equal(res.status, 201, res.text);
      return res.body as { id: string; key: string };
    };
    const exportAs = (key: string) => s.request("GET", "/v1/memories/export", { key });
    const db = await s.hypha.storage.tenant(t);
    // Made before the maker was kept (made_by null): the audit trail still names the owner.
    const legacy0 = await mint(dev2, "legacy", {
      scopes: ["admin"],
      capabilities: ["keys", "memories.export"],
    });
    const legacy1 = await mint(legacy0.key, "legacy", {
      scopes: ["read"],
      capabilities: ["memories.export"],
    });
    await db.run("UPDATE api_keys SET made_by = NULL WHERE id IN (?, ?)", [legacy0.id, legacy1.id]);
    const a = approvalOf((await exportAs(legacy1.key)).body);
    assert.equal((await vote(dev2, a.id)).status, 403, "owner found through the trail");
    // Kept with the key: the owner holds after the trail's key events are gone (retention).
    const k0 = await mint(dev2, "kept", { scopes: ["admin"], capabilities: ["keys", "memories.export"] });
    const k1 = await mint(k0.key, "kept", { scopes: ["read"], capabilities: ["memories.export"] });
    await s.tamper(t, "DELETE FROM audit_events WHERE action IN ('key.created', 'key.rotated')");
    const b = approvalOf((await exportAs(k1.key)).body);
    assert.equal((await vote(dev2, b.id)).status, 403, "owner found through the keys");
    await setPolicy({});
  });

  test("agents, VIEWERs and the instance admin cannot vote; the ADMIN's vote counts once (no quorum bypass)", async () => {
    await setPolicy({ approvals: { medium: 2 } });
    const a = approvalOf((await store(agent.key, "two people must agree")).body);
    assert.equal(a.required_approvals, 2);
    const viewer = (await signedInUser(s, t, ["VIEWER"])).token;
    for (const key of [agent.key, viewer, s.adminKey]) assert.equal((await vote(key, a.id)).status, 403);
    const first = await vote(admin, a.id);
    assert.equal((first.body as Approval).status, "pending", "an ADMIN is one vote");
    const again = await vote(admin, a.id);
    assert.equal(again.status, 409, "one vote per person");
    assert.equal((await store(agent.key, "two people must agree", { "x-approval-id": a.id })).status, 409);
    const second = await vote(dev1, a.id);
    assert.equal((second.body as Approval).status, "approved");
    assert.equal((second.body as Approval).approvals, 2);
  });

  test("concurrent approvals: exactly one decision wins, the other is refused", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    for (let round = 0; round < 5; round++) {
      const a = approvalOf((await store(agent.key, `race ${round}`)).body);
      const results = await Promise.all([vote(dev1, a.id), vote(dev2, a.id), vote(admin, a.id, "reject")]);
      const ok = results.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, results.map((r) => r.status).join(","));
      assert.ok(results.filter((r) => r.status !== 200).every((r) => r.status === 409));
      const final = (await s.request("GET", `/v1/approvals/${a.id}`, { key: dev1 })).body as Approval;
      const winner = ok[0]?.body as Approval | undefined;
      assert.equal(final.status, winner?.status);
    }
  });

  test("concurrent retries with one approval: the action runs once", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const a = approvalOf((await store(agent.key, "only once")).body);
    await vote(dev1, a.id);
    const before = await count(dev1);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store(agent.key, "only once", { "x-approval-id": a.id })),
    );
    assert.equal(results.filter((r) => r.status === 201).length, 1);
    assert.equal(await count(dev1), before + 1);
  });

  test("expiry: a pending approval cannot be decided after its time, an approved one cannot be spent", async () => {
    await setPolicy({ approvals: { medium: 1 }, approval_ttl_seconds: 600 });
    const pending = approvalOf((await store(agent.key, "too late")).body);
    const approved = approvalOf((await store(agent.key, "approved but late")).body);
    await vote(dev1, approved.id);
    s.clock.advance(601_000);
    const late = await vote(dev1, pending.id);
    assert.equal(late.status, 409);
    assert.equal(
      ((await s.request("GET", `/v1/approvals/${pending.id}`, { key: dev1 })).body as Approval).status,
      "expired",
    );
    const spent = await store(agent.key, "approved but late", { "x-approval-id": approved.id });
    assert.equal(spent.status, 409);
    assert.equal(errorCode(spent), "APPROVAL_INVALID");
  });

  test("a rejection refuses the action; a rejected approval cannot be used", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const a = approvalOf((await store(agent.key, "rejected change")).body);
    assert.equal(((await vote(dev1, a.id, "reject")).body as Approval).status, "rejected");
    assert.equal((await store(agent.key, "rejected change", { "x-approval-id": a.id })).status, 409);
    assert.equal((await vote(dev2, a.id)).status, 409);
  });

  test("another tenant's approval looks absent to its people and cannot be spent by its agents", async () => {
    await setPolicy({ approvals: { medium: 1 } });
    const a = approvalOf((await store(agent.key, "tenant bound")).body);
    const other = await s.createTenant();
    const otherDev = (await signedInUser(s, other, ["DEVELOPER"])).token;
    const otherAgent = await s.createKey(other, { agent: "deployer", scopes: ["write"] });
    await setPolicy({ approvals: { medium: 1 } }, other);
    assert.equal((await vote(otherDev, a.id)).status, 404);
    assert.equal((await s.request("GET", `/v1/approvals/${a.id}`, { key: otherDev })).status, 404);
    assert.equal((await s.request("GET", `/v1/approvals/${a.id}`, { key: otherAgent.key })).status, 404);
    const spend = await store(otherAgent.key, "tenant bound", { "x-approval-id": a.id });
    assert.equal(spend.status, 404);
    assert.equal(
      ((await s.request("GET", `/v1/approvals/${a.id}`, { key: dev1 })).body as Approval).status,
      "pending",
    );
  });

  test("tiers: bulk delete and export are high, key administration critical; overrides move an operation", async () => {
    await setPolicy({ approvals: { high: 1 } });
    assert.equal((await store(agent.key, "medium runs")).status, 201);
    const bulk = await s.request("DELETE", "/v1/memories", { key: agent.key, body: { entity: "nothing" } });
    assert.equal(bulk.status, 202);
    assert.equal(approvalOf(bulk.body).tier, "high");
    assert.equal((await s.request("GET", "/v1/memories/export", { key: agent.key })).status, 202);
    await setPolicy({ approvals: { critical: 1 } });
    const keyAdmin = await s.createKey(t, { scopes: ["admin"] });
    const create = await s.request("POST", `/v1/tenants/${t}/keys`, {
      key: keyAdmin.key,
      body: { agent: "x", scopes: ["read"] },
    });
    assert.equal(create.status, 202);
    assert.equal(approvalOf(create.body).tier, "critical");
    await setPolicy({ approvals: { critical: 1 }, tiers: { storeMemory: "critical" } });
    assert.equal((await store(agent.key, "now critical")).status, 202);
    const recall = await s.request("POST", "/v1/memories/recall", { key: agent.key, body: { query: "x" } });
    assert.equal(recall.status, 200, "recall stays low");
    await setPolicy({});
  });
});
