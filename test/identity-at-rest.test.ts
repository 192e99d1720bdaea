import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";
import { login, PASSWORD, refresh, refreshCookie, signedInUser } from "./identity-helpers.ts";

type AuditEvent = { seq: number; action: string; target_ids: string[]; actor: { type: string; id: string } };

function vaultBytes(s: TestServer, tenantId: string): Buffer {
  const dir = join(s.dataDir, "vaults", tenantId);
  return Buffer.concat(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => readFileSync(join(d.parentPath, d.name))),
  );
}

async function createTenant(s: TestServer, encryption: "aes-gcm" | "none" = "aes-gcm") {
  const res = await s.request("POST", "/v1/tenants", {
    body: { name: `i${Math.random()}`.replace(".", ""), encryption },
  });
  assert.equal(res.status, 201, res.text);
  const t = res.body as { id: string; encryption: string };
  assert.equal(t.encryption, encryption);
  return t.id;
}

async function events(s: TestServer, tenantId: string, action: string): Promise<AuditEvent[]> {
  const res = await s.request("GET", `/v1/audit/events?tenant_id=${tenantId}&action=${action}&limit=500`);
  assert.equal(res.status, 200, res.text);
  return (res.body as { items: AuditEvent[] }).items;
}

describe("identity on the keyed audit trail", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("sign-ins, failed logins (per account), a lockout, refresh, logout, role changes, grants, key and JWT rotation keep the tenant chain verifiable", async () => {
    const t = await createTenant(s);
    const email = "target@example.com";
    const target = await s.createUser(t, { email, password: PASSWORD, roles: ["VIEWER"] });

    // Three wrong passwords lock the account; the lock answers 423 even for the right password.
    for (let i = 0; i < 3; i++) {
      assert.equal((await login(s, t, email, "not the password at all")).status, 401);
    }
    assert.equal((await login(s, t, email)).status, 423);
    assert.equal((await login(s, t, "nobody@example.com", "not the password at all")).status, 401);
    s.clock.advance(3_600_001);
    const signed = await login(s, t, email);
    assert.equal(signed.status, 200, signed.text);
    const csrf = (signed.body as { csrf_token: string }).csrf_token;
    const refreshed = await refresh(s, refreshCookie(signed) ?? "", csrf);
    assert.equal(refreshed.status, 200, refreshed.text);
    const logout = await s.request("POST", "/v1/auth/logout", {
      key: null,
      headers: { cookie: `hypha_refresh=${refreshCookie(refreshed)}`, "x-csrf-token": csrf },
    });
    assert.ok(logout.status < 300, logout.text);

    const admin = await signedInUser(s, t, ["ADMIN"]);
    const as = (method: string, path: string, body?: unknown) =>
      s.request(method, `/v1/tenants/${t}${path}`, { key: admin.token, body });
    assert.equal((await as("PATCH", `/users/${target}`, { roles: ["DEVELOPER"] })).status, 200);
    const grant = await as("POST", "/grants", { grantee: "team-a", namespace: "team-b" });
    assert.equal(grant.status, 201, grant.text);
    assert.equal((await as("DELETE", `/grants/${(grant.body as { id: string }).id}`)).status, 200);
    const key = await as("POST", "/keys", { agent: "rot", scopes: ["read"] });
    assert.equal(key.status, 201, key.text);
    const rotated = await as("POST", `/keys/${(key.body as { id: string }).id}/rotate`, {});
    assert.equal(rotated.status, 201, rotated.text);
    const oidc = await as("PUT", "/oidc", {
      issuer: "https://idp.example.com",
      client_id: "hypha",
      role_mapping: { claim: "groups", map: { admins: "ADMIN" } },
    });
    assert.equal(oidc.status, 200, oidc.text);
    assert.equal((await as("POST", "/jwt/rotate")).status, 200);

    const failed = await events(s, t, "auth.failed");
    assert.equal(
      failed.filter((e) => e.target_ids.includes(target)).length,
      3,
      "each failed login, per account",
    );
    assert.equal(failed.filter((e) => e.target_ids.length === 0).length, 1, "unknown emails too");
    const locked = await events(s, t, "auth.locked");
    assert.equal(locked.length, 1);
    assert.deepEqual(locked[0]?.target_ids, [target]);
    for (const action of [
      "auth.login",
      "auth.refreshed",
      "auth.logout",
      "user.created",
      "user.updated",
      "grant.created",
      "grant.revoked",
      "key.rotated",
      "oidc.configured",
      "auth.jwt_rotated",
    ]) {
      assert.ok((await events(s, t, action)).length > 0, `${action} is in the tenant chain`);
    }
    const roleChange = (await events(s, t, "user.updated"))[0];
    assert.deepEqual(roleChange?.actor, { type: "user", id: admin.userId });
    // The 401s are also in the instance chain (folded per address).
    const verifyTenant = await s.request("GET", `/v1/audit/verify?tenant_id=${t}`);
    assert.equal(verifyTenant.status, 200, verifyTenant.text);
    assert.equal((verifyTenant.body as { ok: boolean }).ok, true, verifyTenant.text);
    const verifyInstance = await s.request("GET", "/v1/audit/verify");
    assert.equal((verifyInstance.body as { ok: boolean }).ok, true, verifyInstance.text);
  });

  test("an AUDIT_ADMIN reads and verifies its own tenant's trail with its token, and sees the lockout", async () => {
    const t = await createTenant(s);
    const auditor = await signedInUser(s, t, ["AUDIT_ADMIN"]);
    await s.createUser(t, { email: "x@example.com", password: PASSWORD, roles: ["VIEWER"] });
    for (let i = 0; i < 3; i++) await login(s, t, "x@example.com", "not the password at all");
    const res = await s.request("GET", "/v1/audit/events?suspicious=true", { key: auditor.token });
    assert.equal(res.status, 200, res.text);
    const actions = (res.body as { items: AuditEvent[] }).items.map((e) => e.action);
    assert.ok(actions.includes("auth.locked"));
    assert.ok(actions.includes("auth.failed"));
    const v = await s.request("GET", "/v1/audit/verify", { key: auditor.token });
    assert.equal((v.body as { ok: boolean; chain: string }).ok, true);
    assert.equal((v.body as { chain: string }).chain, t);
  });
});

describe("identity secrets at rest", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("the tenant's JWT signing secret is sealed with the tenant cipher: no file of the vault holds it, before or after rotation", async () => {
    for (const encryption of ["aes-gcm", "none"] as const) {
      const t = await createTenant(s, encryption);
      const u = await signedInUser(s, t, ["ADMIN"]);
      const db = await s.hypha.storage.tenant(t);
      const cipher = await s.hypha.services.tenantKeys.cipher(t);
      const secrets: Buffer[] = [];
      const current = async () => {
        const row = await db.get<{ version: string; sealed: string }>(
          "SELECT version, sealed FROM jwt_secrets",
        );
        assert.ok(row);
        assert.match(row.sealed, /^v1\.\d+\./, "stored as a field ciphertext");
        const opened = cipher.decrypt(`jwt:${row.version}`, "secret", row.sealed);
        assert.ok(opened.ok);
        assert.equal(opened.plaintext.length, 32);
        // Bound to its record: under another version it does not open.
        assert.equal(cipher.decrypt("jwt:v-other", "secret", row.sealed).ok, false);
        return opened.plaintext;
      };
      secrets.push(await current());
      const rotate = await s.request("POST", `/v1/tenants/${t}/jwt/rotate`, { key: u.token });
      assert.equal(rotate.status, 200, rotate.text);
      secrets.push(await current());
      // The forwarded audit lines are among the files scanned: forward them first.
      await s.hypha.services.trail.flush();
      const files = vaultBytes(s, t);
      for (const secret of secrets) {
        for (const form of [
          secret,
          Buffer.from(secret.toString("hex")),
          Buffer.from(secret.toString("base64")),
        ]) {
          assert.equal(files.indexOf(form), -1, `${encryption}: a signing secret is in the vault files`);
        }
        assert.equal(files.indexOf(Buffer.from(secret.toString("base64url"))), -1);
      }
      // Tokens still work: the sealed secret opens for signing and verifying.
      const again = await signedInUser(s, t, ["VIEWER"]);
      assert.equal((await s.request("GET", "/v1/memories", { key: again.token })).status, 200);
    }
  });

  test("a sealed signing secret copied into another tenant does not open there: its tokens are refused and nothing is minted", async () => {
    const a = await createTenant(s);
    const b = await createTenant(s);
    const ua = await signedInUser(s, a, ["VIEWER"]);
    const email = "b-user@example.com";
    await s.createUser(b, { email, password: PASSWORD, roles: ["VIEWER"] });
    const ub = await login(s, b, email);
    assert.equal(ub.status, 200);
    const tokenB = (ub.body as { access_token: string }).access_token;
    const dbA = await s.hypha.storage.tenant(a);
    const dbB = await s.hypha.storage.tenant(b);
    const rowA = await dbA.get<{ version: string; sealed: string; created_at: number }>(
      "SELECT * FROM jwt_secrets",
    );
    assert.ok(rowA);
    await dbB.run("DELETE FROM jwt_secrets");
    await dbB.run("INSERT INTO jwt_secrets (version, sealed, created_at) VALUES (?, ?, ?)", [
      rowA.version,
      rowA.sealed,
      rowA.created_at,
    ]);
    assert.equal((await s.request("GET", "/v1/memories", { key: tokenB })).status, 401);
    const again = await login(s, b, email);
    assert.equal(again.status, 500, "no token is minted with a secret that fails its integrity check");
    assert.doesNotMatch(again.text, /v1\.|jwt:/);
    assert.equal((await s.request("GET", "/v1/memories", { key: ua.token })).status, 200, "A is unaffected");
  });
});

describe("per-memory access on an encrypted tenant", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("a private memory of agent A is absent for agent B in recall, list, get, history and export, and present for A", async () => {
    const t = await createTenant(s, "aes-gcm");
    const a = (await s.createKey(t, { agent: "agent-a", scopes: ["write"] })).key;
    const b = (await s.createKey(t, { agent: "agent-b", scopes: ["write"] })).key;
    const secretWord = "quixotically";
    const priv = await s.storeMemory(a, {
      namespace: "shared",
      content: `the ${secretWord} private runbook`,
      access: "private",
      tags: ["runbook"],
    });
    const shared = await s.storeMemory(a, { namespace: "shared", content: `a ${secretWord} shared note` });
    // The forwarded audit lines are among the files scanned (on PostgreSQL, the only ones): forward them first.
    await s.hypha.services.trail.flush();
    assert.equal(vaultBytes(s, t).indexOf(Buffer.from(secretWord)), -1, "the tenant is encrypted");

    const ids = async (key: string) => {
      const recall = await s.request("POST", "/v1/memories/recall", { key, body: { query: secretWord } });
      assert.equal(recall.status, 200, recall.text);
      const list = await s.request("GET", "/v1/memories?tag=runbook", { key });
      const all = await s.request("GET", "/v1/memories", { key });
      const exp = await s.request("GET", "/v1/memories/export", { key });
      assert.equal(exp.status, 200);
      return {
        recall: (recall.body as { results: { memory: { id: string } }[] }).results.map((r) => r.memory.id),
        list: [
          ...(list.body as { items: { id: string }[] }).items.map((m) => m.id),
          ...(all.body as { items: { id: string }[] }).items.map((m) => m.id),
        ],
        exported: exp.text
          .split("\n")
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { id: string }).id),
        get: (await s.request("GET", `/v1/memories/${priv.id}`, { key })).status,
        history: (await s.request("GET", `/v1/memories/${priv.id}/history`, { key })).status,
      };
    };
    const seenByA = await ids(a);
    assert.ok(seenByA.recall.includes(priv.id), "A recalls its private memory (blind index search)");
    assert.ok(seenByA.list.includes(priv.id));
    assert.ok(seenByA.exported.includes(priv.id));
    assert.equal(seenByA.get, 200);
    assert.equal(seenByA.history, 200);

    const seenByB = await ids(b);
    assert.ok(seenByB.recall.includes(shared.id), "B recalls the shared memory with the same word");
    assert.ok(!seenByB.recall.includes(priv.id), "recall");
    assert.ok(!seenByB.list.includes(priv.id), "list");
    assert.ok(!seenByB.exported.includes(priv.id), "export");
    assert.equal(seenByB.get, 404, "get");
    assert.equal(seenByB.history, 404, "history");

    // Once A names B, B sees it (decrypted).
    const named = await s.request("PATCH", `/v1/memories/${priv.id}`, {
      key: a,
      body: { allowed_agents: ["agent-b"] },
    });
    assert.equal(named.status, 200, named.text);
    const got = await s.request("GET", `/v1/memories/${priv.id}`, { key: b });
    assert.equal(got.status, 200);
    assert.match((got.body as { content: string }).content, new RegExp(secretWord));
  });
});
