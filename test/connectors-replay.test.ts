import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { connectorClient, signatureVector } from "./connector-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";

/**
 * A captured delivery re-sent with bytes the signature does not cover — a respelt signature, a
 * different `Bearer` spelling, a new unsigned delivery id — is the same delivery: answered 200
 * duplicate, stored once.
 */

const vector = signatureVector;

const SECRET = "rK7vQ2mXw9LpT4zN8cYb3HfJ6sDg1aEu";
const START = Date.parse("2026-06-01T12:00:00Z");
const mac = (secret: string, ...parts: string[]) => {
  const h = createHmac("sha256", secret);
  for (const p of parts) h.update(p);
  return h.digest();
};

describe("replay keys come from signed data only", () => {
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

  async function memoriesIn(namespace: string) {
    await s.hypha.services.connectors.worker.drain();
    const res = await s.request("GET", `/v1/memories?limit=200&namespace=${namespace}`, { key: readKey });
    assert.equal(res.status, 200, res.text);
    return (res.body as { items: unknown[] }).items.length;
  }

  async function health(connectorId: string) {
    const res = await s.request("GET", `/v1/tenants/${tenantId}/connectors/${connectorId}/health`);
    return res.body as { accepted: number; duplicates: number };
  }

  /** Sends `first`, then each replay; every replay must be 200 duplicate and store nothing more. */
  async function assertReplaysAreDuplicates(
    c: { id: string; ingest_path: string },
    namespace: string,
    first: { body: string; headers: Record<string, string>; type?: string },
    replays: { name: string; headers: Record<string, string> }[],
    expectFirst = 202,
  ) {
    const accepted = await post(c.ingest_path, first.body, first.headers, first.type);
    assert.equal(accepted.status, expectFirst, accepted.text);
    const stored = await memoriesIn(namespace);
    for (const replay of replays) {
      const res = await post(c.ingest_path, first.body, replay.headers, first.type);
      assert.equal(res.status, 200, `${replay.name}: ${res.text}`);
      assert.deepEqual(res.body, { status: "duplicate" }, replay.name);
    }
    assert.equal(await memoriesIn(namespace), stored, "no second memory");
    const h = await health(c.id);
    assert.equal(h.accepted, 1);
    assert.equal(h.duplicates, replays.length);
  }

  test("generic HMAC (hex, no timestamp): the signature upper-cased, or a new delivery-id header, is a duplicate", async () => {
    const c = await connector("generic-hex", {
      source: "generic_hmac",
      secret: SECRET,
      options: {
        header: "x-signature",
        encoding: "hex",
        prefix: "sha256=",
        deliveryIdHeader: "x-delivery-id",
      },
      mapping: { kind: "generic", namespace: "generic-hex", contentPointer: "/text" },
    });
    const body = JSON.stringify({ text: "deploy v2.4.0 approved" });
    const sig = mac(SECRET, body).toString("hex");
    await assertReplaysAreDuplicates(
      c,
      "generic-hex",
      { body, headers: { "x-signature": `sha256=${sig}`, "x-delivery-id": "gen-1" } },
      [
        { name: "upper-case hex", headers: { "x-signature": `sha256=${sig.toUpperCase()}` } },
        { name: "new delivery id", headers: { "x-signature": `sha256=${sig}`, "x-delivery-id": "gen-2" } },
        {
          name: "mixed case, new id",
          headers: {
            "x-signature": `sha256=${sig.slice(0, 32).toUpperCase()}${sig.slice(32)}`,
            "x-delivery-id": "gen-3",
          },
        },
      ],
    );
  });

  test("generic HMAC (base64, no timestamp): padded, unpadded and URL-alphabet spellings are one delivery, also after the replay window", async () => {
    const c = await connector("generic-b64", {
      source: "generic_hmac",
      secret: SECRET,
      options: { header: "x-signature", encoding: "base64" },
      mapping: { kind: "generic", namespace: "generic-b64", contentPointer: "/text" },
    });
    // Pick a body whose MAC has `+` or `/` in base64, so the URL alphabet is a different spelling.
    let body = "";
    for (let i = 0; ; i++) {
      body = JSON.stringify({ text: `nightly backup finished (${i})` });
      if (/[+/]/.test(mac(SECRET, body).toString("base64"))) break;
    }
    const padded = mac(SECRET, body).toString("base64");
    try {
      await assertReplaysAreDuplicates(c, "generic-b64", { body, headers: { "x-signature": padded } }, [
        { name: "unpadded", headers: { "x-signature": padded.replace(/=+$/, "") } },
        { name: "base64url", headers: { "x-signature": mac(SECRET, body).toString("base64url") } },
      ]);
      // Nothing signed ages this request, so its key is kept past the replay window.
      s.clock.advance(31 * 86_400_000);
      const late = await post(c.ingest_path, body, { "x-signature": padded });
      assert.deepEqual(late.body, { status: "duplicate" });
      assert.equal(await memoriesIn("generic-b64"), 1);
    } finally {
      s.clock.set(START);
    }
  });

  test("Slack slash command (published vector): the signature's hex upper-cased is a duplicate", async () => {
    const v = vector("slack-v0-signing-docs");
    const c = await connector("slack-slash", {
      source: "slack",
      secret: v.secret,
      mapping: { namespace: "slash" },
    });
    const sig = v.expected_header["X-Slack-Signature"] ?? "";
    const ts = v.expected_header["X-Slack-Request-Timestamp"] ?? "";
    assert.match(sig, /^v0=[0-9a-f]{64}$/);
    s.clock.set(Number(v.timestamp) * 1000);
    try {
      await assertReplaysAreDuplicates(
        c,
        "slash",
        {
          body: v.body,
          headers: { "x-slack-request-timestamp": ts, "x-slack-signature": sig },
          type: "application/x-www-form-urlencoded",
        },
        [
          {
            name: "upper-case hex",
            headers: {
              "x-slack-request-timestamp": ts,
              "x-slack-signature": `v0=${sig.slice(3).toUpperCase()}`,
            },
          },
        ],
        200,
      );
    } finally {
      s.clock.set(START);
    }
  });

  test("JWT without jti: the same token sent with a lower-case bearer or two spaces is a duplicate", async () => {
    const c = await connector("jwt-nojti", {
      source: "jwt",
      secret: SECRET,
      mapping: { kind: "generic", namespace: "jwt", contentPointer: "/text" },
    });
    const nowSec = Math.floor(s.clock.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + 600)
      .sign(new TextEncoder().encode(SECRET));
    const body = JSON.stringify({ text: "incident resolved" });
    await assertReplaysAreDuplicates(c, "jwt", { body, headers: { authorization: `Bearer ${token}` } }, [
      { name: "lower-case bearer", headers: { authorization: `bearer ${token}` } },
      { name: "two spaces", headers: { authorization: `Bearer  ${token}` } },
      { name: "upper case, trailing space", headers: { authorization: `BEARER ${token} ` } },
    ]);
  });

  test("GitHub: the same body with a new X-GitHub-Delivery is a duplicate, also after the replay window", async () => {
    const c = await connector("gh-redeliver", {
      source: "github",
      secret: SECRET,
      mapping: { namespace: "gh" },
    });
    const body = JSON.stringify({
      action: "opened",
      issue: {
        number: 5,
        title: "Checkout is slow",
        body: "p99",
        user: { login: "octo" },
        html_url: "https://x/5",
      },
      repository: { full_name: "acme/app" },
      sender: { login: "octo" },
    });
    const sig = mac(SECRET, body).toString("hex");
    const gh = (id: string, signature = sig) => ({
      "x-github-event": "issues",
      "x-github-delivery": id,
      "x-hub-signature-256": `sha256=${signature}`,
    });
    try {
      await assertReplaysAreDuplicates(c, "gh", { body, headers: gh("gh-1") }, [
        { name: "new delivery id", headers: gh("gh-2") },
        { name: "new id, upper-case hex", headers: gh("gh-3", sig.toUpperCase()) },
      ]);
      s.clock.advance(31 * 86_400_000);
      const late = await post(c.ingest_path, body, gh("gh-4"));
      assert.deepEqual(late.body, { status: "duplicate" });
      assert.equal(await memoriesIn("gh"), 1);
      // A different body is a different delivery.
      const other = body.replace("Checkout is slow", "Checkout is fast");
      const fresh = await post(c.ingest_path, other, gh("gh-5", mac(SECRET, other).toString("hex")));
      assert.equal(fresh.status, 202, fresh.text);
      assert.equal(await memoriesIn("gh"), 2);
    } finally {
      s.clock.set(START);
    }
  });
});
