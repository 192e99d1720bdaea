import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ApprovalRequiredError, createHyphaClient, HyphaError } from "../src/client/index.ts";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";

describe("typed client: governance", () => {
  let s: TestServer;
  let tenantId: string;
  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
  });
  after(() => s.close());

  test("policy, approvals, overrides and key resume round-trip through the client", async () => {
    const admin = createHyphaClient({ url: s.url, key: (await signedInUser(s, tenantId, ["ADMIN"])).token });
    const dev = createHyphaClient({
      url: s.url,
      key: (await signedInUser(s, tenantId, ["DEVELOPER"])).token,
    });
    const created = await s.createKey(tenantId, { scopes: ["write"] });
    const agent = createHyphaClient({ url: s.url, key: created.key, maxRetries: 0 });

    const policy = await admin.putTenantPolicy(tenantId, {
      tiers: { bulkDeleteMemories: "high" },
      approvals: { high: 1 },
    });
    assert.equal(policy.approvals.high, 1);
    assert.equal((await admin.getTenantPolicy(tenantId)).tiers.bulkDeleteMemories, "high");

    // A gated call answers 202 with the pending approval: the client throws it as ApprovalRequiredError.
    const gated = await agent.bulkDeleteMemories({ entity: "nobody" }).catch((e: unknown) => e);
    assert.ok(gated instanceof ApprovalRequiredError, String(gated));
    assert.equal(gated.code, "APPROVAL_REQUIRED");
    assert.equal(gated.status, 202);
    const id = gated.approval.id;
    assert.equal((await agent.getApproval(id)).status, "pending");
    assert.ok((await dev.listApprovals({ status: "pending" })).items.some((a) => a.id === id));
    assert.equal((await dev.approveApproval(id, { comment: "fine" })).status, "approved");
    // The agent repeats the identical call bound to the approval: it runs once.
    const approved = createHyphaClient({ url: s.url, key: created.key, maxRetries: 0, approvalId: id });
    assert.deepEqual(await approved.bulkDeleteMemories({ entity: "nobody" }), { deleted: 0 });
    await assert.rejects(
      approved.bulkDeleteMemories({ entity: "nobody" }),
      (e: HyphaError) => e.status === 409,
    );
    const second = await agent.bulkDeleteMemories({ entity: "someone" }).catch((e: unknown) => e);
    assert.ok(second instanceof ApprovalRequiredError);
    assert.equal((await dev.rejectApproval(second.approval.id)).status, "rejected");

    const frozen = await admin.setOverride({
      scope: "agent",
      tenant_id: tenantId,
      key_id: created.id,
      frozen: true,
      reason: "client",
    });
    assert.equal(frozen.frozen, true);
    assert.deepEqual(
      (await admin.getOverrides()).items.map((o) => o.key_id),
      [created.id],
    );
    await assert.rejects(
      agent.listMemories(),
      (e: unknown) => e instanceof HyphaError && e.code === "AGENT_FROZEN",
    );
    await admin.setOverride({
      scope: "agent",
      tenant_id: tenantId,
      key_id: created.id,
      frozen: false,
      reason: "ok",
    });

    const resumed = await dev.resumeKey(tenantId, created.id);
    assert.deepEqual(resumed, { key_id: created.id, paused: false, resumed: false });
  });
});
