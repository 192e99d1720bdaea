import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LOCAL, type Seen, startReceiver, tokenValue } from "./credentials-helpers.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { call, httpClient } from "./mcp-helpers.ts";

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
const QUIET = { anomaly: { enforce: false } };
type ProxyOut = { status: number; headers: Record<string, string>; body: string; body_encoding: string };

describe("credential broker: management, injection, binding, scrubbing, audit, leaks", () => {
  let s: TestServer;
  let rx: Receiver;
  let tenantId: string;
  let agentKey: string;
  const secrets: string[] = [];

  const create = (body: Record<string, unknown>) =>
    s.request("POST", `/v1/tenants/${tenantId}/credentials`, { body });
  const proxy = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    s.request("POST", "/v1/proxy/http", { key, body, headers });
  const secret = (p?: string) => {
    const v = tokenValue(p);
    secrets.push(v);
    return v;
  };

  before(async () => {
    s = await startServer({ egressAllow: ["127.0.0.1"] });
    rx = await startReceiver();
    tenantId = await s.createTenant();
    // This suite makes many refused calls with one key on purpose: the anomaly pause is off here.
    await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: QUIET });
    agentKey = (
      await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use", "memories"] })
    ).key;
  });
  after(async () => {
    await rx.close();
    await s.close();
  });

  test("create returns metadata only; list and get never show the secret; the row holds only a sealed value", async () => {
    const value = secret("ghp");
    const res = await create({
      name: "github",
      service: "github",
      label: "CI bot",
      allowed_hosts: [LOCAL],
      injection: { type: "bearer" },
      secret: value,
    });
    assert.equal(res.status, 201, res.text);
    const c = res.body as Record<string, unknown>;
    assert.match(String(c.id), /^crd_/);
    assert.deepEqual(Object.keys(c).sort(), [
      "allowed_hosts",
      "created_at",
      "expires_at",
      "id",
      "injection",
      "kind",
      "label",
      "last_used_at",
      "name",
      "oauth",
      "risk_tier",
      "rotated_at",
      "service",
    ]);
    assert.ok(!res.text.includes(value));
    const list = await s.request("GET", `/v1/tenants/${tenantId}/credentials`);
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(value));
    const one = await s.request("GET", `/v1/tenants/${tenantId}/credentials/github`);
    assert.equal((one.body as { name: string }).name, "github");
    assert.ok(!one.text.includes(value));
    const db = await s.hypha.storage.tenant(tenantId);
    const row = await db.get<{ sealed: string }>("SELECT sealed FROM credentials WHERE name = 'github'");
    assert.match(row?.sealed ?? "", /^v1\.1\./);
    assert.ok(!JSON.stringify(row).includes(value));
    const dup = await create({
      name: "github",
      service: "github",
      allowed_hosts: [LOCAL],
      injection: { type: "bearer" },
      secret: secret(),
    });
    assert.equal(dup.status, 409);
  });

  test("bad input: weak shapes, no secret, spaces in a secret, bad host patterns → 422", async () => {
    const base = { name: "x1", service: "svc", allowed_hosts: [LOCAL], injection: { type: "bearer" } };
    for (const body of [
      base,
      { ...base, secret: "short" },
      { ...base, secret: "has a space inside" },
      { ...base, secret: secret(), allowed_hosts: ["http://*"] },
      { ...base, secret: secret(), allowed_hosts: ["ftp://host"] },
      { ...base, secret: secret(), allowed_hosts: [] },
      { ...base, secret: secret(), injection: { type: "header", name: "Host" } },
      { ...base, name: "Bad.Name", secret: secret() },
    ]) {
      const res = await create(body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(errorCode(res), "VALIDATION_FAILED");
    }
  });

  test("injection for every method reaches the receiver, and the echoed secret is scrubbed from the answer", async () => {
    const cases: {
      name: string;
      injection: Record<string, unknown>;
      url: string;
      check: (seen: Seen, v: string) => void;
    }[] = [
      {
        name: "inj-bearer",
        injection: { type: "bearer" },
        url: "/bearer",
        check: (seen, v) => assert.equal(seen.headers.authorization, `Bearer ${v}`),
      },
      {
        name: "inj-header",
        injection: { type: "header", name: "X-Api-Key", prefix: "Key " },
        url: "/header",
        check: (seen, v) => assert.equal(seen.headers["x-api-key"], `Key ${v}`),
      },
      {
        name: "inj-basic",
        injection: { type: "basic", username: "bot" },
        url: "/basic",
        check: (seen, v) =>
          assert.equal(seen.headers.authorization, `Basic ${Buffer.from(`bot:${v}`).toString("base64")}`),
      },
      {
        name: "inj-query",
        injection: { type: "query", param: "api_key" },
        url: "/query?x=1",
        check: (seen, v) => assert.equal(new URL(seen.url, "http://h").searchParams.get("api_key"), v),
      },
      {
        name: "inj-path",
        injection: { type: "path" },
        url: "/bot{{credential}}/getMe",
        check: (seen, v) => assert.equal(seen.url, `/bot${v}/getMe`),
      },
    ];
    for (const c of cases) {
      const v = secret();
      assert.equal(
        (
          await create({
            name: c.name,
            service: "svc",
            allowed_hosts: [LOCAL],
            injection: c.injection,
            secret: v,
          })
        ).status,
        201,
      );
      const before = rx.seen.length;
      const res = await proxy(agentKey, {
        credential: c.name,
        method: "POST",
        url: `${rx.url}${c.url}`,
        body: "hello",
      });
      assert.equal(res.status, 200, `${c.name}: ${res.text}`);
      const out = res.body as ProxyOut;
      assert.equal(out.status, 200);
      assert.equal(rx.seen.length, before + 1);
      const seen = rx.seen.at(-1) as Seen;
      c.check(seen, v);
      assert.equal(seen.body, "hello");
      // The receiver echoed every header (and the URL): nothing of the secret comes back.
      assert.ok(!res.text.includes(v), `${c.name} leaked the secret`);
      assert.ok(!res.text.includes(Buffer.from(`bot:${v}`).toString("base64")), `${c.name} leaked basic`);
      assert.ok(out.body.includes("[REDACTED]"), `${c.name}: the echo was not scrubbed`);
    }
  });

  test("the agent cannot override the injected header, nor ask for a compressed body the scrubber cannot read", async () => {
    const res = await proxy(agentKey, {
      credential: "github",
      method: "GET",
      url: `${rx.url}/override`,
      headers: { Authorization: "Bearer attacker", "Accept-Encoding": "gzip" },
    });
    assert.equal(res.status, 200);
    assert.notEqual(rx.seen.at(-1)?.headers.authorization, "Bearer attacker");
    assert.equal(rx.seen.at(-1)?.headers["accept-encoding"], "identity");
  });

  test("a host outside the binding is refused with 403 CREDENTIAL_HOST_FORBIDDEN and nothing is sent", async () => {
    const before = rx.seen.length;
    for (const url of [
      "https://evil.example/",
      `http://localhost:${rx.port}/`,
      `https://127.0.0.1:${rx.port}/`,
      "http://127.0.0.2/",
    ]) {
      const res = await proxy(agentKey, { credential: "github", method: "GET", url });
      assert.equal(res.status, 403, `${url}: ${res.text}`);
      assert.equal(errorCode(res), "CREDENTIAL_HOST_FORBIDDEN");
    }
    assert.equal(rx.seen.length, before);
  });

  test("capability: credentials.use.<name> or credentials.use is needed; unknown credential 404", async () => {
    const narrow = (
      await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use.github"] })
    ).key;
    const other = (
      await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use.gitlab"] })
    ).key;
    const plain = (await s.createKey(tenantId, { scopes: ["write"] })).key;
    const prefix = (await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use.git"] }))
      .key;
    const body = { credential: "github", method: "GET", url: `${rx.url}/cap` };
    assert.equal((await proxy(narrow, body)).status, 200);
    for (const key of [other, plain, prefix]) {
      const res = await proxy(key, body);
      assert.equal(res.status, 403, res.text);
      assert.equal(errorCode(res), "INSUFFICIENT_SCOPE");
    }
    const missing = await proxy(agentKey, { ...body, credential: "nope" });
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing), "NOT_FOUND");
    // Another tenant's credential of the same name looks absent.
    const t2 = await s.createTenant();
    const k2 = (await s.createKey(t2, { scopes: ["write"], capabilities: ["credentials.use"] })).key;
    assert.equal((await proxy(k2, body)).status, 404);
  });

  test("a redirect is returned, never followed (to a private address or anywhere)", async () => {
    const target = await startReceiver();
    const redirector = await startReceiver((_seen, res) => {
      res.writeHead(302, { location: `${target.url}/private` });
      res.end();
    });
    const meta = await startReceiver((_seen, res) => {
      res.writeHead(307, { location: "http://169.254.169.254/latest/meta-data/" });
      res.end();
    });
    try {
      for (const r of [redirector, meta]) {
        const res = await proxy(agentKey, { credential: "github", method: "GET", url: `${r.url}/go` });
        assert.equal(res.status, 200, res.text);
        const out = res.body as ProxyOut;
        assert.ok(out.status === 302 || out.status === 307);
        assert.ok(out.headers.location);
      }
      assert.equal(target.seen.length, 0);
    } finally {
      await Promise.all([target.close(), redirector.close(), meta.close()]);
    }
  });

  test("an upstream echoing the secret in headers, base64 and URL-encoded form gets all of it scrubbed", async () => {
    const v = `${secret("sk")}+/=`;
    const echo = await startReceiver((seen, res) => {
      const got = String(seen.headers["x-key"] ?? "");
      res.writeHead(200, {
        "content-type": "text/plain",
        "x-leak": got,
        "set-cookie": `k=${encodeURIComponent(got)}`,
      });
      res.end(`raw=${got} b64=${Buffer.from(got).toString("base64")} enc=${encodeURIComponent(got)}`);
    });
    try {
      await create({
        name: "echoer",
        service: "svc",
        allowed_hosts: [LOCAL],
        injection: { type: "header", name: "X-Key" },
        secret: v,
      });
      const res = await proxy(agentKey, { credential: "echoer", method: "GET", url: `${echo.url}/` });
      assert.equal(res.status, 200);
      for (const form of [v, Buffer.from(v).toString("base64"), encodeURIComponent(v)]) {
        assert.ok(!res.text.includes(form), `leaked ${form}`);
      }
      assert.equal((res.body as ProxyOut).headers["x-leak"], "[REDACTED]");
    } finally {
      await echo.close();
    }
  });

  test("a gzip body from a server that compresses anyway is decoded and scrubbed", async () => {
    const v = secret("gz");
    const { gzipSync } = await import("node:zlib");
    const gz = await startReceiver((seen, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      res.end(gzipSync(JSON.stringify({ echo: seen.headers.authorization })));
    });
    try {
      await create({
        name: "gz",
        service: "svc",
        allowed_hosts: [LOCAL],
        injection: { type: "bearer" },
        secret: v,
      });
      const res = await proxy(agentKey, { credential: "gz", method: "GET", url: `${gz.url}/` });
      assert.equal(res.status, 200, res.text);
      const out = res.body as ProxyOut;
      assert.equal(out.body, '{"echo":"Bearer [REDACTED]"}');
      assert.equal(out.headers["content-encoding"], undefined);
    } finally {
      await gz.close();
    }
  });

  test("rotate replaces the secret (the old one is never sent again); delete makes it 404", async () => {
    const v1 = secret();
    const v2 = secret();
    await create({
      name: "rot",
      service: "svc",
      allowed_hosts: [LOCAL],
      injection: { type: "bearer" },
      secret: v1,
    });
    const rot = await s.request("POST", `/v1/tenants/${tenantId}/credentials/rot/rotate`, {
      body: { secret: v2 },
    });
    assert.equal(rot.status, 200, rot.text);
    assert.ok((rot.body as { rotated_at: string | null }).rotated_at);
    await proxy(agentKey, { credential: "rot", method: "GET", url: `${rx.url}/rot` });
    assert.equal(rx.seen.at(-1)?.headers.authorization, `Bearer ${v2}`);
    const del = await s.request("DELETE", `/v1/tenants/${tenantId}/credentials/rot`);
    assert.equal(del.status, 200);
    assert.equal(
      (await proxy(agentKey, { credential: "rot", method: "GET", url: `${rx.url}/rot` })).status,
      404,
    );
    assert.equal((await s.request("GET", `/v1/tenants/${tenantId}/credentials/rot`)).status, 404);
  });

  test("an expired credential is refused with 403 CREDENTIAL_EXPIRED", async () => {
    await create({
      name: "old",
      service: "svc",
      allowed_hosts: [LOCAL],
      injection: { type: "bearer" },
      secret: secret(),
      expires_at: new Date(s.clock.now() + 1000).toISOString(),
    });
    s.clock.advance(2000);
    const res = await proxy(agentKey, { credential: "old", method: "GET", url: `${rx.url}/` });
    assert.equal(res.status, 403);
    assert.equal(errorCode(res), "CREDENTIAL_EXPIRED");
  });

  test("a response over the size cap is refused (502 UPSTREAM_TOO_LARGE)", async () => {
    const big = await startReceiver((_seen, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("x".repeat(2 * 1024 * 1024));
    });
    try {
      const res = await proxy(agentKey, { credential: "github", method: "GET", url: `${big.url}/` });
      assert.equal(res.status, 502);
      assert.equal(errorCode(res), "UPSTREAM_TOO_LARGE");
    } finally {
      await big.close();
    }
  });

  test("a credential's risk tier puts its use behind approval (202) for that exact request, and the MCP tool refuses it", async () => {
    await create({
      name: "payments",
      service: "stripe",
      allowed_hosts: [LOCAL],
      injection: { type: "bearer" },
      secret: secret(),
      risk_tier: "critical",
    });
    const t = await s.request("PUT", `/v1/tenants/${tenantId}/policy`, {
      body: { ...QUIET, approvals: { critical: 1 } },
    });
    assert.equal(t.status, 200, t.text);
    try {
      const before = rx.seen.length;
      const res = await proxy(agentKey, {
        credential: "payments",
        method: "POST",
        url: `${rx.url}/charge`,
        body: "{}",
      });
      assert.equal(res.status, 202, res.text);
      assert.equal((res.body as { status: string }).status, "approval_required");
      const approvalId = (res.body as { approval: { id: string } }).approval.id;
      // A person approves; the same request, repeated with the approval, runs once.
      const email = `approver-${Math.random().toString(36).slice(2, 8)}@example.com`;
      await s.createUser(tenantId, { email, password: "correct horse battery staple", roles: ["DEVELOPER"] });
      const login = await s.request("POST", "/v1/auth/login", {
        key: null,
        body: { tenant_id: tenantId, email, password: "correct horse battery staple" },
      });
      const person = (login.body as { access_token: string }).access_token;
      const decided = await s.request("POST", `/v1/approvals/${approvalId}/approve`, {
        key: person,
        body: {},
      });
      assert.equal(decided.status, 200, decided.text);
      const approved = { credential: "payments", method: "POST", url: `${rx.url}/charge`, body: "{}" };
      const other = await proxy(
        agentKey,
        { ...approved, body: '{"amount":1}' },
        { "x-approval-id": approvalId },
      );
      assert.equal(other.status, 409, "an approval covers only the exact request");
      const ran = await proxy(agentKey, approved, { "x-approval-id": approvalId });
      assert.equal(ran.status, 200, ran.text);
      const replay = await proxy(agentKey, approved, { "x-approval-id": approvalId });
      assert.equal(replay.status, 409);
      // A credential of a lower tier runs at once.
      assert.equal(
        (await proxy(agentKey, { credential: "github", method: "GET", url: `${rx.url}/x` })).status,
        200,
      );
      const client = await httpClient(s.url, agentKey);
      try {
        const r = await call(client, "http_request", {
          credential: "payments",
          method: "GET",
          url: `${rx.url}/x`,
        });
        assert.equal(r.isError, true);
        assert.match(r.content[0]?.text ?? "", /APPROVAL_REQUIRED/);
      } finally {
        await client.close();
      }
      assert.equal(rx.seen.length, before + 2);
    } finally {
      await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: QUIET });
    }
  });

  test("the MCP tool http_request makes the same call with the same checks", async () => {
    const client = await httpClient(s.url, agentKey);
    try {
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === "http_request"));
      const okRes = await call(client, "http_request", {
        credential: "github",
        method: "GET",
        url: `${rx.url}/mcp`,
      });
      assert.equal(okRes.isError, undefined);
      assert.equal((okRes.structuredContent as { status: number }).status, 200);
      assert.ok(!JSON.stringify(okRes).includes(secrets[0] ?? "none"));
      const far = await call(client, "http_request", {
        credential: "github",
        method: "GET",
        url: "https://evil.example/",
      });
      assert.equal(far.isError, true);
      assert.match(far.content[0]?.text ?? "", /CREDENTIAL_HOST_FORBIDDEN/);
    } finally {
      await client.close();
    }
  });

  test("the kill switch stops proxy calls (423) with everything else", async () => {
    const freeze = await s.request("PUT", "/admin/override", {
      body: { scope: "tenant", tenant_id: tenantId, frozen: true, reason: "incident" },
    });
    assert.equal(freeze.status, 200, freeze.text);
    try {
      const res = await proxy(agentKey, { credential: "github", method: "GET", url: `${rx.url}/frozen` });
      assert.equal(res.status, 423);
    } finally {
      await s.request("PUT", "/admin/override", {
        body: { scope: "tenant", tenant_id: tenantId, frozen: false, reason: "over" },
      });
    }
  });

  test("storing, updating or ingesting a memory that contains a credential value is refused; other text is not", async () => {
    const v = secrets[0] ?? "";
    for (const content of [v, `my token is ${v}, keep it`, `{"auth":"Bearer ${v}"}`]) {
      const res = await s.request("POST", "/v1/memories", {
        key: agentKey,
        body: { namespace: "n", content },
      });
      assert.equal(res.status, 422, res.text);
      assert.equal(errorCode(res), "GUARDRAIL_BLOCKED");
      assert.ok(!res.text.includes(v));
    }
    const okRes = await s.request("POST", "/v1/memories", {
      key: agentKey,
      body: { namespace: "n", content: `a near miss: ${v.slice(0, -1)} is not it` },
    });
    assert.equal(okRes.status, 201, okRes.text);
    const id = (okRes.body as { id: string }).id;
    const upd = await s.request("PATCH", `/v1/memories/${id}`, {
      key: agentKey,
      body: { content: `now ${v}` },
    });
    assert.equal(upd.status, 422, upd.text);
    const verdict = (upd.body as { error: { verdict: { checks: { name: string }[] } } }).error.verdict;
    assert.deepEqual(
      verdict.checks.map((c) => c.name),
      ["credential_value"],
    );
    // Connector deliveries pass the same screen before they become memories.
    const ingested = await s.hypha.services.screen.ingest(tenantId, `{"token":"${v}"}`);
    assert.ok("blocked" in ingested);
    const clean = await s.hypha.services.screen.ingest(tenantId, "a delivery without secrets");
    assert.ok(!("blocked" in clean));
  });

  test("an upstream refusing the credential (401) is audited as proxy.auth_failed", async () => {
    const deny = await startReceiver((_seen, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"message":"Bad credentials"}');
    });
    try {
      const res = await proxy(agentKey, { credential: "github", method: "GET", url: `${deny.url}/user` });
      assert.equal(res.status, 200);
      assert.equal((res.body as ProxyOut).status, 401);
      const db = await s.hypha.storage.tenant(tenantId);
      const row = await db.get<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'proxy.auth_failed' ORDER BY seq DESC LIMIT 1",
      );
      assert.match(row?.details ?? "", /"status":401/);
    } finally {
      await deny.close();
    }
  });

  test("audit events of proxy calls carry host, method, status and sizes, never a secret or a body", async () => {
    const db = await s.hypha.storage.tenant(tenantId);
    const rows = await db.all<{ action: string; outcome: string; details: string }>(
      "SELECT action, outcome, details FROM audit_events WHERE action LIKE 'proxy.%' OR action LIKE 'credential.%'",
    );
    const actions = new Set(rows.map((r) => r.action));
    for (const a of [
      "credential.created",
      "credential.rotated",
      "credential.deleted",
      "proxy.http_request",
      "proxy.credential_used",
    ]) {
      assert.ok(actions.has(a), a);
    }
    const used = rows.find((r) => r.action === "proxy.credential_used");
    const d = JSON.parse(used?.details ?? "{}") as Record<string, unknown>;
    assert.equal(d.host, "127.0.0.1");
    assert.ok(
      typeof d.status === "number" && typeof d.response_bytes === "number" && typeof d.method === "string",
    );
    assert.ok(
      rows.some((r) => r.action === "proxy.http_request" && r.details.includes("CREDENTIAL_HOST_FORBIDDEN")),
    );
    const all = JSON.stringify(await db.all("SELECT * FROM audit_events"));
    for (const v of secrets) assert.ok(!all.includes(v), "an audit event holds a secret");
    assert.ok(!all.includes("hello"), "an audit event holds a body");
  });

  test("no secret reaches a log line, and none is left in clear in any file of the data directory", async () => {
    const logs = s.logs.join("\n");
    for (const v of secrets) assert.ok(!logs.includes(v), "a log line holds a secret");
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else files.push(join(dir, e.name));
      }
    };
    walk(s.dataDir);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const v of secrets) assert.equal(bytes.indexOf(v), -1, `${f} holds a secret in clear`);
    }
  });
});
