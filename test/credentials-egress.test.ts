import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateMasterKeyring } from "../src/lib/crypto/master-key.ts";
import { type Binding, createBrokerCore } from "../src/modules/credentials/broker-core.ts";
import { startReceiver, tokenValue } from "./credentials-helpers.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

const VECTORS = JSON.parse(
  readFileSync(resolve(import.meta.dirname, "../../shared/data/ssrf/private-ip-test-vectors.json"), "utf8"),
) as { private: string[] };

const FP_KEY = "00".repeat(32);

function binding(hosts: string[]): Binding {
  return {
    tenantId: "tnt_test",
    credentialId: "crd_test",
    name: "t",
    kind: "static",
    allowedHosts: hosts,
    injection: { type: "bearer" },
    oauth: null,
  };
}

describe("credential proxy: the egress guard refuses every private destination", () => {
  test("every private address form of the shared vectors is refused (EGRESS_BLOCKED), even when the credential is bound to it", async () => {
    const core = createBrokerCore({
      ring: generateMasterKeyring(),
      egressAllow: [],
      timeoutMs: 2000,
      maxResponseBytes: 1024,
    });
    let checked = 0;
    for (const v of VECTORS.private) {
      let url: URL;
      try {
        url = new URL(v.includes(":") ? `http://[${v}]/` : `http://${v}/`);
      } catch {
        continue; // not a host the URL parser accepts: never reachable as a URL either
      }
      const b = binding([`http://${url.hostname}`]);
      const sealed = await core.seal({
        binding: b,
        secrets: { secret: tokenValue() },
        fingerprintKey: FP_KEY,
      });
      const r = await core.execute({
        binding: b,
        sealed: sealed.sealed,
        request: { method: "GET", url: url.toString() },
        fingerprintKey: FP_KEY,
        now: Date.now(),
      });
      assert.equal(r.ok, false, v);
      assert.equal(r.ok ? "" : r.code, "EGRESS_BLOCKED", `${v} → ${JSON.stringify(r)}`);
      checked++;
    }
    assert.ok(checked >= 50, `checked ${checked}`);
  });

  test("every resolved address is checked: a name with one public and one private answer is refused", async () => {
    for (const answers of [
      ["93.184.215.14", "127.0.0.1"],
      ["10.1.2.3"],
      ["93.184.215.14", "::ffff:169.254.169.254"],
    ]) {
      const core = createBrokerCore({
        ring: generateMasterKeyring(),
        egressAllow: [],
        timeoutMs: 2000,
        maxResponseBytes: 1024,
        resolver: async () => answers.map((address) => ({ address })),
      });
      const b = binding(["api.example.com"]);
      const sealed = await core.seal({
        binding: b,
        secrets: { secret: tokenValue() },
        fingerprintKey: FP_KEY,
      });
      const r = await core.execute({
        binding: b,
        sealed: sealed.sealed,
        request: { method: "GET", url: "https://api.example.com/x" },
        fingerprintKey: FP_KEY,
        now: Date.now(),
      });
      assert.equal(r.ok ? "" : r.code, "EGRESS_BLOCKED", answers.join(","));
    }
  });

  test("a binding edited outside the broker no longer opens (the binding is authenticated with the secret)", async () => {
    const core = createBrokerCore({
      ring: generateMasterKeyring(),
      egressAllow: ["127.0.0.1"],
      timeoutMs: 2000,
      maxResponseBytes: 1024,
    });
    const rx = await startReceiver();
    try {
      const b = binding(["api.example.com"]);
      const sealed = await core.seal({
        binding: b,
        secrets: { secret: tokenValue() },
        fingerprintKey: FP_KEY,
      });
      const moved = binding(["http://127.0.0.1:*"]);
      const r = await core.execute({
        binding: moved,
        sealed: sealed.sealed,
        request: { method: "GET", url: `${rx.url}/steal` },
        fingerprintKey: FP_KEY,
        now: Date.now(),
      });
      assert.equal(r.ok ? "" : r.code, "CREDENTIAL_UNREADABLE");
      assert.equal(rx.seen.length, 0);
    } finally {
      await rx.close();
    }
  });
});

describe("credential proxy: time cap", () => {
  test("an upstream that never answers ends in UPSTREAM_TIMEOUT within the deadline", async () => {
    const hang = await startReceiver(() => {
      // never answers
    });
    try {
      const core = createBrokerCore({
        ring: generateMasterKeyring(),
        egressAllow: ["127.0.0.1"],
        timeoutMs: 300,
        maxResponseBytes: 1024,
      });
      const b = binding(["http://127.0.0.1:*"]);
      const sealed = await core.seal({
        binding: b,
        secrets: { secret: tokenValue() },
        fingerprintKey: FP_KEY,
      });
      const t = Date.now();
      const r = await core.execute({
        binding: b,
        sealed: sealed.sealed,
        request: { method: "GET", url: `${hang.url}/slow` },
        fingerprintKey: FP_KEY,
        now: Date.now(),
      });
      assert.equal(r.ok ? "" : r.code, "UPSTREAM_TIMEOUT");
      assert.ok(Date.now() - t < 5000);
    } finally {
      await hang.close();
    }
  });
});

describe("credential proxy route: blocked destinations answer 403 EGRESS_BLOCKED and are audited", () => {
  let s: TestServer;
  let tenantId: string;
  let key: string;
  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
    key = (await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use"] })).key;
  });
  after(() => s.close());

  test("metadata, private, loopback and IPv4-mapped destinations are refused without any allow-list", async () => {
    const value = tokenValue();
    const res = await s.request("POST", `/v1/tenants/${tenantId}/credentials`, {
      body: {
        name: "internal",
        service: "svc",
        allowed_hosts: [
          "http://169.254.169.254",
          "http://10.0.0.1",
          "http://[::ffff:7f00:1]",
          "http://127.0.0.1:*",
        ],
        injection: { type: "bearer" },
        secret: value,
      },
    });
    assert.equal(res.status, 201, res.text);
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/",
      "http://[::ffff:127.0.0.1]/",
      "http://127.0.0.1:9/",
      "http://2130706433:9/",
      "http://0x7f.1:9/",
    ]) {
      const r = await s.request("POST", "/v1/proxy/http", {
        key,
        body: { credential: "internal", method: "GET", url },
      });
      assert.equal(r.status, 403, `${url}: ${r.text}`);
      assert.equal(errorCode(r), "EGRESS_BLOCKED", url);
      assert.ok(!r.text.includes(value));
    }
    const db = await s.hypha.storage.tenant(tenantId);
    const rows = await db.all<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'proxy.ssrf_blocked'",
    );
    assert.equal(rows.length, 6);
    assert.ok(rows.some((r) => r.details.includes("cloudMetadata")));
    assert.ok(!JSON.stringify(rows).includes(value));
  });
});
