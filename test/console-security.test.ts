import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../src/lib/config.ts";
import { type Action, actionsForRoles, type Role } from "../src/platform/auth/actor.ts";
import {
  type ConsoleRes,
  type ConsoleSession,
  consoleRequest,
  consoleSession,
  instanceAdminSession,
  mergeCookies,
} from "./console-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";
import { login, signedInUser } from "./identity-helpers.ts";
import {
  CONSOLE_SAMPLES,
  type ConsoleFixture,
  type ConsoleSample,
  INSTANCE_CONSOLE_SAMPLES,
  type InstanceConsoleFixture,
  type InstanceConsoleSample,
  routeName,
} from "./security-suite.ts";

const ROLES: readonly Role[] = ["VIEWER", "DEVELOPER", "AUDIT_ADMIN", "ADMIN"];

describe("console: the shared security cases on every cookie-session route", () => {
  let s: TestServer;
  let f: ConsoleFixture;
  let tenantId: string;
  let agentKey: string;
  const people = new Map<Role, ConsoleSession>();

  const sessionRoutes = () =>
    s.hypha.app.routeTable.filter((r) => "accepts" in r.auth && r.auth.accepts.includes("session_cookie"));
  const sampleOf = (r: { method: string; url: string }): ConsoleSample => {
    const sample = CONSOLE_SAMPLES[routeName(r)];
    assert.ok(sample, `no console sample for ${routeName(r)}`);
    return sample;
  };
  const send = (
    r: { method: string },
    path: string,
    who: ConsoleSession | null,
    form?: Record<string, string>,
  ) =>
    consoleRequest(s, r.method, path, {
      ...(who ? { cookie: who.cookie } : {}),
      ...(r.method === "POST" ? { form: { ...(form ?? {}), _csrf: who?.csrf ?? "x" } } : {}),
    });

  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
    const other = await s.createTenant();
    const agent = await s.createKey(tenantId, { agent: "worker" });
    agentKey = agent.key;
    const otherAgent = await s.createKey(other, { agent: "worker" });
    for (const role of ROLES) people.set(role, await consoleSession(s, tenantId, [role]));
    // Approvals: one operation that needs one approval, asked for by each tenant's agent.
    const policy = {
      tiers: { exportMemories: "critical", createKey: "low", revokeKey: "low", rotateKey: "low" },
      approvals: { critical: 1 },
      anomaly: { enforce: false },
    };
    const pending = async (t: string, key: string) => {
      await s.request("PUT", `/v1/tenants/${t}/policy`, { body: policy });
      const res = await s.request("GET", "/v1/memories/export", { key });
      return (res.body as { approval: { id: string } }).approval.id;
    };
    const delivery = async (t: string) => {
      const made = await s.request("POST", `/v1/tenants/${t}/connectors`, {
        body: {
          name: `c-${Math.random().toString(36).slice(2, 8)}`,
          config: { source: "github", secret: "s".repeat(16), mapping: { namespace: "sec" } },
        },
      });
      const connectorId = (made.body as { id: string }).id;
      const body = JSON.stringify({ zen: "fixture" });
      const res = await fetch(`${s.url}/v1/ingest/${t}/${connectorId}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "ping",
          "x-github-delivery": `fixture-${connectorId}`,
          "x-hub-signature-256": `sha256=${createHmac("sha256", "s".repeat(16)).update(body).digest("hex")}`,
        },
        body,
      });
      return ((await res.json()) as { id: string }).id;
    };
    // The DEVELOPER rotates a key they made (not one under an agent another person made).
    const developersKey = async () => {
      const signed = await login(s, tenantId, people.get("DEVELOPER")?.email ?? "");
      const res = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
        key: (signed.body as { access_token: string }).access_token,
        body: { agent: "rotating", scopes: ["read"] },
      });
      assert.equal(res.status, 201, res.text);
      return (res.body as { id: string }).id;
    };
    f = {
      deliveryId: await delivery(tenantId),
      otherDeliveryId: await delivery(other),
      userId: await s.createUser(tenantId, { roles: ["VIEWER"] }),
      otherUserId: await s.createUser(other, { roles: ["VIEWER"] }),
      policy: JSON.stringify(policy),
      approvalId: await pending(tenantId, agentKey),
      rejectApprovalId: await pending(tenantId, agentKey),
      otherApprovalId: await pending(other, otherAgent.key),
      keyId: agent.id,
      revokeKeyId: (await s.createKey(tenantId, { agent: "spare" })).id,
      rotateKeyId: await developersKey(),
      otherKeyId: otherAgent.id,
      memoryId: (await s.storeMemory(agentKey, { content: "own memory", entities: ["acme"] })).id,
      otherMemoryId: (await s.storeMemory(otherAgent.key, { content: "other memory" })).id,
    };
  });
  after(() => s.close());

  test("route table: every console page and form has a console sample, and accepts the cookie alone", () => {
    assert.ok(sessionRoutes().length >= 15);
    for (const r of sessionRoutes()) {
      sampleOf(r);
      assert.deepEqual("accepts" in r.auth && r.auth.accepts, ["session_cookie"], routeName(r));
    }
  });

  test("the rightful person succeeds on every route", async () => {
    for (const r of sessionRoutes()) {
      const sample = sampleOf(r);
      const res = await send(r, sample.path(f), people.get(sample.role) ?? null, sample.form?.(f));
      const ok = sample.okStatus ? res.status === sample.okStatus : [200, 201, 303].includes(res.status);
      assert.ok(ok, `${routeName(r)} → ${res.status} ${res.text.slice(0, 300)}`);
      assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    }
  });

  /** The console's security headers on one answer; `where` names it in a failure. */
  const assertSecurityHeaders = (res: ConsoleRes, where: string, cache = "no-store") => {
    const raw = res.headers.get("content-security-policy") ?? "";
    const csp = new Map(
      raw
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values.join(" ")] as const),
    );
    assert.equal(csp.get("default-src"), "'none'", where);
    for (const d of ["script-src", "style-src", "img-src", "connect-src", "form-action"])
      assert.equal(csp.get(d), "'self'", `${where}: ${d}`);
    assert.equal(csp.get("frame-ancestors"), "'none'", where);
    assert.equal(csp.get("base-uri"), "'none'", where);
    assert.doesNotMatch(raw, /unsafe-|\*|data:|http/, where);
    assert.equal(res.headers.get("x-frame-options"), "DENY", where);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", where);
    assert.equal(res.headers.get("referrer-policy"), "same-origin", where);
    assert.equal(res.headers.get("cross-origin-opener-policy"), "same-origin", where);
    assert.equal(res.headers.get("cache-control"), cache, where);
  };

  test("security headers: every console GET page (a person's, the instance admin's, the public ones) carries the strict CSP, frame-ancestors 'none', X-Frame-Options DENY, nosniff and no-store", async () => {
    const admin = await instanceAdminSession(s);
    // The public console pages and their samples (a new public page fails the test until listed).
    const PUBLIC_PAGES: Record<string, string[]> = {
      "GET /console/login": ["/console/login"],
      "GET /console/admin/login": ["/console/admin/login"],
      "GET /console/login/oidc": [`/console/login/oidc?tenant_id=${tenantId}`],
      "GET /console/login/oidc/callback": ["/console/login/oidc/callback?state=none&code=none"],
      "GET /console/assets/:name": ["htmx.min.js", "console.js", "console.css", "favicon.svg"].map(
        (name) => `/console/assets/${name}`,
      ),
    };
    const pages = s.hypha.app.routeTable.filter((r) => r.method === "GET" && r.url.startsWith("/console"));
    assert.ok(pages.length >= 20, String(pages.length));
    let checked = 0;
    for (const r of pages) {
      const route = routeName(r);
      const visits: { path: string; cookie?: string }[] = [];
      if ("public" in r.auth) {
        const paths = PUBLIC_PAGES[route];
        assert.ok(paths, `no public page sample for ${route}`);
        for (const path of paths) visits.push({ path });
      } else if ("accepts" in r.auth && r.auth.accepts.includes("admin_session")) {
        const sample = INSTANCE_CONSOLE_SAMPLES[route];
        assert.ok(sample, `no instance console sample for ${route}`);
        visits.push({ path: sample.path({ tenantId }), cookie: admin.cookie });
      } else {
        const sample = sampleOf(r);
        const who = people.get(sample.role);
        assert.ok(who);
        visits.push({ path: sample.path(f), cookie: who.cookie });
        // A page that refuses the input (a memory that is not there) is a page too.
        if (sample.crossTenant) visits.push({ path: sample.crossTenant.path(f), cookie: who.cookie });
      }
      for (const v of visits) {
        const res = await consoleRequest(s, "GET", v.path, v.cookie ? { cookie: v.cookie } : {});
        const where = `${route} (${v.path}) → ${res.status}`;
        if (v.cookie && !v.path.includes(f.otherMemoryId)) {
          // Past authentication: a page, or the admin's landing redirect (never to a sign-in).
          assert.ok(res.status === 200 || (res.status === 303 && !res.location?.includes("login")), where);
        }
        // Static assets alone may be cached (they hold no tenant data).
        const asset = route === "GET /console/assets/:name";
        assertSecurityHeaders(res, where, asset ? "public, max-age=3600" : "no-store");
        checked++;
      }
    }
    assert.ok(checked >= 25, String(checked));
  });

  test("security headers: a refusal page (a role that lacks the action, the other kind of session) and the no-session redirect carry them too", async () => {
    const viewer = people.get("VIEWER");
    assert.ok(viewer);
    const admin = await instanceAdminSession(s);
    for (const [path, cookie, status] of [
      ["/console/killswitch", viewer.cookie, 403],
      ["/console/admin", viewer.cookie, 403],
      ["/console", admin.cookie, 403],
      ["/console", null, 303],
    ] as const) {
      const res = await consoleRequest(s, "GET", path, cookie ? { cookie } : {});
      const where = `${path} → ${res.status}`;
      assert.equal(res.status, status, where);
      assertSecurityHeaders(res, where);
    }
  });

  test("no session: pages redirect to sign-in, forms answer 401; a bearer credential is not read", async () => {
    const admin = await signedInUser(s, tenantId, ["ADMIN"]);
    for (const r of sessionRoutes()) {
      const sample = sampleOf(r);
      const bearers: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${admin.token}` },
        { authorization: `Bearer ${agentKey}` },
      ];
      for (const headers of bearers) {
        const res = await consoleRequest(s, r.method, sample.path(f), {
          headers,
          ...(r.method === "POST" ? { form: { ...(sample.form?.(f) ?? {}), _csrf: "x" } } : {}),
        });
        if (r.method === "GET") {
          assert.equal(res.status, 303, routeName(r));
          assert.match(res.location ?? "", /^\/console\/login\?next=/);
        } else {
          assert.equal(res.status, 401, `${routeName(r)}: ${res.text.slice(0, 200)}`);
          assert.match(res.headers.get("content-type") ?? "", /text\/html/);
        }
      }
    }
  });

  test("expired session (the access token past its lifetime): refused like no session", async () => {
    s.clock.advance(16 * 60_000);
    try {
      for (const r of sessionRoutes()) {
        const sample = sampleOf(r);
        const res = await send(r, sample.path(f), people.get("ADMIN") ?? null, sample.form?.(f));
        assert.equal(res.status, r.method === "GET" ? 303 : 401, routeName(r));
      }
    } finally {
      s.clock.advance(-16 * 60_000);
    }
  });

  test("every role that lacks a route's action gets 403, exactly as in the API", async () => {
    let denied = 0;
    for (const r of sessionRoutes()) {
      const sample = sampleOf(r);
      const action = ("accepts" in r.auth ? r.auth.action : undefined) as Action;
      for (const role of ROLES) {
        if (actionsForRoles([role]).has(action)) continue;
        const res = await send(r, sample.path(f), people.get(role) ?? null, sample.form?.(f));
        assert.equal(res.status, 403, `${routeName(r)} as ${role}: ${res.text.slice(0, 200)}`);
        denied++;
      }
    }
    assert.ok(denied >= 20, `denied ${denied}`);
  });

  test("another tenant's objects look absent (404)", async () => {
    let checked = 0;
    for (const r of sessionRoutes()) {
      const sample = sampleOf(r);
      if (!sample.crossTenant) continue;
      const res = await send(r, sample.crossTenant.path(f), people.get("ADMIN") ?? null, sample.form?.(f));
      assert.equal(res.status, sample.crossTenant.status, `${routeName(r)}: ${res.text.slice(0, 200)}`);
      checked++;
    }
    assert.ok(checked >= 6);
  });

  test("a state-changing form without the CSRF token, with a wrong one, or from another site is 403", async () => {
    const admin = people.get("ADMIN");
    assert.ok(admin);
    for (const r of sessionRoutes()) {
      if (r.method !== "POST") continue;
      const sample = sampleOf(r);
      const form = sample.form?.(f) ?? {};
      const none = await consoleRequest(s, "POST", sample.path(f), { cookie: admin.cookie, form });
      assert.equal(none.status, 403, routeName(r));
      const wrong = await consoleRequest(s, "POST", sample.path(f), {
        cookie: admin.cookie,
        form: { ...form, _csrf: `${admin.csrf}x` },
      });
      assert.equal(wrong.status, 403, routeName(r));
      const crossSite = await consoleRequest(s, "POST", sample.path(f), {
        cookie: admin.cookie,
        form: { ...form, _csrf: admin.csrf },
        headers: { origin: "https://evil.example" },
      });
      assert.equal(crossSite.status, 403, routeName(r));
    }
  });

  test("the console cookie authenticates no API route", async () => {
    const admin = people.get("ADMIN");
    assert.ok(admin);
    const res = await s.request("GET", "/v1/memories", { key: null, headers: { cookie: admin.cookie } });
    assert.equal(res.status, 401);
  });

  test("kill switch: under a tenant freeze agents get 423, people still use every console page and lift it", async () => {
    const admin = people.get("ADMIN");
    assert.ok(admin);
    const freeze = { scope: "tenant", frozen: "true", reason: "incident", confirm: "yes", _csrf: admin.csrf };
    const set = await consoleRequest(s, "POST", "/console/killswitch", {
      cookie: admin.cookie,
      form: freeze,
    });
    assert.equal(set.status, 303, set.text);
    assert.equal((await s.request("GET", "/v1/memories", { key: agentKey })).status, 423);
    for (const r of sessionRoutes()) {
      if (r.method !== "GET") continue;
      const res = await send(r, sampleOf(r).path(f), admin);
      assert.ok([200, 303].includes(res.status), `${routeName(r)} under a freeze → ${res.status}`);
    }
    const lift = await consoleRequest(s, "POST", "/console/killswitch", {
      cookie: admin.cookie,
      form: { ...freeze, frozen: "false", reason: "resolved" },
    });
    assert.equal(lift.status, 303);
    assert.equal((await s.request("GET", "/v1/memories", { key: agentKey })).status, 200);
  });
});

describe("console: the instance-admin pages and their session", () => {
  let s: TestServer;
  let f: InstanceConsoleFixture;
  let person: ConsoleSession;
  const agents: string[] = [];

  const adminRoutes = () =>
    s.hypha.app.routeTable.filter((r) => "accepts" in r.auth && r.auth.accepts.includes("admin_session"));
  const sampleOf = (r: { method: string; url: string }): InstanceConsoleSample => {
    const sample = INSTANCE_CONSOLE_SAMPLES[routeName(r)];
    assert.ok(sample, `no instance console sample for ${routeName(r)}`);
    return sample;
  };
  const send = (
    r: { method: string; url: string },
    who: { cookie: string; csrf: string } | null,
    extra: { headers?: Record<string, string>; form?: Record<string, string> } = {},
  ) => {
    const sample = sampleOf(r);
    return consoleRequest(s, r.method, sample.path(f), {
      ...(who ? { cookie: who.cookie } : {}),
      ...(extra.headers ? { headers: extra.headers } : {}),
      ...(r.method === "POST"
        ? { form: { ...(sample.form?.() ?? {}), _csrf: who?.csrf ?? "x", ...extra.form } }
        : {}),
    });
  };

  before(async () => {
    s = await startServer();
    const tenantId = await s.createTenant();
    const other = await s.createTenant();
    f = { tenantId };
    person = await consoleSession(s, tenantId, ["ADMIN"]);
    for (const t of [tenantId, other]) agents.push((await s.createKey(t, { agent: "worker" })).key);
  });
  after(() => s.close());

  test("route table: every instance-admin page and form has a sample, and accepts the admin session alone", () => {
    assert.ok(adminRoutes().length >= 6);
    for (const r of adminRoutes()) {
      sampleOf(r);
      assert.deepEqual("accepts" in r.auth && r.auth.accepts, ["admin_session"], routeName(r));
    }
  });

  test("the admin key is exchanged once: the cookie holds a short-lived session id, HttpOnly and SameSite=Strict", async () => {
    const admin = await instanceAdminSession(s);
    const line = admin.setCookies.find((c) => c.startsWith("__Host-hypha_console="));
    assert.ok(line, admin.setCookies.join("\n"));
    assert.match(line, /^__Host-hypha_console=hcs_[A-Za-z0-9_-]{43};/);
    assert.match(line, /Max-Age=1800;/);
    assert.match(line, /HttpOnly; Secure; SameSite=Strict/);
    for (const c of admin.setCookies) assert.ok(!c.includes(s.adminKey), "the admin key sits in a cookie");
    for (const r of adminRoutes()) {
      const res = await send(r, admin);
      assert.ok([200, 303].includes(res.status), `${routeName(r)} → ${res.status} ${res.text.slice(0, 300)}`);
      assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
      assert.ok(!res.text.includes(s.adminKey));
    }
  });

  test("a wrong admin key is refused with 401, starts no session and is audited as an authentication failure", async () => {
    const page = await fetch(`${s.url}/console/admin/login`);
    const jar = mergeCookies("", page.headers.getSetCookie());
    const csrf = /hypha_console_csrf=([^;]+)/.exec(jar)?.[1] ?? "";
    const res = await consoleRequest(s, "POST", "/console/admin/login", {
      cookie: jar,
      form: { _csrf: csrf, admin_key: `${s.adminKey.slice(0, -4)}AAAA` },
    });
    assert.equal(res.status, 401);
    assert.match(res.text, /not the instance admin key/);
    assert.ok(!res.headers.getSetCookie().some((c) => /hypha_console=hcs_/.test(c)));
    const failures = await s.request("GET", "/v1/audit/events?action=auth.failed");
    const items = (failures.body as { items: { details: { route?: string } | null }[] }).items;
    assert.ok(
      items.some((e) => e.details?.route === "/console/admin/login"),
      JSON.stringify(items.slice(0, 3)),
    );
  });

  test("no session: pages redirect to the admin sign-in, forms answer 401; a bearer admin key is not read", async () => {
    for (const r of adminRoutes()) {
      const bearers: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${s.adminKey}` },
        { "x-admin-key": s.adminKey },
      ];
      for (const headers of bearers) {
        const res = await send(r, null, { headers });
        if (r.method === "GET") {
          assert.equal(res.status, 303, routeName(r));
          assert.match(res.location ?? "", /^\/console\/admin\/login\?next=/);
        } else {
          assert.equal(res.status, 401, `${routeName(r)}: ${res.text.slice(0, 200)}`);
        }
      }
    }
  });

  test("expired session (past its 30 minutes): refused like no session", async () => {
    const admin = await instanceAdminSession(s);
    s.clock.advance(31 * 60_000);
    try {
      for (const r of adminRoutes()) {
        const res = await send(r, admin);
        assert.equal(res.status, r.method === "GET" ? 303 : 401, routeName(r));
      }
    } finally {
      s.clock.advance(-31 * 60_000);
    }
  });

  test("a person's session (even a tenant ADMIN's) on an instance-admin page is 403; the admin session on a person's page is 403", async () => {
    for (const r of adminRoutes()) {
      const res = await send(r, person);
      assert.equal(res.status, 403, `${routeName(r)}: ${res.text.slice(0, 200)}`);
    }
    const admin = await instanceAdminSession(s);
    const res = await consoleRequest(s, "GET", "/console/agents", { cookie: admin.cookie });
    assert.equal(res.status, 403);
    const api = await s.request("GET", "/v1/tenants", { key: null, headers: { cookie: admin.cookie } });
    assert.equal(api.status, 401, "the session cookie authenticates no API route");
  });

  test("a state-changing form without the CSRF token, with a wrong one, or from another site is 403", async () => {
    const admin = await instanceAdminSession(s);
    for (const r of adminRoutes()) {
      if (r.method !== "POST") continue;
      const sample = sampleOf(r);
      const form = sample.form?.() ?? {};
      const none = await consoleRequest(s, "POST", sample.path(f), { cookie: admin.cookie, form });
      assert.equal(none.status, 403, routeName(r));
      const wrong = await send(r, admin, { form: { _csrf: `${admin.csrf}x` } });
      assert.equal(wrong.status, 403, routeName(r));
      const crossSite = await send(r, admin, { headers: { origin: "https://evil.example" } });
      assert.equal(crossSite.status, 403, routeName(r));
    }
  });

  test("sign-out ends the session at once, and sign-in and sign-out are audited in the instance chain", async () => {
    const admin = await instanceAdminSession(s);
    const out = await consoleRequest(s, "POST", "/console/admin/logout", {
      cookie: admin.cookie,
      form: { _csrf: admin.csrf },
    });
    assert.equal(out.status, 303);
    assert.equal(out.location, "/console/admin/login");
    const again = await consoleRequest(s, "GET", "/console/admin/tenants", { cookie: admin.cookie });
    assert.equal(again.status, 303);
    assert.match(again.location ?? "", /^\/console\/admin\/login/);
    for (const action of ["admin_session.started", "admin_session.ended"]) {
      const res = await s.request("GET", `/v1/audit/events?action=${action}`);
      assert.ok((res.body as { items: unknown[] }).items.length >= 1, action);
    }
  });

  test("global kill switch: frozen from the console, agents of both tenants get 423; people and the admin still use every page; lifted, they pass", async () => {
    const admin = await instanceAdminSession(s);
    const freeze = { frozen: "true", reason: "incident", _csrf: admin.csrf };
    const asked = await consoleRequest(s, "POST", "/console/admin/killswitch", {
      cookie: admin.cookie,
      form: freeze,
    });
    assert.equal(asked.status, 200);
    assert.match(asked.text, /Freeze every agent of every tenant\?/);
    for (const key of agents) assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
    const set = await consoleRequest(s, "POST", "/console/admin/killswitch", {
      cookie: admin.cookie,
      form: { ...freeze, confirm: "yes" },
    });
    assert.equal(set.status, 303, set.text);
    for (const key of agents) assert.equal((await s.request("GET", "/v1/memories", { key })).status, 423);
    for (const r of adminRoutes()) {
      if (r.method !== "GET") continue;
      const res = await send(r, admin);
      assert.ok([200, 303].includes(res.status), `${routeName(r)} under a freeze → ${res.status}`);
    }
    const overview = await consoleRequest(s, "GET", "/console", { cookie: person.cookie });
    assert.equal(overview.status, 200);
    const lift = await consoleRequest(s, "POST", "/console/admin/killswitch", {
      cookie: admin.cookie,
      form: { ...freeze, frozen: "false", reason: "resolved", confirm: "yes" },
    });
    assert.equal(lift.status, 303);
    for (const key of agents) assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
    for (const action of ["override.set", "override.lifted"]) {
      const trail = await s.request("GET", `/v1/audit/events?action=${action}`);
      const items = (trail.body as { items: { actor: { type: string } }[] }).items;
      assert.ok(
        items.some((e) => e.actor.type === "instance_admin"),
        `${action}: ${trail.text.slice(0, 300)}`,
      );
    }
  });

  test("deleting a tenant asks first, naming it; an unknown tenant is 404", async () => {
    const admin = await instanceAdminSession(s);
    const doomed = await s.hypha.services.tenants.create(
      {
        type: "instance_admin",
        id: "instance_admin",
        tenantId: null,
        origin: { requestId: "req_test0001", ip: "127.0.0.1", userAgent: null },
      },
      { name: "Doomed Co" },
    );
    const path = `/console/admin/tenants/${doomed.id}/delete`;
    const ask = await consoleRequest(s, "POST", path, { cookie: admin.cookie, form: { _csrf: admin.csrf } });
    assert.equal(ask.status, 200);
    assert.match(ask.text, /Delete the tenant “Doomed Co” \(tnt_/);
    assert.equal((await s.request("GET", `/v1/tenants/${doomed.id}`)).status, 200);
    const done = await consoleRequest(s, "POST", path, {
      cookie: admin.cookie,
      form: { _csrf: admin.csrf, confirm: "yes" },
    });
    assert.equal(done.status, 303);
    assert.equal((await s.request("GET", `/v1/tenants/${doomed.id}`)).status, 404);
    const gone = await consoleRequest(s, "POST", path, { cookie: admin.cookie, form: { _csrf: admin.csrf } });
    assert.equal(gone.status, 404);
  });
});

describe("console configuration", () => {
  test("HYPHA_CONSOLE_INSECURE_HTTP is refused off loopback", () => {
    assert.throws(
      () => loadConfig({}, { consoleInsecureHttp: true, host: "0.0.0.0" }),
      /HYPHA_CONSOLE_INSECURE_HTTP is only for a server on loopback/,
    );
    assert.equal(loadConfig({}, { consoleInsecureHttp: true, host: "127.0.0.1" }).consoleInsecureHttp, true);
  });
});
