import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { manualClock } from "../../lib/clock.ts";
import {
  type ConnectorConfig,
  type ConnectorConfigInput,
  connectorConfigSchema,
} from "./connectors.schemas.ts";
import { decodeBase64_32, decodeHex32, matchesAny } from "./hmac.ts";
import { createInboundVerifier } from "./inbound.ts";
import { createMemoryReplayStore, createReplayGuard, deliveryIdFor } from "./replay.ts";
import {
  type InboundHeaders,
  parseStripeSignature,
  verifyBearer,
  verifyGithub,
  verifyJwt,
  verifySlack,
  verifyStandardWebhooks,
  verifyStripe,
} from "./signatures.ts";

type Vector = {
  id: string;
  secret?: string;
  body?: string;
  timestamp?: string;
  webhook_id?: string;
  expected_header: Record<string, string>;
};
const vectorsPath = resolve(
  import.meta.dirname,
  "../../..",
  "../shared/data/webhooks/webhook-signature-vectors.json",
);
const vectors = (JSON.parse(readFileSync(vectorsPath, "utf8")) as { vectors: Vector[] }).vectors;

function vector(id: string): Vector {
  const v = vectors.find((x) => x.id === id);
  assert.ok(v, `vector ${id} present`);
  return v;
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

const NOW_MS = Date.parse("2026-01-01T00:00:00Z");
const NOW_SEC = NOW_MS / 1000;

describe("published signature vectors", () => {
  test("GitHub docs vector verifies over the raw body", () => {
    const v = vector("github-x-hub-signature-256-docs");
    const result = verifyGithub({
      secret: v.secret,
      headers: lower(v.expected_header),
      body: Buffer.from(v.body ?? ""),
    });
    const signedDigest = createHash("sha256")
      .update(v.body ?? "")
      .digest("hex");
    assert.deepEqual(result, { ok: true, signedDigest });
  });

  test("GitHub docs vector fails with a one-character change to the body", () => {
    const v = vector("github-x-hub-signature-256-docs");
    const result = verifyGithub({
      secret: v.secret,
      headers: lower(v.expected_header),
      body: Buffer.from(`${v.body ?? ""} `),
    });
    assert.deepEqual(result, { ok: false, reason: "SIGNATURE_MISMATCH" });
  });

  test("Slack docs vector verifies when now is pinned to its timestamp", () => {
    const v = vector("slack-v0-signing-docs");
    const result = verifySlack({
      secret: v.secret,
      headers: lower(v.expected_header),
      body: Buffer.from(v.body ?? ""),
      nowMs: Number(v.timestamp) * 1000,
    });
    const signedDigest = createHash("sha256")
      .update(`v0:${v.timestamp}:${v.body ?? ""}`)
      .digest("hex");
    assert.deepEqual(result, { ok: true, timestamp: Number(v.timestamp), signedDigest });
  });

  test("Slack docs vector is rejected as stale at today's time (2018 timestamp)", () => {
    const v = vector("slack-v0-signing-docs");
    const result = verifySlack({
      secret: v.secret,
      headers: lower(v.expected_header),
      body: Buffer.from(v.body ?? ""),
      nowMs: NOW_MS,
    });
    assert.deepEqual(result, { ok: false, reason: "TIMESTAMP_STALE" });
  });

  test("Standard Webhooks spec vector verifies and yields webhook-id as delivery id", () => {
    const v = vector("standard-webhooks-spec-vector");
    const result = verifyStandardWebhooks({
      secret: v.secret,
      headers: lower(v.expected_header),
      body: Buffer.from(v.body ?? ""),
      nowMs: Number(v.timestamp) * 1000,
    });
    assert.deepEqual(result, { ok: true, deliveryId: v.webhook_id, timestamp: Number(v.timestamp) });
  });

  test("Standard Webhooks spec vector fails when the id is swapped (the id is signed)", () => {
    const v = vector("standard-webhooks-spec-vector");
    const headers = { ...lower(v.expected_header), "webhook-id": "msg_other" };
    const result = verifyStandardWebhooks({
      secret: v.secret,
      headers,
      body: Buffer.from(v.body ?? ""),
      nowMs: Number(v.timestamp) * 1000,
    });
    assert.deepEqual(result, { ok: false, reason: "SIGNATURE_MISMATCH" });
  });

  test("Stripe docs header parses: t, both v1 candidates (only one here), v0 ignored", () => {
    const v = vector("stripe-signature-header-format-docs");
    const parsed = parseStripeSignature(v.expected_header["Stripe-Signature"] ?? "");
    assert.deepEqual(parsed, {
      timestamp: "1492774577",
      v1: ["5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"],
    });
  });

  test("Stripe docs header with its v0 removed has no v1 → SIGNATURE_MISSING, not a v0 fallback", () => {
    const header = "t=1492774577,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
    const result = verifyStripe({
      secret: "whsec_anything_at_all_here",
      headers: { "stripe-signature": header },
      body: Buffer.from("{}"),
      nowMs: 1492774577 * 1000,
    });
    assert.deepEqual(result, { ok: false, reason: "SIGNATURE_MISSING" });
  });
});

// ---------------------------------------------------------------------------------------------------
// One conformance suite, run for every scheme

const STRONG = "k7Q2m9X4p1Z8v3N6b5C0d2F7g4H1j8L3qWrTy";
const STANDARD_SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
/** JSON whose bytes change when parsed and re-serialised (spaces, escaped unicode, 1.0). */
const JSON_BODY = Buffer.from('{"id": "evt_1", "event_id": "Ev1", "text": "caf\\u00e9", "n": 1.0}');

type Signed = { headers: Record<string, string> };
type Scheme = {
  name: string;
  config: ConnectorConfigInput;
  secret: string;
  /** Signs `body` at `tsSec` with `secret`, carrying `deliveryId` where the scheme has one. */
  sign(secret: string, body: Buffer, tsSec: number, deliveryId: string): Promise<Signed> | Signed;
  hasTimestamp: boolean;
  bindsBody: boolean;
  /** The reason a stale delivery gets. */
  staleReason?: string;
  /** The reason a far-future delivery gets. */
  futureReason?: string;
  /** The reason a body change gets. */
  bodyReason?: string;
};

const hex = (key: string | Buffer, data: string | Buffer) =>
  createHmac("sha256", key).update(data).digest("hex");
const cat = (prefix: string, body: Buffer) => Buffer.concat([Buffer.from(prefix), body]);

const mapping = { namespace: "inbox", contentPointer: "/text" };

const schemes: Scheme[] = [
  {
    name: "github",
    config: { source: "github", mapping },
    secret: "github-hook-secret-123",
    sign: (secret, body, _ts, id) => ({
      headers: { "x-hub-signature-256": `sha256=${hex(secret, body)}`, "x-github-delivery": id },
    }),
    hasTimestamp: false,
    bindsBody: true,
  },
  {
    name: "slack",
    config: { source: "slack", mapping },
    secret: "8f742231b10e8888abcd99yyyzzz85a5",
    sign: (secret, body, ts) => ({
      headers: {
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": `v0=${hex(secret, cat(`v0:${ts}:`, body))}`,
      },
    }),
    hasTimestamp: true,
    bindsBody: true,
  },
  {
    name: "stripe",
    config: { source: "stripe", mapping },
    secret: "whsec_stripe_test_secret_0123",
    sign: (secret, body, ts) => ({
      headers: {
        "stripe-signature": `t=${ts},v1=${"0".repeat(64)},v1=${hex(secret, cat(`${ts}.`, body))},v0=${"1".repeat(64)}`,
      },
    }),
    hasTimestamp: true,
    bindsBody: true,
  },
  {
    name: "standard",
    config: { source: "standard", mapping },
    secret: STANDARD_SECRET,
    sign: (secret, body, ts, id) => {
      const key = Buffer.from(secret.slice("whsec_".length), "base64");
      const sig = createHmac("sha256", key)
        .update(cat(`${id}.${ts}.`, body))
        .digest("base64");
      return {
        headers: {
          "webhook-id": id,
          "webhook-timestamp": String(ts),
          "webhook-signature": `v1a,${"A".repeat(86)}== v1,${sig}`,
        },
      };
    },
    hasTimestamp: true,
    bindsBody: true,
  },
  {
    name: "generic_hmac",
    config: {
      source: "generic_hmac",
      mapping,
      options: {
        header: "X-Signature",
        encoding: "hex",
        prefix: "sha256=",
        timestampHeader: "X-Timestamp",
        deliveryIdHeader: "X-Delivery-Id",
      },
    },
    secret: STRONG,
    sign: (secret, body, ts, id) => ({
      headers: {
        "x-signature": `sha256=${hex(secret, cat(`${ts}.`, body))}`,
        "x-timestamp": String(ts),
        "x-delivery-id": id,
      },
    }),
    hasTimestamp: true,
    bindsBody: true,
  },
  {
    name: "jwt (HS256, body_sha256)",
    config: {
      source: "jwt",
      secretEnv: "HOOK_SECRET",
      mapping,
      options: { bodyHashClaim: "body_sha256", maxTokenAgeSec: 300 },
    },
    secret: STRONG,
    sign: async (secret, body, ts, id) => {
      const token = await new SignJWT({ body_sha256: createHash("sha256").update(body).digest("hex") })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(ts)
        .setExpirationTime(ts + 300)
        .setJti(id)
        .sign(new TextEncoder().encode(secret));
      return { headers: { authorization: `Bearer ${token}` } };
    },
    hasTimestamp: true,
    bindsBody: true,
    staleReason: "TOKEN_EXPIRED",
    futureReason: "TOKEN_INVALID",
    bodyReason: "BODY_HASH_MISMATCH",
  },
  {
    name: "bearer",
    config: { source: "bearer", mapping },
    secret: STRONG,
    sign: (secret) => ({ headers: { authorization: `Bearer ${secret}` } }),
    hasTimestamp: false,
    bindsBody: false,
  },
];

for (const scheme of schemes) {
  describe(`conformance: ${scheme.name}`, () => {
    const config: ConnectorConfig = connectorConfigSchema.parse(scheme.config);
    const setup = () => {
      const clock = manualClock(NOW_MS);
      return { clock, verifier: createInboundVerifier({ clock }) };
    };

    test("a correctly signed delivery verifies", async () => {
      const { verifier } = setup();
      const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC, "dlv_1");
      const result = await verifier.verify({ config, secret: scheme.secret, headers, body: JSON_BODY });
      assert.equal(result.ok, true, JSON.stringify(result));
    });

    test("a delivery signed with another secret is rejected", async () => {
      const { verifier } = setup();
      const other =
        scheme.name === "standard" ? `whsec_${Buffer.alloc(32, 7).toString("base64")}` : `${scheme.secret}X`;
      const { headers } = await scheme.sign(other, JSON_BODY, NOW_SEC, "dlv_1");
      const result = await verifier.verify({ config, secret: scheme.secret, headers, body: JSON_BODY });
      assert.deepEqual(result, { ok: false, reason: "SIGNATURE_MISMATCH" });
    });

    if (scheme.bindsBody) {
      test("a body parsed and re-serialised no longer verifies (raw bytes are signed)", async () => {
        const { verifier } = setup();
        const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC, "dlv_1");
        const reserialised = Buffer.from(JSON.stringify(JSON.parse(JSON_BODY.toString("utf8"))));
        assert.notDeepEqual(reserialised, JSON_BODY);
        const result = await verifier.verify({ config, secret: scheme.secret, headers, body: reserialised });
        assert.deepEqual(result, { ok: false, reason: scheme.bodyReason ?? "SIGNATURE_MISMATCH" });
      });
    } else {
      test("bearer authenticates the sender only: the body is not bound, so replay keys hash the body", async () => {
        const { verifier } = setup();
        const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC, "dlv_1");
        const result = await verifier.verify({
          config,
          secret: scheme.secret,
          headers,
          body: Buffer.from("{}"),
        });
        assert.equal(result.ok, true);
        assert.ok(result.ok);
        const a = deliveryIdFor({
          source: "bearer",
          verified: result,
          body: JSON_BODY,
          payload: {},
        });
        const b = deliveryIdFor({
          source: "bearer",
          verified: result,
          body: Buffer.from("{}"),
          payload: {},
        });
        assert.ok(a.ok && b.ok);
        assert.notEqual(a.deliveryId, b.deliveryId);
      });
    }

    if (scheme.hasTimestamp) {
      test("a delivery signed longer ago than the tolerance is rejected as stale", async () => {
        const { verifier } = setup();
        const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC - 3600, "dlv_1");
        const result = await verifier.verify({ config, secret: scheme.secret, headers, body: JSON_BODY });
        assert.deepEqual(result, { ok: false, reason: scheme.staleReason ?? "TIMESTAMP_STALE" });
      });

      test("a delivery signed just inside the tolerance still verifies", async () => {
        const { verifier } = setup();
        const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC - 240, "dlv_1");
        const result = await verifier.verify({ config, secret: scheme.secret, headers, body: JSON_BODY });
        assert.equal(result.ok, true, JSON.stringify(result));
      });

      test("a delivery timestamped far in the future is rejected", async () => {
        const { verifier } = setup();
        const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC + 3600, "dlv_1");
        const result = await verifier.verify({ config, secret: scheme.secret, headers, body: JSON_BODY });
        assert.equal(result.ok, false);
        assert.ok(!result.ok);
        assert.equal(result.reason, scheme.futureReason ?? "TIMESTAMP_IN_FUTURE");
      });
    }

    test("the same delivery replayed is accepted once, then rejected as REPLAYED", async () => {
      const { clock, verifier } = setup();
      const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
      const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC, "dlv_1");
      const outcomes: string[] = [];
      for (let i = 0; i < 2; i++) {
        const verified = await verifier.verify({ config, secret: scheme.secret, headers, body: JSON_BODY });
        assert.ok(verified.ok, JSON.stringify(verified));
        const id = deliveryIdFor({
          source: config.source,
          verified,
          body: JSON_BODY,
          payload: JSON.parse(JSON_BODY.toString("utf8")),
        });
        assert.ok(id.ok);
        const check = await guard.checkAll("tnt_a", "con_a", id.replayKeys);
        outcomes.push(check.ok ? "accepted" : check.reason);
      }
      assert.deepEqual(outcomes, ["accepted", "REPLAYED"]);
    });

    test("no secret configured rejects even a well-formed delivery (fail closed)", async () => {
      const { verifier } = setup();
      const { headers } = await scheme.sign(scheme.secret, JSON_BODY, NOW_SEC, "dlv_1");
      for (const secret of [undefined, ""]) {
        const result = await verifier.verify({ config, secret, headers, body: JSON_BODY });
        assert.deepEqual(result, { ok: false, reason: "NO_SECRET_CONFIGURED" });
      }
    });

    test("a delivery without its signature header is rejected as SIGNATURE_MISSING", async () => {
      const { verifier } = setup();
      const result = await verifier.verify({ config, secret: scheme.secret, headers: {}, body: JSON_BODY });
      assert.deepEqual(result, { ok: false, reason: "SIGNATURE_MISSING" });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Scheme-specific edges

describe("header parsing", () => {
  test("a repeated signature header is MALFORMED_HEADER, not first-wins", () => {
    const body = Buffer.from("x");
    const good = `sha256=${hex("s3cret-value-long", body)}`;
    const headers: InboundHeaders = { "x-hub-signature-256": [good, good] };
    assert.deepEqual(verifyGithub({ secret: "s3cret-value-long", headers, body }), {
      ok: false,
      reason: "MALFORMED_HEADER",
    });
  });

  test("a truncated hex signature is MALFORMED_HEADER (no prefix comparison)", () => {
    const body = Buffer.from("x");
    const sig = hex("s3cret-value-long", body).slice(0, 10);
    const result = verifyGithub({
      secret: "s3cret-value-long",
      headers: { "x-hub-signature-256": `sha256=${sig}` },
      body,
    });
    assert.deepEqual(result, { ok: false, reason: "MALFORMED_HEADER" });
  });

  test("hex decoding refuses partially valid hex instead of silently truncating", () => {
    assert.equal(decodeHex32(`${"a".repeat(62)}zz`), undefined);
    assert.equal(decodeHex32("a".repeat(64))?.length, 32);
    assert.equal(decodeBase64_32("AAAA"), undefined);
  });

  test("matchesAny checks every candidate and finds a match in any position", () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    assert.equal(matchesAny(a, [b, b, a]), true);
    assert.equal(matchesAny(a, [b, Buffer.alloc(31, 1)]), false);
    assert.equal(matchesAny(a, []), false);
  });

  test("a non-numeric Slack timestamp is MALFORMED_HEADER", () => {
    const result = verifySlack({
      secret: "slack-signing-secret-1",
      headers: { "x-slack-request-timestamp": "1e9", "x-slack-signature": `v0=${"a".repeat(64)}` },
      body: Buffer.from(""),
      nowMs: NOW_MS,
    });
    assert.deepEqual(result, { ok: false, reason: "MALFORMED_HEADER" });
  });

  test("Stripe: more than eight v1 entries are refused before any HMAC work", () => {
    const header = `t=${NOW_SEC},${Array.from({ length: 9 }, () => `v1=${"a".repeat(64)}`).join(",")}`;
    const result = verifyStripe({
      secret: "whsec_x_long_enough",
      headers: { "stripe-signature": header },
      body: Buffer.from(""),
      nowMs: NOW_MS,
    });
    assert.deepEqual(result, { ok: false, reason: "MALFORMED_HEADER" });
  });

  test("Standard Webhooks: a secret that is not base64 is SECRET_INVALID", () => {
    const result = verifyStandardWebhooks({
      secret: "whsec_not*base64!",
      headers: {},
      body: Buffer.from(""),
      nowMs: NOW_MS,
    });
    assert.deepEqual(result, { ok: false, reason: "SECRET_INVALID" });
  });

  test("bearer: a token of a different length and a wrong scheme word are rejected", () => {
    const secret = STRONG;
    assert.deepEqual(verifyBearer({ secret, headers: { authorization: `Bearer ${secret.slice(1)}` } }), {
      ok: false,
      reason: "SIGNATURE_MISMATCH",
    });
    assert.deepEqual(verifyBearer({ secret, headers: { authorization: `Basic ${secret}` } }), {
      ok: false,
      reason: "MALFORMED_HEADER",
    });
    assert.deepEqual(
      verifyBearer({ secret, headers: { "x-token": secret }, options: { header: "x-token" } }),
      {
        ok: true,
      },
    );
  });
});

describe("jwt", () => {
  const body = Buffer.from('{"a":1}');
  const bodyHash = createHash("sha256").update(body).digest("base64url");
  const secretKey = new TextEncoder().encode(STRONG);

  test("alg none is rejected even with a shared secret configured", async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const token = `${enc({ alg: "none" })}.${enc({ exp: NOW_SEC + 60 })}.`;
    const result = await verifyJwt({
      headers: { authorization: `Bearer ${token}` },
      body,
      nowMs: NOW_MS,
      key: { kind: "secret", secret: STRONG },
    });
    assert.equal(result.ok, false);
  });

  test("a token without exp is rejected (exp is required)", async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).sign(secretKey);
    const result = await verifyJwt({
      headers: { authorization: `Bearer ${token}` },
      body,
      nowMs: NOW_MS,
      key: { kind: "secret", secret: STRONG },
    });
    assert.deepEqual(result, { ok: false, reason: "TOKEN_INVALID" });
  });

  test("an HS384 token is rejected: a shared secret verifies HS256 only", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS384" })
      .setExpirationTime(NOW_SEC + 60)
      .sign(secretKey);
    const result = await verifyJwt({
      headers: { authorization: `Bearer ${token}` },
      body,
      nowMs: NOW_MS,
      key: { kind: "secret", secret: STRONG },
    });
    assert.deepEqual(result, { ok: false, reason: "TOKEN_INVALID" });
  });

  test("ES256 against an inline JWKS verifies, binds base64url body hash, and an HS256 token signed with the public JWK is refused", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const config = connectorConfigSchema.parse({
      source: "jwt",
      mapping,
      options: { jwks: { keys: [jwk] }, bodyHashClaim: "body_sha256", issuer: "sender" },
    });
    const verifier = createInboundVerifier({ clock: manualClock(NOW_MS) });
    const good = await new SignJWT({ body_sha256: bodyHash })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("sender")
      .setExpirationTime(NOW_SEC + 60)
      .sign(privateKey);
    const ok = await verifier.verify({
      config,
      secret: undefined,
      headers: { authorization: `Bearer ${good}` },
      body,
    });
    assert.equal(ok.ok, true, JSON.stringify(ok));

    // Algorithm confusion: HMAC keyed with the public key's JSON.
    const confused = await new SignJWT({ body_sha256: bodyHash })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer("sender")
      .setExpirationTime(NOW_SEC + 60)
      .sign(new TextEncoder().encode(JSON.stringify(jwk)));
    const bad = await verifier.verify({
      config,
      secret: undefined,
      headers: { authorization: `Bearer ${confused}` },
      body,
    });
    assert.equal(bad.ok, false);

    const wrongIssuer = await new SignJWT({ body_sha256: bodyHash })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("someone-else")
      .setExpirationTime(NOW_SEC + 60)
      .sign(privateKey);
    const iss = await verifier.verify({
      config,
      secret: undefined,
      headers: { authorization: `Bearer ${wrongIssuer}` },
      body,
    });
    assert.deepEqual(iss, { ok: false, reason: "TOKEN_INVALID" });
  });

  test("RS256 against a JWKS URL: keys are fetched once through the injected fetch and cached", async () => {
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "r1", alg: "RS256" };
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      // Constructed directly: the schema only admits https URLs, the local fake speaks http.
      const config: ConnectorConfig = {
        source: "jwt",
        mapping: { namespace: "inbox" },
        options: { jwksUrl: `http://127.0.0.1:${port}/jwks.json`, algorithms: ["RS256"] },
      };
      const seenUrls: string[] = [];
      const verifier = createInboundVerifier({
        clock: manualClock(NOW_MS),
        fetchJwks: (url, init) => {
          seenUrls.push(url);
          return fetch(url, init);
        },
      });
      for (let i = 0; i < 3; i++) {
        const token = await new SignJWT({})
          .setProtectedHeader({ alg: "RS256", kid: "r1" })
          .setJti(`j${i}`)
          .setExpirationTime(NOW_SEC + 60)
          .sign(privateKey);
        const r = await verifier.verify({
          config,
          secret: undefined,
          headers: { authorization: `Bearer ${token}` },
          body,
        });
        assert.deepEqual(r.ok && r.deliveryId, `j${i}`);
      }
      assert.equal(fetches, 1);
      assert.deepEqual(seenUrls, [`http://127.0.0.1:${port}/jwks.json`]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("an unreachable JWKS URL is KEYS_UNAVAILABLE, not an exception", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const config: ConnectorConfig = {
      source: "jwt",
      mapping: { namespace: "inbox" },
      options: { jwksUrl: "https://jwks.invalid/keys", algorithms: ["RS256"] },
    };
    const verifier = createInboundVerifier({
      clock: manualClock(NOW_MS),
      fetchJwks: async () => {
        throw new TypeError("fetch failed");
      },
    });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: "r1" })
      .setExpirationTime(NOW_SEC + 60)
      .sign(privateKey);
    const r = await verifier.verify({
      config,
      secret: undefined,
      headers: { authorization: `Bearer ${token}` },
      body,
    });
    assert.deepEqual(r, { ok: false, reason: "KEYS_UNAVAILABLE" });
  });
});
