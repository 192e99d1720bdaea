import assert from "node:assert/strict";
import { test } from "node:test";
import { newId } from "../../src/lib/ids.ts";
import { auditStore } from "../../src/modules/audit/audit.store.ts";
import type { AuditEvent } from "../../src/modules/audit/chain.ts";
import { sqlReplayStore } from "../../src/modules/connectors/connectors.store.ts";
import { governanceStore } from "../../src/modules/governance/governance.store.ts";
import { grantsStore } from "../../src/modules/grants/grants.store.ts";
import { identityStore } from "../../src/modules/identity/identity.store.ts";
import { keysStore } from "../../src/modules/keys/keys.store.ts";
import type { MemoryRow } from "../../src/modules/memories/memories.schemas.ts";
import { memoriesStore, type Visibility } from "../../src/modules/memories/memories.store.ts";
import { memoryRow } from "../../src/modules/memories/memory-row.fixture.ts";
import { CONTEXT_WEIGHT, IMPACT_SCALE, idfOf, impactOf } from "../../src/modules/memories/recall-index.ts";
import { plainCodec, queryTokensOf } from "../../src/modules/memories/row-codec.ts";
import { recallTokens } from "../../src/modules/memories/tokens.ts";
import { tenantsStore } from "../../src/modules/tenants/tenants.store.ts";
import { createLeases } from "../../src/platform/leases.ts";
import type { Dialect, Storage } from "../../src/platform/storage/port.ts";

/**
 * Each feature store's contract, run on every adapter: the store's own SQL (upserts, JSON helpers,
 * boolean literals, full-text ranking) gives the same answers on SQLite and on PostgreSQL.
 */
export function runStoreConformance(
  name: string,
  open: () => Promise<{ storage: Storage; tenantIds: [string, string]; cleanup(): Promise<void> }>,
) {
  const withStorage = (
    title: string,
    fn: (s: Storage, tenants: [string, string]) => Promise<void>,
    only?: { dialect: Dialect; why: string },
  ) =>
    test(`${name}: ${title}`, async (t) => {
      const { storage, tenantIds, cleanup } = await open();
      try {
        if (only && storage.control.dialect !== only.dialect) {
          t.skip(only.why);
          return;
        }
        await fn(storage, tenantIds);
      } finally {
        await cleanup();
      }
    });

  const NOW = Date.parse("2026-06-01T12:00:00Z");

  const memory = (tenantId: string, over: Partial<MemoryRow> = {}): Omit<MemoryRow, "seq"> =>
    memoryRow(0, "", {
      id: newId("memory"),
      tenant_id: tenantId,
      namespace: "default",
      type: "fact",
      agent: "agent-1",
      owner: "agent-1",
      created_at: NOW,
      updated_at: NOW,
      ...over,
    });

  const everyone = (tenantId: string, principal: string | null = null): Visibility => ({
    tenantId,
    now: NOW,
    namespaces: null,
    principal,
    mode: "read",
    grants: [],
  });

  const event = (tenantId: string, seq: number, action: string, targets: string[]): AuditEvent => ({
    seq,
    ts: new Date(NOW).toISOString(),
    tenantId,
    actorType: "user",
    actorId: "usr_1",
    action,
    targetIds: targets,
    outcome: "success",
    requestId: null,
    clientIp: null,
    userAgent: null,
    prevHash: "0".repeat(64),
    hash: `${seq}`.padStart(64, "0"),
  });

  withStorage("memories: BM25 ranks the denser match first and only current versions", async (s, [t]) => {
    const db = await s.tenant(t);
    const dense = memory(t, { content: "deploy the deploy pipeline: deploying twice" });
    const sparse = memory(t, {
      content: "a long note that mentions deploy once among many other words about weather and lunch",
    });
    const other = memory(t, { content: "nothing relevant here" });
    const seqs = await db.transaction(async (tx) => [
      await memoriesStore.insert(tx, dense),
      await memoriesStore.insert(tx, sparse),
      await memoriesStore.insert(tx, other),
    ]);
    const found = await memoriesStore.search(db, everyone(t), {}, queryTokensOf(plainCodec, ["deploy"]), 10);
    assert.deepEqual(
      found.map((c) => c.id),
      [dense.id, sparse.id],
    );
    assert.ok((found[0]?.bm25 ?? 0) > (found[1]?.bm25 ?? 0));
    await db.transaction((tx) => memoriesStore.retire(tx, seqs[0] as number));
    const after = await memoriesStore.search(db, everyone(t), {}, queryTokensOf(plainCodec, ["deploy"]), 10);
    assert.deepEqual(
      after.map((c) => c.id),
      [sparse.id],
    );
  });

  withStorage(
    "memories: the recall index's BM25 (k1 1.2, b 0.75, average length at write time) plus the neighbours' context, to 1e-9",
    async (s, [t]) => {
      const db = await s.tenant(t);
      const texts = [
        "deploy the deploy pipeline",
        "deploy once among other words",
        "nothing relevant",
        "cats sleep",
        "rivers flow north",
      ];
      await db.transaction(async (tx) => {
        for (const content of texts) await memoriesStore.insert(tx, memory(t, { content }));
      });
      // Each memory's length and the average length of those written before it (its own for the first).
      const lengths = texts.map((x) => recallTokens(x).length);
      const avgAt = (i: number) =>
        i === 0 ? (lengths[0] ?? 0) : lengths.slice(0, i).reduce((a, b) => a + b, 0) / i;
      const term = recallTokens("deploy")[0] ?? "";
      const own = (i: number) => {
        const tf = recallTokens(texts[i] ?? "").filter((x) => x === term).length;
        return (idfOf(2, texts.length) * impactOf(tf, lengths[i] ?? 0, avgAt(i))) / IMPACT_SCALE;
      };
      const found = await memoriesStore.search(
        db,
        everyone(t),
        {},
        queryTokensOf(plainCodec, ["deploy"]),
        10,
      );
      assert.equal(found.length, 2);
      // The two matches were written one after the other in the same namespace and type: each
      // borrows half the other's BM25 as context (CONTEXT_WEIGHT).
      const [dense, sparse] = [own(0), own(1)];
      for (const [c, mine, lent] of [
        [found[0], dense, CONTEXT_WEIGHT * sparse],
        [found[1], sparse, CONTEXT_WEIGHT * dense],
      ] as const) {
        assert.ok(Math.abs((c?.context ?? 0) - lent) < 1e-9, `${c?.context} vs ${lent}`);
        assert.ok(Math.abs((c?.bm25 ?? 0) - mine - lent) < 1e-9, `${c?.bm25} vs ${mine + lent}`);
      }
    },
  );

  withStorage("memories: a search never returns another tenant's memory", async (s, [a, b]) => {
    const da = await s.tenant(a);
    const dbb = await s.tenant(b);
    await da.transaction((tx) => memoriesStore.insert(tx, memory(a, { content: "zanzibar secret plan" })));
    assert.equal(
      (await memoriesStore.search(dbb, everyone(b), {}, queryTokensOf(plainCodec, ["zanzibar"]), 10)).length,
      0,
    );
    assert.equal(
      (await memoriesStore.search(da, everyone(a), {}, queryTokensOf(plainCodec, ["zanzibar"]), 10)).length,
      1,
    );
  });

  withStorage("memories: tag, metadata and private-access filters give the same answers", async (s, [t]) => {
    const db = await s.tenant(t);
    const tagged = memory(t, {
      content: "alpha",
      tags: '["red","blue"]',
      metadata: '{"env":"prod","n":3,"on":true}',
    });
    const plain = memory(t, { content: "beta", metadata: '{"env":"dev","n":4,"on":false,"gone":null}' });
    const secret = memory(t, {
      content: "gamma",
      access: "private",
      owner: "agent-9",
      allowed_agents: '["agent-2"]',
    });
    await db.transaction(async (tx) => {
      for (const m of [tagged, plain, secret]) await memoriesStore.insert(tx, m);
    });
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();
    assert.deepEqual(ids(await memoriesStore.list(db, everyone(t), { tags: ["red"] }, undefined, 10)), [
      tagged.id,
    ]);
    for (const [metadata, expected] of [
      [{ env: "prod" }, [tagged.id]],
      [{ n: 4 }, [plain.id]],
      [{ on: true }, [tagged.id]],
      [{ on: false }, [plain.id]],
      [{ gone: null }, ids([tagged, plain, secret])],
    ] as const) {
      assert.deepEqual(
        ids(await memoriesStore.list(db, everyone(t), { metadata }, undefined, 10)),
        [...expected].sort(),
        JSON.stringify(metadata),
      );
    }
    const seen = async (who: string) =>
      (await memoriesStore.list(db, everyone(t, who), {}, undefined, 10)).some((r) => r.id === secret.id);
    assert.equal(await seen("agent-2"), true);
    assert.equal(await seen("agent-9"), true);
    assert.equal(await seen("agent-3"), false);
    const ns = await memoriesStore.namespaces(db, everyone(t), 10);
    assert.deepEqual(
      ns.map((n) => [n.namespace, Number(n.count)]),
      [["default", 3]],
    );
  });

  withStorage(
    "memories: a hard delete removes every version, its labels and its index entry",
    async (s, [t]) => {
      const db = await s.tenant(t);
      const m = memory(t, { content: "erase me entirely", tags: '["x"]' });
      await db.transaction((tx) => memoriesStore.insert(tx, m));
      assert.equal(await db.transaction((tx) => memoriesStore.hardDelete(tx, t, [m.id])), 1);
      assert.equal(await memoriesStore.exists(db, t, m.id), false);
      assert.equal(
        (await memoriesStore.search(db, everyone(t), {}, queryTokensOf(plainCodec, ["erase"]), 10)).length,
        0,
      );
      assert.equal((await db.all("SELECT * FROM memory_labels")).length, 0);
    },
  );

  withStorage("governance: the policy upsert versions per tenant", async (s, [a, b]) => {
    const da = await s.tenant(a);
    const dbb = await s.tenant(b);
    assert.equal(await da.transaction((tx) => governanceStore.putPolicy(tx, "{}", NOW, "usr_1")), 1);
    assert.equal(await da.transaction((tx) => governanceStore.putPolicy(tx, '{"x":1}', NOW, "usr_1")), 2);
    assert.equal(await dbb.transaction((tx) => governanceStore.putPolicy(tx, "{}", NOW, "usr_2")), 1);
    assert.equal((await governanceStore.policy(da))?.policy, '{"x":1}');
    assert.equal((await governanceStore.policy(dbb))?.policy, "{}");
  });

  withStorage("governance: the key maker is found through the audit targets (JSON array)", async (s, [t]) => {
    const db = await s.tenant(t);
    await db.transaction(async (tx) => {
      await auditStore.insert(tx, newId("event"), event(t, 1, "memory.stored", ["key_other"]), NOW);
      await auditStore.insert(
        tx,
        newId("event"),
        event(t, 2, "key.created", ["key_other", "key_wanted"]),
        NOW,
      );
    });
    assert.deepEqual(
      { ...(await governanceStore.keyMaker(db, "key_wanted")) },
      { actor_type: "user", actor_id: "usr_1" },
    );
    assert.equal(await governanceStore.keyMaker(db, "key_absent"), undefined);
  });

  withStorage("audit: events are append-only and pages filter by action prefix", async (s, [t]) => {
    const db = await s.tenant(t);
    await db.transaction(async (tx) => {
      await auditStore.insert(tx, newId("event"), event(t, 1, "key.created", []), NOW);
      await auditStore.insert(tx, newId("event"), event(t, 2, "memory.stored", []), NOW);
    });
    assert.equal((await auditStore.head(db))?.seq, 2);
    const keys = await auditStore.page(db, { action: "key.*" }, undefined, 10);
    assert.deepEqual(
      keys.map((r) => r.action),
      ["key.created"],
    );
    assert.equal((await auditStore.page(db, {}, undefined, 10)).length, 2);
    await assert.rejects(db.run("UPDATE audit_events SET action = 'x'"), /append-only/);
    await assert.rejects(db.run("DELETE FROM audit_events"), /append-only/);
  });

  withStorage("identity: the OIDC configuration upserts per tenant", async (s, [a, b]) => {
    const da = await s.tenant(a);
    const dbb = await s.tenant(b);
    await da.transaction((tx) => identityStore.putOidcConfig(tx, '{"v":1}', NOW));
    await da.transaction((tx) => identityStore.putOidcConfig(tx, '{"v":2}', NOW + 1));
    assert.equal((await identityStore.oidcConfig(da))?.config, '{"v":2}');
    assert.equal(await identityStore.oidcConfig(dbb), undefined);
  });

  withStorage(
    "keys: a key is found by id and hash in its tenant only, and revoked once",
    async (s, [a, b]) => {
      const da = await s.tenant(a);
      const dbb = await s.tenant(b);
      const row = {
        id: newId("key"),
        tenant_id: a,
        agent: "agent-1",
        name: null,
        hash: `h-${newId("key")}`,
        start: "hyk_abcd",
        scopes: '["memories:read"]',
        capabilities: null,
        namespaces: null,
        rate_limit_per_minute: null,
        created_at: NOW,
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
        rotated_to: null,
        made_by: "user:usr_1",
      };
      await da.transaction((tx) => keysStore.insert(tx, row));
      assert.equal((await keysStore.byHash(da, a, row.hash))?.id, row.id);
      assert.equal((await keysStore.byId(da, a, row.id))?.made_by, "user:usr_1", "who made it is kept");
      assert.equal(await keysStore.byId(dbb, b, row.id), undefined);
      assert.equal(
        await keysStore.byId(dbb, a, row.id),
        undefined,
        "even when asked with the right tenant id",
      );
      assert.equal((await da.transaction((tx) => keysStore.revoke(tx, a, row.id, NOW))).changes, 1);
      assert.equal((await da.transaction((tx) => keysStore.revoke(tx, a, row.id, NOW))).changes, 0);
    },
  );

  withStorage("connectors: a delivery id is seen once within its replay window", async (s, [t]) => {
    const db = await s.tenant(t);
    const seen = (now: number, expires: number) =>
      db.transaction((tx) => sqlReplayStore(tx, now).seen(t, "con_1", "d-1", expires));
    assert.equal(await seen(NOW, NOW + 1000), false);
    assert.equal(await seen(NOW + 10, NOW + 1010), true);
    assert.equal(await seen(NOW + 2000, NOW + 3000), false, "after the window the id is new again");
  });

  withStorage("grants: active grants exclude revoked and expired ones", async (s, [t]) => {
    const db = await s.tenant(t);
    const grant = (over: { expires_at?: number | null; revoked_at?: number | null }) => ({
      id: newId("grant"),
      tenant_id: t,
      grantee_namespace: "a",
      source_namespace: "b",
      types: null,
      created_at: NOW,
      expires_at: null,
      revoked_at: null,
      ...over,
    });
    const live = grant({});
    await db.transaction(async (tx) => {
      await grantsStore.insert(tx, live);
      await grantsStore.insert(tx, grant({ revoked_at: NOW }));
      await grantsStore.insert(tx, grant({ expires_at: NOW - 1 }));
    });
    assert.deepEqual(
      (await grantsStore.active(db, t, NOW)).map((g) => g.id),
      [live.id],
    );
  });

  withStorage("tenants: names are unique in the control store", async (s) => {
    const a = newId("tenant");
    const row = {
      id: a,
      name: `n-${a}`,
      status: "active" as const,
      encryption: "aes-gcm" as const,
      storage: "sqlite" as const,
      created_at: NOW,
    };
    await s.control.transaction((tx) => tenantsStore.insert(tx, row));
    assert.equal((await tenantsStore.byName(s.control, row.name))?.id, a);
    await assert.rejects(
      s.control.transaction((tx) => tenantsStore.insert(tx, { ...row, id: newId("tenant") })),
    );
  });

  withStorage("leases: one holder at a time, renewed by its holder, taken over once expired", async (s) => {
    const leases = createLeases(s.control);
    assert.equal(await leases.acquire("job", "gw-a", NOW, 1000), true);
    assert.equal(await leases.acquire("job", "gw-b", NOW + 10, 1000), false);
    assert.equal(await leases.acquire("job", "gw-a", NOW + 500, 1000), true, "renewed");
    assert.equal(await leases.acquire("job", "gw-b", NOW + 1200, 1000), false, "still held after renewal");
    assert.equal(await leases.acquire("job", "gw-b", NOW + 1500, 1000), true, "taken over once expired");
    const together = await Promise.all(
      ["gw-c", "gw-d", "gw-e"].map((h) => leases.acquire("race", h, NOW, 1000)),
    );
    assert.equal(together.filter(Boolean).length, 1);
    await leases.release("job", "gw-b");
    assert.equal(await leases.acquire("job", "gw-a", NOW + 1600, 1000), true, "free after release");
  });
}
