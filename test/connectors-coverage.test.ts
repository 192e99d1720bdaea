import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { sign } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { mapGithub } from "../src/modules/connectors/mappings.ts";
import { connectorClient } from "./connector-helpers.ts";
import { GITHUB_CORPUS, SLACK_CASES, STRIPE_CASES, stripeEvent } from "./fixtures/webhook-events.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

type Health = {
  accepted: number;
  outcomes: { stored: number; ignored: Record<string, number>; ignored_total: number; dead: number };
  stored_rate: number | null;
  previous_secret_verified: number;
  rotation: { in_progress: boolean; previous_expires_at: string | null };
  warnings: { code: string; message: string }[];
};
type Memory = { content: string; tags: string[]; metadata: Record<string, unknown> };

const GITHUB_SECRET = "gh-corpus-secret-0123456789";
const stripe = new Stripe("sk_test_unused_no_network");

describe("connectors carry meaning: real payload corpora through the ingest route", () => {
  let s: TestServer;
  let tenantId: string;
  let readKey: string;

  before(async () => {
    s = await startServer();
    const seeded = await s.seedTenant();
    tenantId = seeded.tenantId;
    readKey = seeded.key;
  });
  after(() => s.close());

  const { connector, post } = connectorClient(
    () => s,
    () => tenantId,
  );

  async function health(id: string): Promise<Health> {
    const res = await s.request("GET", `/v1/tenants/${tenantId}/connectors/${id}/health`);
    assert.equal(res.status, 200, res.text);
    return res.body as Health;
  }

  async function memoriesIn(namespace: string): Promise<Memory[]> {
    const out: Memory[] = [];
    let cursor = "";
    for (;;) {
      const q = `/v1/memories?namespace=${namespace}&limit=200${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await s.request("GET", q, { key: readKey });
      assert.equal(res.status, 200, res.text);
      const page = res.body as { items: Memory[]; next_cursor: string | null };
      out.push(...page.items);
      if (!page.next_cursor) return out;
      cursor = page.next_cursor;
    }
  }

  /**
   * What the pure mapping says the corpus comes to: stored count and ignored counts by reason. An
   * example that repeats an earlier one byte for byte is the same signed delivery (a duplicate), so it
   * counts once.
   */
  function expectedCorpusOutcomes() {
    let stored = 0;
    const ignored: Record<string, number> = {};
    const seen = new Set<string>();
    for (const { name, examples } of GITHUB_CORPUS) {
      for (const p of examples) {
        const json = JSON.stringify(p);
        if (seen.has(json)) continue;
        seen.add(json);
        const r = mapGithub(name, p, { source: "github", mapping: { namespace: "x" } });
        if (r.ignored) {
          const reason = r.ignored.reason.toLowerCase();
          ignored[reason] = (ignored[reason] ?? 0) + 1;
        } else stored++;
      }
    }
    return { stored, ignored };
  }

  for (const encoding of ["json", "form"] as const) {
    test(`GitHub corpus (${encoding}): every example signed with GitHub's signer ends stored or ignored with a reason`, async () => {
      const namespace = `gh-${encoding}`;
      const c = await connector(namespace, {
        source: "github",
        secret: GITHUB_SECRET,
        mapping: { namespace },
      });
      let sent = 0;
      const bodies = new Set<string>();
      for (const { name, examples } of GITHUB_CORPUS) {
        for (const payload of examples) {
          const json = JSON.stringify(payload);
          const body = encoding === "json" ? json : new URLSearchParams({ payload: json }).toString();
          // GitHub signs the body only: a repeated body with a new delivery id is the same delivery.
          const repeat = bodies.has(body);
          bodies.add(body);
          const res = await post(
            c.ingest_path,
            body,
            {
              "x-github-event": name,
              "x-github-delivery": randomUUID(),
              "x-hub-signature-256": await sign(GITHUB_SECRET, body),
            },
            encoding === "json" ? "application/json" : "application/x-www-form-urlencoded",
          );
          if (repeat) {
            assert.deepEqual([res.status, res.body], [200, { status: "duplicate" }], `${name}: ${res.text}`);
            continue;
          }
          assert.equal(res.status, 202, `${name}: ${res.text}`);
          sent++;
        }
      }
      await s.hypha.services.connectors.worker.drain();
      const expected = expectedCorpusOutcomes();
      const h = await health(c.id);
      assert.equal(h.accepted, sent);
      assert.equal(h.outcomes.stored, expected.stored);
      assert.deepEqual(h.outcomes.ignored, expected.ignored);
      assert.equal(h.outcomes.stored + h.outcomes.ignored_total, sent, "every delivery has an outcome");
      assert.equal(h.outcomes.dead, 0);
      const stored = await memoriesIn(namespace);
      assert.equal(stored.length, expected.stored);
      const release = stored.find(
        (m) => m.tags.includes("event:release") && m.tags.includes("action:published"),
      );
      assert.match(release?.content ?? "", /published release 0\.0\.1 in Codertocat\/Hello-World/);
    });
  }

  test("a connector whose deliveries mostly store nothing says so in health and on the stream", async () => {
    const c = await connector("gh-stars", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "stars" },
    });
    const star = GITHUB_CORPUS.find((e) => e.name === "star")?.examples[0];
    const issue = GITHUB_CORPUS.find((e) => e.name === "issues")?.examples[0];
    const since = await s.hypha.events.lastSeq(tenantId);
    for (let i = 0; i < 12; i++) {
      const event = i === 0 ? "issues" : "star";
      // Eleven different stars: an identical body would be one delivery (GitHub signs the body only).
      const body = JSON.stringify(i === 0 ? issue : { ...star, starred_at: `2026-05-${10 + i}T12:00:00Z` });
      const res = await post(c.ingest_path, body, {
        "x-github-event": event,
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": await sign(GITHUB_SECRET, body),
      });
      assert.equal(res.status, 202);
    }
    await s.hypha.services.connectors.worker.drain();
    const h = await health(c.id);
    assert.deepEqual(h.outcomes, {
      stored: 1,
      ignored: { event_unsupported: 11 },
      ignored_total: 11,
      dead: 0,
    });
    assert.equal(h.stored_rate, 1 / 12);
    assert.equal(h.warnings[0]?.code, "MOSTLY_IGNORED");
    assert.match(
      h.warnings[0]?.message ?? "",
      /11 of 12 deliveries stored nothing \(most: event_unsupported, 11\)/,
    );
    const replay = await s.hypha.events.since(tenantId, since);
    assert.ok(replay.ok);
    const processed = replay.events.filter(
      (e) => e.type === "ingest.processed" && e.data.connector_id === c.id,
    );
    assert.equal(processed.length, 12);
    const ignoredEvents = processed.filter((e) => e.data.outcome === "ignored");
    assert.equal(ignoredEvents.length, 11);
    assert.deepEqual(
      { reason: ignoredEvents[0]?.data.reason, detail: ignoredEvents[0]?.data.detail },
      { reason: "event_unsupported", detail: "star" },
    );
    assert.equal(processed.filter((e) => e.data.outcome === "stored").length, 1);
  });

  test("a 2,048-commit push (~1.2 MB) is accepted and stored; the API body limit still holds elsewhere", async () => {
    const c = await connector("gh-big", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "big" },
    });
    const commits = Array.from({ length: 2048 }, (_, i) => ({
      id: createHmac("sha1", "x").update(String(i)).digest("hex"),
      tree_id: createHmac("sha1", "t").update(String(i)).digest("hex"),
      distinct: true,
      message: `Regenerate fixtures batch ${i}\n\nBumps generated snapshot files for module ${i % 97}.`,
      timestamp: "2026-06-01T11:59:00Z",
      url: `https://github.com/acme/monorepo/commit/${i}`,
      author: { name: "Release Bot", email: "bot@acme.example", username: "release-bot" },
      committer: { name: "GitHub", email: "noreply@github.com", username: "web-flow" },
      added: [`fixtures/${i}/a.json`],
      removed: [],
      modified: [`fixtures/${i}/snapshot.json`, `fixtures/${i}/index.ts`],
    }));
    const body = JSON.stringify({
      ref: "refs/heads/main",
      before: "a".repeat(40),
      after: "b".repeat(40),
      created: false,
      deleted: false,
      forced: false,
      compare: "https://github.com/acme/monorepo/compare/a...b",
      commits,
      head_commit: commits.at(-1),
      pusher: { name: "release-bot" },
      repository: { full_name: "acme/monorepo" },
      sender: { login: "release-bot" },
    });
    assert.ok(body.length > 1024 * 1024, `${body.length} bytes`);
    const res = await post(c.ingest_path, body, {
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(GITHUB_SECRET, body),
    });
    assert.equal(res.status, 202, res.text);
    await s.hypha.services.connectors.worker.drain();
    const [memory] = await memoriesIn("big");
    assert.match(memory?.content ?? "", /^release-bot pushed 2048 commits to main in acme\/monorepo:/);
    assert.match(memory?.content ?? "", /… and 2028 more$/);

    // Everything else keeps the API body limit (1 MiB by default): a memory write, and a connector of
    // a source without a larger default.
    const memoryWrite = await s.request("POST", "/v1/memories", {
      key: readKey,
      body: { namespace: "big", content: "x".repeat(1024 * 1024 + 10) },
    });
    assert.equal(memoryWrite.status, 413);
    const st = await connector("stripe-small", {
      source: "stripe",
      secret: "whsec_small_0123456789",
      mapping: { namespace: "b" },
    });
    const tooBig = await post(st.ingest_path, body, { "stripe-signature": "t=1,v1=00" });
    assert.equal(tooBig.status, 413);
    assert.equal(errorCode(tooBig), "PAYLOAD_TOO_LARGE");
    // A connector's own limit wins over its source's default.
    const capped = await connector("gh-capped", {
      source: "github",
      secret: GITHUB_SECRET,
      maxBodyBytes: 64 * 1024,
      mapping: { namespace: "capped" },
    });
    const refused = await post(capped.ingest_path, body, {
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(GITHUB_SECRET, body),
    });
    assert.equal(refused.status, 413);
    // Without a declared length (chunked), the limit is enforced while reading.
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sentChunks = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sentChunks++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const chunked = await fetch(s.url + capped.ingest_path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
      },
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(((await chunked.json()) as { error: { code: string } }).error.code, "PAYLOAD_TOO_LARGE");
  });

  test("Stripe events signed with Stripe's test-header helper keep amounts, names, emails, messages and reasons", async () => {
    const secret = "whsec_corpus_0123456789abcdef";
    const c = await connector("stripe", { source: "stripe", secret, mapping: { namespace: "billing" } });
    for (const [i, kase] of STRIPE_CASES.entries()) {
      const payload = JSON.stringify(stripeEvent(kase, i));
      const header = stripe.webhooks.generateTestHeaderString({
        payload,
        secret,
        timestamp: Math.floor(s.clock.now() / 1000),
      });
      const res = await post(c.ingest_path, payload, { "stripe-signature": header });
      assert.equal(res.status, 202, `${kase.type}: ${res.text}`);
    }
    await s.hypha.services.connectors.worker.drain();
    const stored = await memoriesIn("billing");
    assert.equal(stored.length, STRIPE_CASES.length);
    for (const [i, kase] of STRIPE_CASES.entries()) {
      const m = stored.find((x) => x.metadata.event_id === stripeEvent(kase, i).id);
      assert.ok(m, kase.type);
      for (const text of kase.expect)
        assert.ok(m.content.includes(text), `${kase.type}: ${text}\n${m.content}`);
    }
    assert.equal((await health(c.id)).outcomes.stored, STRIPE_CASES.length);
  });

  test("Standard Webhooks signed with the standardwebhooks library: content stored, empty ones ignored with no_content", async () => {
    const secret = `whsec_${Buffer.from("standard-webhooks-secret-32bytes").toString("base64")}`;
    const c = await connector("std", {
      source: "standard",
      secret,
      mapping: { namespace: "std", contentPointer: "/data/message", tagPointers: ["/type"] },
    });
    const wh = new Webhook(secret);
    const events = [
      { type: "deploy.finished", data: { message: "Deployed api v2.4.0 to production in 4m12s" } },
      { type: "deploy.started", data: {} },
    ];
    for (const [i, e] of events.entries()) {
      const payload = JSON.stringify(e);
      const id = `msg_${i}_${randomUUID()}`;
      const signature = wh.sign(id, new Date(s.clock.now()), payload);
      const res = await post(c.ingest_path, payload, {
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(s.clock.now() / 1000)),
        "webhook-signature": signature,
      });
      assert.equal(res.status, 202, res.text);
    }
    await s.hypha.services.connectors.worker.drain();
    const [m] = await memoriesIn("std");
    assert.equal(m?.content, "Deployed api v2.4.0 to production in 4m12s");
    assert.ok(m?.tags.includes("deploy.finished"));
    assert.deepEqual((await health(c.id)).outcomes.ignored, { no_content: 1 });
  });

  test("Slack: messages, threads, mentions, reactions, slash commands and interactions (form-encoded, verified on the raw body)", async () => {
    const secret = "slack-signing-secret-0123456789abcdef";
    const c = await connector("slack", { source: "slack", secret, mapping: { namespace: "chat" } });
    for (const kase of SLACK_CASES) {
      const form =
        kase.encoding === "form"
          ? new URLSearchParams(kase.body as Record<string, string>).toString()
          : new URLSearchParams({ payload: JSON.stringify(kase.body) }).toString();
      const body = kase.encoding === "json" ? JSON.stringify(kase.body) : form;
      const ts = String(Math.floor(s.clock.now() / 1000));
      const signature = `v0=${createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex")}`;
      const type = kase.encoding === "json" ? "application/json" : "application/x-www-form-urlencoded";
      const res = await post(
        c.ingest_path,
        body,
        { "x-slack-request-timestamp": ts, "x-slack-signature": signature },
        type,
      );
      if (kase.encoding === "json") assert.equal(res.status, 202, `${kase.name}: ${res.text}`);
      else {
        // Slack shows the response body to the person who ran the command: a bare 200.
        assert.equal(res.status, 200, `${kase.name}: ${res.text}`);
        assert.equal(res.text, "");
      }
      // The same form with one byte changed does not verify: the signature covers the raw body.
      if (kase.encoding !== "json") {
        const tampered = await post(
          c.ingest_path,
          `${body}x`,
          { "x-slack-request-timestamp": ts, "x-slack-signature": signature },
          type,
        );
        assert.equal(tampered.status, 401);
      }
    }
    await s.hypha.services.connectors.worker.drain();
    const stored = await memoriesIn("chat");
    const expectStored = SLACK_CASES.filter((k) => Array.isArray(k.expect));
    assert.equal(stored.length, expectStored.length);
    for (const kase of expectStored) {
      const texts = kase.expect as string[];
      assert.ok(
        stored.some((m) => texts.every((t) => m.content.includes(t))),
        `${kase.name}: no memory with ${JSON.stringify(texts)}`,
      );
    }
    const h = await health(c.id);
    const ignored: Record<string, number> = {};
    for (const k of SLACK_CASES) {
      if (!Array.isArray(k.expect)) ignored[k.expect.ignored] = (ignored[k.expect.ignored] ?? 0) + 1;
    }
    assert.deepEqual(h.outcomes.ignored, ignored);
    assert.ok(
      !JSON.stringify(stored).includes("gIkuvaNzQIHg97ATvDxqgjtO"),
      "the slash command token is not kept",
    );
  });
});

describe("secret rotation with a grace period, end to end", () => {
  let s: TestServer;
  let tenantId: string;

  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
  });
  after(() => s.close());

  const OLD = "old-github-secret-0123456789";
  const NEW = "new-github-secret-9876543210";
  const NEWER = "newer-github-secret-abcdefghij";

  let pings = 0;
  async function deliver(path: string, secret: string) {
    // A new body each time: GitHub signs the body only, so a repeated one would be a duplicate.
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1, ping: ++pings });
    return s.request("POST", path, {
      key: null,
      rawBody: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": await sign(secret, body),
      },
    });
  }

  async function auditActions(): Promise<{ action: string; details: string }[]> {
    const db = await s.hypha.storage.tenant(tenantId);
    return db.all<{ action: string; details: string }>(
      "SELECT action, details FROM audit_events WHERE action LIKE 'connector.%' ORDER BY seq",
    );
  }

  test("both secrets verify while the rotation runs; the previous one stops at its expiry; every step is audited", async () => {
    const created = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: { name: "gh", config: { source: "github", secret: OLD, mapping: { namespace: "gh" } } },
    });
    assert.equal(created.status, 201, created.text);
    const c = created.body as { id: string; ingest_path: string };
    const base = `/v1/tenants/${tenantId}/connectors/${c.id}`;
    assert.equal((await deliver(c.ingest_path, OLD)).status, 202);

    const rotated = await s.request("POST", `${base}/secret/rotate`, {
      body: { secret: NEW, grace_seconds: 3600 },
    });
    assert.equal(rotated.status, 200, rotated.text);
    const r = rotated.body as { rotation: { in_progress: boolean; previous_expires_at: string } };
    assert.equal(r.rotation.in_progress, true);
    assert.equal(r.rotation.previous_expires_at, new Date(s.clock.now() + 3600_000).toISOString());
    assert.ok(!rotated.text.includes(NEW) && !rotated.text.includes(OLD), "no secret in the response");

    // The sender has not switched yet, then it has: both are accepted.
    assert.equal((await deliver(c.ingest_path, OLD)).status, 202);
    assert.equal((await deliver(c.ingest_path, NEW)).status, 202);
    assert.equal((await deliver(c.ingest_path, "some-other-secret-entirely")).status, 401);
    const during = (await s.request("GET", `${base}/health`)).body as Health;
    assert.equal(during.rotation.in_progress, true);
    assert.equal(during.previous_secret_verified, 1);
    assert.ok(during.warnings.some((w) => w.code === "PREVIOUS_SECRET_IN_USE"));

    // The grace period ends: the previous secret no longer verifies, the current one does.
    s.clock.advance(3600_000 + 1000);
    assert.equal((await deliver(c.ingest_path, OLD)).status, 401);
    assert.equal((await deliver(c.ingest_path, NEW)).status, 202);
    const afterwards = (await s.request("GET", `${base}/health`)).body as Health;
    assert.equal(afterwards.rotation.in_progress, false);

    // A second rotation, ended early by the operator.
    const again = await s.request("POST", `${base}/secret/rotate`, { body: { secret: NEWER } });
    assert.equal(again.status, 200, again.text);
    assert.equal((await deliver(c.ingest_path, NEW)).status, 202, "default grace is a day");
    const ended = await s.request("DELETE", `${base}/secret/previous`);
    assert.equal(ended.status, 200, ended.text);
    assert.equal((await deliver(c.ingest_path, NEW)).status, 401);
    assert.equal((await deliver(c.ingest_path, NEWER)).status, 202);
    const twice = await s.request("DELETE", `${base}/secret/previous`);
    assert.equal(twice.status, 409);
    assert.equal(errorCode(twice), "CONFLICT");

    const audited = await auditActions();
    assert.deepEqual(
      audited.map((a) => a.action),
      [
        "connector.created",
        "connector.secret_rotated",
        "connector.secret_previous_expired",
        "connector.secret_rotated",
        "connector.secret_rotation_ended",
      ],
    );
    const trail = JSON.stringify(audited);
    for (const secret of [OLD, NEW, NEWER]) {
      assert.ok(!trail.includes(secret), "no secret in the audit trail");
      assert.ok(!s.logs.join("").includes(secret), "no secret in the logs");
    }
  });

  test("a rotation is refused with a clear error when there is nothing to roll or the secret is unchanged or weak", async () => {
    const env = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: {
        name: "env",
        config: { source: "github", secretEnv: "GH_WEBHOOK_SECRET_UNSET", mapping: { namespace: "gh" } },
      },
    });
    const envId = (env.body as { id: string }).id;
    const fromEnv = await s.request("POST", `/v1/tenants/${tenantId}/connectors/${envId}/secret/rotate`, {
      body: { secret: NEW },
    });
    assert.equal(fromEnv.status, 409);
    assert.match(JSON.stringify(fromEnv.body), /environment variable/);

    const hmac = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: {
        name: "hmac",
        config: {
          source: "generic_hmac",
          secret: "Zq3v9Xk2Lm8Pw4Rt6Yb1Nc7Hd5Jf0Gs2",
          options: { header: "x-signature", encoding: "hex" },
          mapping: { namespace: "h", contentPointer: "/text" },
        },
      },
    });
    assert.equal(hmac.status, 201, hmac.text);
    const hmacId = (hmac.body as { id: string }).id;
    const same = await s.request("POST", `/v1/tenants/${tenantId}/connectors/${hmacId}/secret/rotate`, {
      body: { secret: "Zq3v9Xk2Lm8Pw4Rt6Yb1Nc7Hd5Jf0Gs2" },
    });
    assert.equal(same.status, 409);
    const weak = await s.request("POST", `/v1/tenants/${tenantId}/connectors/${hmacId}/secret/rotate`, {
      body: { secret: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
    });
    assert.equal(weak.status, 422);
    assert.equal(errorCode(weak), "VALIDATION_FAILED");
    const tooLong = await s.request("POST", `/v1/tenants/${tenantId}/connectors/${hmacId}/secret/rotate`, {
      body: { secret: "Yq3v9Xk2Lm8Pw4Rt6Yb1Nc7Hd5Jf0Gs2", grace_seconds: 31 * 86_400 },
    });
    assert.equal(tooLong.status, 422);
  });
});
