import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { AppError } from "../src/lib/errors.ts";
import type { GovernanceEvent } from "../src/modules/governance/governance.service.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";
import { buildFixture, type Fixture, rightfulKey, routeName, SAMPLES } from "./security-suite.ts";

const freeze = (s: TestServer, key: string, body: Record<string, unknown>) =>
  s.request("PUT", "/admin/override", { key, body: { reason: "incident 42", frozen: true, ...body } });

describe("kill switch", () => {
  let s: TestServer;
  let f: Fixture;
  let admin: string;
  const events: GovernanceEvent[] = [];

  before(async () => {
    s = await startServer();
    s.hypha.onGovernanceEvent((e) => events.push(e));
    f = await buildFixture(s);
    admin = (await signedInUser(s, f.tenantId, ["ADMIN"])).token;
  });
  after(() => s.close());

  test("table: every route an agent key may call answers 423 AGENT_FROZEN under a tenant freeze; people still read and lift it", async () => {
    const res = await freeze(s, admin, { scope: "tenant", tenant_id: f.tenantId });
    assert.equal(res.status, 200, res.text);
    let checked = 0;
    for (const r of s.hypha.app.routeTable) {
      if ("public" in r.auth || "webhook" in r.auth || !r.auth.accepts.includes("agent_key")) continue;
      const sample = SAMPLES[routeName(r)];
      assert.ok(sample, routeName(r));
      const key = sample.agentScope === null ? f.adminKey : rightfulKey(s, f, sample);
      const denied = await s.request(r.method, sample.path(f), {
        key,
        body: sample.body?.(f),
        ...(sample.headers ? { headers: sample.headers } : {}),
      });
      assert.equal(denied.status, 423, `${routeName(r)}: ${denied.text.slice(0, 200)}`);
      assert.equal(errorCode(denied), "AGENT_FROZEN", routeName(r));
      checked++;
    }
    assert.ok(checked >= 20, `checked ${checked}`);
    // People read memories, the audit trail is written, the freeze is listed, and an ADMIN lifts it.
    assert.equal((await s.request("GET", "/v1/memories", { key: admin })).status, 200);
    assert.equal(
      (await s.request("POST", "/v1/memories/recall", { key: admin, body: { query: "own" } })).status,
      200,
    );
    const listed = (await s.request("GET", "/admin/override", { key: admin })).body as {
      items: { scope: string }[];
    };
    assert.deepEqual(
      listed.items.map((i) => i.scope),
      ["tenant"],
    );
    const lift = await s.request("PUT", "/admin/override", {
      key: admin,
      body: { scope: "tenant", tenant_id: f.tenantId, frozen: false, reason: "resolved" },
    });
    assert.equal(lift.status, 200);
    assert.equal((await s.request("GET", "/v1/memories", { key: f.key })).status, 200);
    // Audited in the instance chain (where freezes live) and in the tenant's own chain.
    const control = await s.hypha.storage.control.all<{ action: string }>(
      "SELECT action FROM audit_events WHERE action LIKE 'override.%' AND details LIKE ? ORDER BY seq",
      [`%${f.tenantId}%`],
    );
    const own = await (await s.hypha.storage.tenant(f.tenantId)).all<{ action: string }>(
      "SELECT action FROM audit_events WHERE action LIKE 'override.%' ORDER BY seq",
    );
    for (const rows of [control, own]) {
      assert.deepEqual(
        rows.map((r) => r.action),
        ["override.set", "override.lifted"],
      );
    }
    assert.ok(events.some((e) => e.type === "agent.frozen"));
    // The denials were audited in the tenant's trail.
    const tdb = await s.hypha.storage.tenant(f.tenantId);
    const denied = await tdb.get<{ n: number }>(
      "SELECT count(*) AS n FROM audit_events WHERE action = 'access.denied' AND details LIKE '%AGENT_FROZEN%'",
    );
    assert.ok((denied?.n ?? 0) >= checked);
  });

  test("agent scope: freezing one key or one agent name stops only it", async () => {
    const a = await s.createKey(f.tenantId, { agent: "rogue", scopes: ["write"] });
    const a2 = await s.createKey(f.tenantId, { agent: "rogue", scopes: ["write"] });
    const b = await s.createKey(f.tenantId, { agent: "calm", scopes: ["write"] });
    const read = (key: string) => s.request("GET", "/v1/memories", { key });
    assert.equal(
      (await freeze(s, admin, { scope: "agent", tenant_id: f.tenantId, key_id: a.id })).status,
      200,
    );
    assert.equal((await read(a.key)).status, 423);
    assert.equal((await read(a2.key)).status, 200);
    assert.equal(
      (await freeze(s, admin, { scope: "agent", tenant_id: f.tenantId, agent: "rogue" })).status,
      200,
    );
    assert.equal((await read(a2.key)).status, 423);
    assert.equal((await read(b.key)).status, 200);
    for (const body of [
      { scope: "agent", tenant_id: f.tenantId, key_id: a.id },
      { scope: "agent", tenant_id: f.tenantId, agent: "rogue" },
    ]) {
      await s.request("PUT", "/admin/override", {
        key: admin,
        body: { ...body, frozen: false, reason: "ok" },
      });
    }
    assert.equal((await read(a.key)).status, 200);
  });

  test("global freeze: instance admin only; it stops every tenant's agents, and no agent can lift a freeze", async () => {
    assert.equal((await freeze(s, admin, { scope: "global" })).status, 403);
    assert.equal((await freeze(s, f.adminKey, { scope: "tenant", tenant_id: f.tenantId })).status, 403);
    assert.equal((await freeze(s, s.adminKey, { scope: "global" })).status, 200);
    const other = await s.createKey(f.otherTenantId);
    assert.equal((await s.request("GET", "/v1/memories", { key: other.key })).status, 423);
    assert.equal((await s.request("GET", "/v1/memories", { key: f.key })).status, 423);
    const lift = { scope: "global", frozen: false, reason: "over" };
    assert.equal((await s.request("PUT", "/admin/override", { key: f.adminKey, body: lift })).status, 403);
    assert.equal((await s.request("PUT", "/admin/override", { key: admin, body: lift })).status, 403);
    assert.equal((await s.request("PUT", "/admin/override", { body: lift })).status, 200);
    assert.equal((await s.request("GET", "/v1/memories", { key: other.key })).status, 200);
  });

  test("an ADMIN cannot freeze or list another tenant's agents", async () => {
    const res = await freeze(s, admin, { scope: "tenant", tenant_id: f.otherTenantId });
    assert.equal(res.status, 403);
    await freeze(s, s.adminKey, { scope: "tenant", tenant_id: f.otherTenantId });
    const listed = (await s.request("GET", "/admin/override", { key: admin })).body as { items: unknown[] };
    assert.equal(listed.items.length, 0);
    const all = (await s.request("GET", "/admin/override")).body as { items: unknown[] };
    assert.equal(all.items.length, 1);
    await s.request("PUT", "/admin/override", {
      body: { scope: "tenant", tenant_id: f.otherTenantId, frozen: false, reason: "x" },
    });
  });

  test("freezing cancels the frozen agent's pending approvals (audited)", async () => {
    await s.request("PUT", `/v1/tenants/${f.tenantId}/policy`, {
      key: admin,
      body: { approvals: { medium: 1 } },
    });
    const k = await s.createKey(f.tenantId, { agent: "pending-bot", scopes: ["write"] });
    const res = await s.request("POST", "/v1/memories", {
      key: k.key,
      body: { namespace: "a", content: "wait" },
    });
    const id = (res.body as { approval: { id: string } }).approval.id;
    const frozen = await freeze(s, admin, { scope: "agent", tenant_id: f.tenantId, key_id: k.id });
    assert.equal((frozen.body as { cancelled_approvals: number }).cancelled_approvals, 1);
    const after = (await s.request("GET", `/v1/approvals/${id}`, { key: admin })).body as { status: string };
    assert.equal(after.status, "cancelled");
    const dev = (await signedInUser(s, f.tenantId, ["DEVELOPER"])).token;
    assert.equal((await s.request("POST", `/v1/approvals/${id}/approve`, { key: dev })).status, 409);
    await s.request("PUT", `/v1/tenants/${f.tenantId}/policy`, { key: admin, body: {} });
  });

  test("a freeze survives a restart: a new process on the same data directory refuses the agent", async () => {
    const k = await s.createKey(f.tenantId, { agent: "persist", scopes: ["read"] });
    await freeze(s, admin, { scope: "agent", tenant_id: f.tenantId, key_id: k.id });
    const config = loadConfig(
      {},
      { dataDir: s.dataDir, adminKey: s.adminKey, logLevel: "silent", port: 0, ...s.storageConfig },
    );
    const second = await createApp({ config });
    try {
      await assert.rejects(
        second.services.governance.checkAgentAllowed({ tenantId: f.tenantId, keyId: k.id }),
        (err) => err instanceof AppError && err.code === "AGENT_FROZEN",
      );
      await second.services.governance.checkAgentAllowed({ tenantId: f.tenantId, keyId: f.keyId });
    } finally {
      await second.close();
    }
  });

  test("the kill-switch function covers work without a key (ingestion, outbound delivery) by tenant", async () => {
    const gov = s.hypha.services.governance;
    await gov.checkAgentAllowed({ tenantId: f.otherTenantId });
    await freeze(s, s.adminKey, { scope: "tenant", tenant_id: f.otherTenantId });
    await assert.rejects(gov.checkAgentAllowed({ tenantId: f.otherTenantId }), /frozen/);
    await s.request("PUT", "/admin/override", {
      body: { scope: "tenant", tenant_id: f.otherTenantId, frozen: false, reason: "x" },
    });
  });

  test("override bodies are validated: scope and target must agree", async () => {
    for (const body of [
      { scope: "global", tenant_id: f.tenantId },
      { scope: "tenant" },
      { scope: "agent", tenant_id: f.tenantId },
      { scope: "agent", tenant_id: f.tenantId, agent: "a", key_id: f.keyId },
    ]) {
      const res = await freeze(s, s.adminKey, body);
      assert.equal(res.status, 422, JSON.stringify(body));
    }
  });
});
