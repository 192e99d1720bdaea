import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { configureConsoleOidc } from "./console-helpers.ts";
import { type OidcIssuer, startOidcIssuer } from "./fixtures/oidc-issuer.ts";
import { startServer, type TestServer } from "./harness.ts";
import { PASSWORD } from "./identity-helpers.ts";

/** Screenshots of every page, written as test artifacts (ignored by git). */
const ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts", "console");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

describe("console in a real browser (Chromium)", () => {
  let s: TestServer;
  let browser: Browser;
  let tenantId: string;
  let idp: OidcIssuer;
  let agent: { id: string; key: string };
  const problems: string[] = [];
  const accounts = new Map<string, string>();

  async function person(roles: string[]): Promise<string> {
    const email = `b-${Math.random().toString(36).slice(2, 10)}@example.com`;
    await s.createUser(tenantId, { email, password: PASSWORD, roles });
    accounts.set(roles.join(","), email);
    return email;
  }

  /** Collects console errors, page errors and CSP violations of a page. */
  async function watch(page: Page) {
    // Every CSP violation becomes a console error, which the test collects.
    await page.addInitScript(
      'document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));',
    );
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`${page.url()}: ${m.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`${page.url()}: ${err.message}`));
  }

  async function passwordSignIn(page: Page, base: string, email: string) {
    await page.goto(`${base}/console`);
    assert.match(page.url(), /\/console\/login\?next=/);
    await page.getByLabel("Tenant id", { exact: true }).fill(tenantId);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(/\/console(\/audit)?$/);
  }

  /** A fresh browser context signed in through the sign-in form, watching for errors and CSP reports. */
  async function signIn(email: string, viewport = { width: 1280, height: 800 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await watch(page);
    await passwordSignIn(page, s.url, email);
    return { context, page };
  }

  const nav = (page: Page, name: string) =>
    page.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name, exact: true });
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const csrfOn = (page: Page) => page.locator('input[name="_csrf"]').first().inputValue();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    s = await startServer({ consoleInsecureHttp: true, maxContentBytes: 2048, oidcAllowInsecureLocal: true });
    idp = await startOidcIssuer();
    tenantId = await s.createTenant();
    agent = await s.createKey(tenantId, { agent: "worker", scopes: ["memories:read", "memories:write"] });
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await s.close();
    await idp?.close();
  });

  let admin: { context: BrowserContext; page: Page };

  test("sign in with a password; the overview shows the kill switch, approvals and the audit chain; every page fits 390×844", async () => {
    admin = await signIn(await person(["ADMIN"]));
    const { page } = admin;
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    assert.ok(await page.getByText("Audit chain:").isVisible());
    assert.ok(await page.getByRole("heading", { name: "Kill switch" }).isVisible());
    assert.ok(await page.getByRole("heading", { name: "Pending approvals" }).isVisible());
    await shot(page, "overview");
    const phone = await admin.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${s.url}/console`);
    await shot(phone, "overview-390x844");
    for (const name of [
      "approvals",
      "killswitch",
      "agents",
      "audit",
      "memories",
      "connectors",
      "policy",
      "people",
    ]) {
      await phone.goto(`${s.url}/console/${name}`);
      await phone.getByRole("heading", { level: 1 }).waitFor();
      // Nothing wider than the screen: tables fold into labelled rows.
      const overflow = await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth");
      assert.ok(Number(overflow) <= 0, `${name} overflows by ${String(overflow)}px at 390 wide`);
      await shot(phone, `${name}-390x844`);
    }
    await phone.close();
  });

  test("approve a pending approval; the agent's retried call then succeeds", async () => {
    const policy = {
      tiers: { exportMemories: "critical", createKey: "low" },
      approvals: { critical: 1 },
      anomaly: { enforce: false },
    };
    assert.equal((await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: policy })).status, 200);
    const asked = await s.request("GET", "/v1/memories/export", { key: agent.key });
    assert.equal(asked.status, 202);
    const approvalId = (asked.body as { approval: { id: string } }).approval.id;
    const { page } = admin;
    await nav(page, "Approvals").click();
    await page.getByRole("heading", { name: "Approvals" }).waitFor();
    await shot(page, "approvals");
    await page.getByRole("button", { name: /^Approve exportMemories/ }).click();
    await page.getByText("Your approval is recorded.").waitFor();
    const retried = await s.request("GET", "/v1/memories/export", {
      key: agent.key,
      headers: { "x-approval-id": approvalId },
    });
    assert.equal(retried.status, 200, retried.text);
  });

  test("freeze an agent with a reason and a confirmation: its calls get 423; lifted, they pass", async () => {
    const { page } = admin;
    await nav(page, "Kill switch").click();
    await page.getByLabel("One agent (name or key id below)").check();
    await page.getByLabel("Agent name").fill("worker");
    await page.getByLabel(/^Reason/).fill("suspicious recall volume");
    await page.getByRole("button", { name: "Freeze…" }).click();
    await page.getByText("Freeze agent worker?").waitFor();
    await shot(page, "killswitch-confirm");
    await page.getByRole("button", { name: "Yes, freeze" }).click();
    await page.getByText("The freeze is in force.").waitFor();
    await shot(page, "killswitch");
    assert.equal((await s.request("GET", "/v1/memories", { key: agent.key })).status, 423);
    await page.getByRole("button", { name: "Lift…" }).click();
    await page.getByRole("button", { name: "Yes, lift" }).click();
    await page.getByText("The freeze is lifted.").waitFor();
    assert.equal((await s.request("GET", "/v1/memories", { key: agent.key })).status, 200);
  });

  test("erase an entity: the count first, then the result; recall no longer finds it", async () => {
    for (const content of ["Alice prefers email", "Alice lives in Lyon"]) {
      await s.storeMemory(agent.key, { content, entities: ["alice"] });
    }
    await s.storeMemory(agent.key, { content: "Bob prefers phone", entities: ["bob"] });
    const { page } = admin;
    await nav(page, "Memories").click();
    await shot(page, "memories");
    await page.getByLabel("Every memory naming this entity").fill("alice");
    await page.getByRole("button", { name: "Count and erase…" }).click();
    await page.getByText("2 memories match the entity “alice”").waitFor();
    await shot(page, "erase-confirm");
    await page.getByRole("button", { name: "Yes, erase" }).click();
    await page.getByText("Erased 2 memories").waitFor();
    const recall = await s.request("POST", "/v1/memories/recall", {
      key: agent.key,
      body: { query: "Alice" },
    });
    const results = (recall.body as { results: { memory: { entities: string[] } }[] }).results;
    assert.equal(results.filter((r) => r.memory.entities.includes("alice")).length, 0);
    const bob = await s.request("POST", "/v1/memories/recall", { key: agent.key, body: { query: "Bob" } });
    assert.equal((bob.body as { results: unknown[] }).results.length, 1);
  });

  test("agents and keys: a created key is shown once; audit filters, verification and export", async () => {
    const { page } = admin;
    await nav(page, "Agents and keys").click();
    await page.getByLabel("Agent name").fill("reporter");
    await page.getByRole("button", { name: "Create key" }).click();
    await page
      .getByRole("heading", { name: "Key created" })
      .waitFor({ timeout: 5000 })
      .catch(async () => {
        throw new Error(await page.locator("main").innerText());
      });
    const key = await page.locator("#new-key").textContent();
    assert.match(key ?? "", /^hyk_/);
    await shot(page, "key-created");
    const created = await s.request("GET", "/v1/memories", { key: key ?? "" });
    assert.equal(created.status, 200);
    await page.goto(`${s.url}/console/agents`);
    assert.equal(await page.getByText(key ?? "").count(), 0);
    await shot(page, "agents");
    await nav(page, "Audit").click();
    await page.getByLabel(/^Action or prefix/).fill("override.*");
    await page.getByRole("button", { name: "Filter" }).click();
    assert.equal(await page.getByRole("cell", { name: "override.set" }).count(), 1);
    await shot(page, "audit");
    await page.getByRole("link", { name: "Verify the chain" }).click();
    await page.getByText("The chain is intact").waitFor();
    await shot(page, "audit-verify");
    const exported = await admin.context.request.get(`${s.url}/console/audit/export`);
    assert.equal(exported.status(), 200);
    const lines = (await exported.text()).trim().split("\n");
    assert.ok(lines.length > 5);
    assert.ok(lines.every((l) => typeof (JSON.parse(l) as { seq: number }).seq === "number"));
  });

  test("replay a dead letter: it goes back to the inbox and becomes a memory once the mapping is fixed", async () => {
    const secret = "gh-secret-0123456789abcdef";
    const made = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: {
        name: "github",
        config: { source: "github", secret, mapping: { namespace: "gh", maxContentChars: 8000 } },
      },
    });
    assert.equal(made.status, 201, made.text);
    const c = made.body as { id: string; ingest_path: string };
    const body = JSON.stringify({
      action: "opened",
      issue: {
        number: 7,
        title: "x".repeat(5000),
        body: "details",
        user: { login: "octo" },
        html_url: "https://x/7",
      },
      repository: { full_name: "acme/app" },
      sender: { login: "octo" },
    });
    const sig = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    const ingested = await s.request("POST", c.ingest_path, {
      key: null,
      rawBody: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": "d-dead",
        "x-hub-signature-256": sig,
      },
    });
    assert.equal(ingested.status, 202);
    const worker = s.hypha.services.connectors.worker;
    for (let i = 0; i < 6; i++) {
      await worker.drain();
      s.clock.advance(60_000);
    }
    const fix = await s.request("PATCH", `/v1/tenants/${tenantId}/connectors/${c.id}`, {
      body: { config: { source: "github", mapping: { namespace: "gh", maxContentChars: 500 } } },
    });
    assert.equal(fix.status, 200, fix.text);
    const { page } = admin;
    await nav(page, "Connectors").click();
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();
    await shot(page, "connectors");
    await page.getByRole("button", { name: "Replay delivery d-dead" }).click();
    await page.getByText("Replayed: the delivery is back in the inbox.").waitFor();
    assert.equal(await worker.drain(), 1);
    const left = await s.request("GET", `/admin/webhooks/dead-letters/${tenantId}`);
    assert.equal((left.body as { items: unknown[] }).items.length, 0);
    const mem = await s.request("GET", "/v1/memories?namespace=gh", { key: agent.key });
    assert.equal((mem.body as { items: unknown[] }).items.length, 1);
  });

  test("connectors: an ignored delivery shows with its reason; outcome counts and the MOSTLY_IGNORED warning show on the page and the overview", async () => {
    const secret = "ping-secret-0123456789abcdef";
    const made = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: { name: "pings", config: { source: "github", secret, mapping: { namespace: "gh" } } },
    });
    assert.equal(made.status, 201, made.text);
    const c = made.body as { id: string; ingest_path: string };
    // Ten distinct pings (the same body again would be a duplicate delivery, whatever its id).
    const pingOf = (i: number) => {
      const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: i });
      return { body, sig: `sha256=${createHmac("sha256", secret).update(body).digest("hex")}` };
    };
    const sigs: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { body, sig } = pingOf(i);
      sigs.push(sig);
      const res = await s.request("POST", c.ingest_path, {
        key: null,
        rawBody: body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "ping",
          "x-github-delivery": `ping-${i}`,
          "x-hub-signature-256": sig,
        },
      });
      assert.equal(res.status, 202, res.text);
    }
    await s.hypha.services.connectors.worker.drain();
    const health = await s.request("GET", `/v1/tenants/${tenantId}/connectors/${c.id}/health`);
    const h = health.body as { outcomes: { ignored: Record<string, number> }; warnings: { code: string }[] };
    const reason = Object.keys(h.outcomes.ignored)[0];
    assert.ok(reason, health.text);
    assert.equal(h.outcomes.ignored[reason], 10);
    assert.ok(h.warnings.some((w) => w.code === "MOSTLY_IGNORED"));
    const { page } = admin;
    await nav(page, "Connectors").click();
    const deliveries = page.getByRole("table", { name: "Recent deliveries of pings" });
    const row = deliveries.getByRole("row").filter({ hasText: "ping-9" });
    assert.equal(await row.getByRole("cell").nth(1).textContent(), "ignored");
    assert.equal(await row.getByRole("cell").nth(2).textContent(), reason);
    assert.equal(await deliveries.getByRole("row").count(), 11);
    const health_ = page
      .getByRole("table", { name: "Connectors" })
      .getByRole("row")
      .filter({ hasText: "pings" });
    assert.ok(await health_.getByText(`ignored: ${reason}`).isVisible());
    assert.ok(await health_.getByText("MOSTLY_IGNORED").isVisible());
    await shot(page, "connectors-deliveries");
    // Deliveries show without their payload or headers: neither the body's text nor the signature
    // header's value (nor the secret it was made with) is anywhere in the page, markup included.
    const neverShown = (html: string, where: string) => {
      for (const needle of [
        "Keep it logically awesome",
        "logically awesome",
        ...sigs,
        ...sigs.map((sig) => sig.slice(7)),
        secret,
      ])
        assert.ok(!html.includes(needle), `${where} shows ${needle}`);
    };
    assert.ok((await page.content()).includes("ping-9"), "the page checked is the deliveries page");
    neverShown(await page.content(), "the connectors page");
    await nav(page, "Overview").click();
    const card = page.getByRole("region", { name: "Connector health" });
    assert.ok(await card.getByText("MOSTLY_IGNORED").isVisible());
    assert.match((await card.textContent()) ?? "", /pings: needs attention.*ignored 10/s);
    neverShown(await page.content(), "the overview");
  });

  test("policy: an invalid policy is refused with the API's schema message; a valid one is saved", async () => {
    const { page } = admin;
    await nav(page, "Policy").click();
    await shot(page, "policy");
    await page.getByLabel(/^Policy \(JSON/).fill('{"approvals": {"critical": 99}}');
    const seen = problems.length;
    await page.getByRole("button", { name: "Save the policy" }).click();
    await page.getByText("422 VALIDATION_FAILED").waitFor();
    // The browser reports the refused form it was sent to on purpose; only that.
    const added = problems.splice(seen);
    assert.ok(
      added.every((p) => p.includes("status of 422")),
      added.join("\n"),
    );
    assert.ok(await page.getByText(/approvals\.critical/).isVisible());
    await page.goto(`${s.url}/console/policy`);
    const current = await page.getByLabel(/^Policy \(JSON/).inputValue();
    const edited = JSON.parse(current) as { approvals: Record<string, number> };
    edited.approvals.high = 2;
    await page.getByLabel(/^Policy \(JSON/).fill(JSON.stringify(edited));
    await page.getByRole("button", { name: "Save the policy" }).click();
    await page.getByText("The policy is saved.").waitFor();
    const saved = await s.request("GET", `/v1/tenants/${tenantId}/policy`);
    assert.equal((saved.body as { approvals: { high: number } }).approvals.high, 2);
    // Administration is a high tier: under this policy even listing keys waits for approval.
    await page.goto(`${s.url}/console/agents`);
    assert.ok(await page.getByText("APPROVAL_REQUIRED").isVisible());
    edited.approvals.high = 0;
    const back = await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: edited });
    assert.equal(back.status, 200, back.text);
  });

  test("people: an ADMIN changes a person's roles and disables them; the change is the API's", async () => {
    const email = await person(["VIEWER"]);
    const { page } = admin;
    await nav(page, "People").click();
    await shot(page, "people");
    const row = page.getByRole("row").filter({ hasText: email });
    await row
      .getByRole("group", { name: `Roles of ${email}` })
      .getByLabel("DEVELOPER")
      .check();
    await row.getByLabel("Disabled").check();
    await row.getByRole("button", { name: `Save ${email}` }).click();
    await page.getByText("Saved.").waitFor();
    const users = await s.request("GET", `/v1/tenants/${tenantId}/users`);
    const u = (users.body as { items: { email: string; roles: string[]; status: string }[] }).items.find(
      (x) => x.email === email,
    );
    assert.deepEqual(u?.roles.sort(), ["DEVELOPER", "VIEWER"]);
    assert.equal(u?.status, "disabled");
  });

  test("passkey: register one with Chromium's virtual authenticator, then sign in with it alone", async () => {
    const email = await person(["DEVELOPER"]);
    // WebAuthn needs a host name (an IP address cannot be a relying party id).
    const base = s.url.replace("127.0.0.1", "localhost");
    const context = await browser.newContext();
    const page = await context.newPage();
    await watch(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await passwordSignIn(page, base, email);
    await nav(page, "Passkeys").click();
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await page.getByRole("button", { name: /^Remove passkey/ }).waitFor();
    await shot(page, "passkeys");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/login$/);
    await page.locator("#pk-tenant").fill(tenantId);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.waitForURL(/\/console$/);
    assert.ok(await page.getByText(email).isVisible());
    const db = await s.hypha.storage.tenant(tenantId);
    const logins = await db.all<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'auth.login' AND details LIKE '%passkey%'",
    );
    assert.equal(logins.length, 1);
    await context.close();
  });

  test("OIDC: sign in through the provider (authorization code, PKCE, state, nonce)", async () => {
    await configureConsoleOidc(s, tenantId, idp.issuer);
    idp.signInAs({ sub: "sso-1", email: "sso@example.com", email_verified: true, groups: ["ops"] }, () =>
      Math.floor(s.clock.now() / 1000),
    );
    const context = await browser.newContext();
    const page = await context.newPage();
    await watch(page);
    let callback = "";
    page.on("request", (r) => {
      if (r.url().includes("/console/login/oidc/callback")) callback = r.url();
    });
    await page.goto(`${s.url}/console/login`);
    await page.getByLabel("Tenant id for single sign-on").fill(tenantId);
    await page.getByRole("button", { name: "Sign in with single sign-on" }).click();
    await page.waitForURL(/\/console$/);
    assert.ok(await page.getByText("sso@example.com").isVisible());
    assert.deepEqual(idp.tokenRequests(), [{ pkce: true, basic: null }]);
    await context.close();
    // The callback works once: replaying it is refused (state spent), here or in another browser.
    const replay = await fetch(callback, { redirect: "manual" });
    assert.equal(replay.status, 303);
    assert.match(replay.headers.get("location") ?? "", /^\/console\/login\?/);
    assert.equal(idp.tokenRequests().length, 1);
  });

  test("a POST without the CSRF token is 403, and nothing changes", async () => {
    const res = await admin.context.request.post(`${s.url}/console/killswitch`, {
      form: { scope: "tenant", frozen: "true", reason: "forged", confirm: "yes" },
    });
    assert.equal(res.status(), 403);
    assert.equal((await s.request("GET", "/v1/memories", { key: agent.key })).status, 200);
  });

  test("a VIEWER sees no action buttons, and a forged POST (with its own CSRF token) is 403", async () => {
    const viewer = await signIn(await person(["VIEWER"]));
    const { page } = viewer;
    for (const path of ["/console", "/console/approvals", "/console/memories"]) {
      await page.goto(`${s.url}${path}`);
      assert.equal(await page.locator('main form[method="post"]').count(), 0, path);
    }
    await shot(page, "viewer-approvals");
    assert.equal(await nav(page, "Kill switch").count(), 0);
    const asked = await s.request("GET", "/v1/memories/export", { key: agent.key });
    const approvalId = (asked.body as { approval: { id: string } }).approval.id;
    const csrf = await csrfOn(page);
    const forged = await viewer.context.request.post(`${s.url}/console/approvals/${approvalId}/approve`, {
      form: { _csrf: csrf },
    });
    assert.equal(forged.status(), 403);
    const freeze = await viewer.context.request.post(`${s.url}/console/killswitch`, {
      form: { _csrf: csrf, scope: "tenant", frozen: "true", reason: "forged", confirm: "yes" },
    });
    assert.equal(freeze.status(), 403);
    const still = await s.request("GET", `/v1/approvals/${approvalId}`, { key: agent.key });
    assert.equal((still.body as { status: string }).status, "pending");
    await viewer.context.close();
  });

  test("an AUDIT_ADMIN sees the audit pages only", async () => {
    const auditor = await signIn(await person(["AUDIT_ADMIN"]));
    const { page } = auditor;
    assert.match(page.url(), /\/console\/audit$/);
    const nav = await page
      .getByRole("navigation", { name: "Console sections" })
      .getByRole("link")
      .allTextContents();
    assert.deepEqual(nav, ["Audit"]);
    const seen = problems.length;
    const refused = await page.goto(`${s.url}/console/agents`);
    assert.equal(refused?.status(), 403);
    assert.ok(await page.getByText("403 FORBIDDEN").isVisible());
    // The browser reports the refused page it was sent to on purpose; only that.
    const added = problems.splice(seen);
    assert.ok(
      added.every((p) => p.includes("status of 403")),
      added.join("\n"),
    );
    await auditor.context.close();
  });

  test("keyboard: the skip link and the sign-out button are reachable by Tab", async () => {
    const { page } = admin;
    await page.goto(`${s.url}/console`);
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate("document.activeElement && document.activeElement.textContent"),
      "Skip to content",
    );
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate("document.activeElement && document.activeElement.id"), "main");
  });

  test("sign-out ends the session family: the old refresh cookie no longer renews a session", async () => {
    const { page, context } = admin;
    await page.goto(`${s.url}/console`);
    const before = await context.cookies();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/login$/);
    await shot(page, "sign-in");
    // Replaying the cookies from before sign-out: the refresh token's family is revoked.
    const stale = await browser.newContext();
    await stale.addCookies(before.filter((c) => c.name !== "hypha_console"));
    const again = await stale.newPage();
    await again.goto(`${s.url}/console/login?next=/console`);
    assert.ok(await again.getByRole("button", { name: "Sign in", exact: true }).isVisible());
    await stale.close();
  });

  let instance: { context: BrowserContext; page: Page };
  const adminNav = (page: Page, name: string) =>
    page.getByRole("navigation", { name: "Instance sections" }).getByRole("link", { name, exact: true });

  test("instance admin: signs in with the admin key (never kept in a cookie), freezes every tenant with a reason and a confirmation; two tenants' agents get 423; lifted, they pass", async () => {
    const other = await s.createTenant();
    const otherAgent = await s.createKey(other, { agent: "worker", scopes: ["memories:read"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await watch(page);
    instance = { context, page };
    await page.goto(`${s.url}/console/admin`);
    assert.match(page.url(), /\/console\/admin\/login\?next=/);
    await shot(page, "admin-sign-in");
    await page.getByLabel("Instance admin key").fill(s.adminKey);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Global kill switch", level: 1 }).waitFor();
    const cookies = await context.cookies();
    assert.ok(cookies.every((c) => !c.value.includes(s.adminKey)));
    const session = cookies.find((c) => c.name === "hypha_console");
    assert.match(session?.value ?? "", /^hcs_/);
    assert.equal(session?.httpOnly, true);
    assert.equal(session?.sameSite, "Strict");
    await shot(page, "admin-killswitch");

    const calls = async () =>
      Promise.all(
        [agent.key, otherAgent.key].map(
          async (key) => (await s.request("GET", "/v1/memories", { key })).status,
        ),
      );
    assert.deepEqual(await calls(), [200, 200]);
    await page.getByLabel(/^Reason/).fill("incident 42");
    await page.getByRole("button", { name: "Freeze every tenant…" }).click();
    await page.getByText(/Freeze every agent of every tenant\? Reason: “incident 42”/).waitFor();
    await shot(page, "admin-killswitch-confirm");
    await page.getByRole("button", { name: "Yes, freeze everything" }).click();
    await page.getByText("Every tenant is frozen: agent calls are refused with 423.").waitFor();
    assert.ok(await page.getByRole("cell", { name: "incident 42" }).isVisible());
    assert.deepEqual(await calls(), [423, 423]);
    await shot(page, "admin-killswitch-frozen");
    await page.getByLabel(/^Reason/).fill("resolved");
    await page.getByRole("button", { name: "Lift the global freeze…" }).click();
    await page.getByRole("button", { name: "Yes, lift" }).click();
    await page.getByText("The global freeze is lifted.").waitFor();
    assert.deepEqual(await calls(), [200, 200]);
  });

  test("instance admin: creates a tenant, and deletes it after a confirmation that names it; both pages fit 390×844", async () => {
    const { page } = instance;
    await adminNav(page, "Tenants").click();
    await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor();
    await page.getByLabel("Name").fill("Acme Labs");
    await page.getByRole("button", { name: "Create tenant" }).click();
    await page.getByText("The tenant is created.").waitFor();
    const row = page.getByRole("row").filter({ hasText: "Acme Labs" });
    const id = ((await row.getByRole("cell").nth(1).textContent()) ?? "").trim();
    assert.match(id, /^tnt_/);
    assert.equal((await s.request("GET", `/v1/tenants/${id}`)).status, 200);
    await shot(page, "admin-tenants");
    await page.getByRole("button", { name: "Delete tenant Acme Labs" }).click();
    await page.getByText(`Delete the tenant “Acme Labs” (${id})?`).waitFor();
    await shot(page, "admin-tenant-delete-confirm");
    assert.equal(
      (await s.request("GET", `/v1/tenants/${id}`)).status,
      200,
      "nothing deleted before confirming",
    );
    await page.getByRole("button", { name: "Yes, delete tenant" }).click();
    await page.getByText("The tenant is deleted and its data crypto-shredded.").waitFor();
    assert.equal(await page.getByRole("row").filter({ hasText: "Acme Labs" }).count(), 0);
    assert.equal((await s.request("GET", `/v1/tenants/${id}`)).status, 404);
    const phone = await instance.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const name of ["killswitch", "tenants"]) {
      await phone.goto(`${s.url}/console/admin/${name}`);
      await phone.getByRole("heading", { level: 1 }).waitFor();
      const overflow = await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth");
      assert.ok(Number(overflow) <= 0, `admin ${name} overflows by ${String(overflow)}px at 390 wide`);
      await shot(phone, `admin-${name}-390x844`);
    }
    await phone.close();
  });

  test("instance admin: sign-out ends the session; its old cookie no longer opens a page", async () => {
    const { page, context } = instance;
    await page.goto(`${s.url}/console/admin/tenants`);
    const before = await context.cookies();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/admin\/login$/);
    const stale = await browser.newContext();
    await stale.addCookies(before);
    const again = await stale.newPage();
    await again.goto(`${s.url}/console/admin/tenants`);
    assert.match(again.url(), /\/console\/admin\/login\?next=/);
    await stale.close();
    await context.close();
  });

  test("no console errors and no CSP violations on any page", () => {
    assert.deepEqual(problems, []);
  });
});
