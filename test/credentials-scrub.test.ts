import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LOCAL, type Seen, startReceiver, tokenValue } from "./credentials-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
type ProxyOut = { status: number; headers: Record<string, string>; body: string; body_encoding: string };

/**
 * The echo receiver answers with the request it got as JSON (URL, headers, body): every spelling of the
 * secret an echoing upstream can produce must come back as [REDACTED].
 */
describe("credential broker: scrubbing the forms an echoing upstream writes the secret in", () => {
  let s: TestServer;
  let rx: Receiver;
  let tenantId: string;
  let agentKey: string;

  const create = (body: Record<string, unknown>) =>
    s.request("POST", `/v1/tenants/${tenantId}/credentials`, { body });

  async function proxyOnce(credential: string, url: string) {
    const res = await s.request("POST", "/v1/proxy/http", {
      key: agentKey,
      body: { credential, method: "GET", url },
    });
    assert.equal(res.status, 200, res.text);
    const out = res.body as ProxyOut;
    assert.equal(out.status, 200);
    const body =
      out.body_encoding === "base64" ? Buffer.from(out.body, "base64").toString("utf8") : String(out.body);
    return { text: res.text, out, body, seen: rx.seen.at(-1) as Seen };
  }

  before(async () => {
    s = await startServer({ egressAllow: ["127.0.0.1"] });
    rx = await startReceiver();
    tenantId = await s.createTenant();
    await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: { anomaly: { enforce: false } } });
    agentKey = (await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use"] })).key;
  });
  after(async () => {
    await rx.close();
    await s.close();
  });

  test("a query-injected secret with ! ' ( ) ~ comes back scrubbed in its URLSearchParams form when the upstream echoes the URL", async () => {
    const v = `${tokenValue("qs")}!'()~*`;
    assert.equal(
      (
        await create({
          name: "query-echo",
          service: "svc",
          allowed_hosts: [LOCAL],
          injection: { type: "query", param: "api_key" },
          secret: v,
        })
      ).status,
      201,
    );
    const { text, body, seen } = await proxyOnce("query-echo", `${rx.url}/q?x=1`);
    // The upstream received the secret, written by URLSearchParams (not as encodeURIComponent would).
    assert.equal(new URL(seen.url, "http://h").searchParams.get("api_key"), v);
    const formEncoded = new URLSearchParams({ v }).toString().slice(2);
    assert.notEqual(formEncoded, encodeURIComponent(v));
    assert.ok(seen.url.includes(formEncoded), seen.url);
    for (const form of [v, formEncoded, formEncoded.toLowerCase(), encodeURIComponent(v)]) {
      assert.ok(!body.includes(form), `leaked ${form}`);
      assert.ok(!text.includes(form), `leaked ${form}`);
    }
    assert.match(body, /"url":"\/q\?x=1&api_key=\[REDACTED\]"/);
  });

  test('a header-injected secret with " and \\ comes back scrubbed in its JSON-escaped form', async () => {
    const v = `${tokenValue("js")}"q\\b/`;
    assert.equal(
      (
        await create({
          name: "json-echo",
          service: "svc",
          allowed_hosts: [LOCAL],
          injection: { type: "header", name: "X-Api-Key" },
          secret: v,
        })
      ).status,
      201,
    );
    const { body, out, seen } = await proxyOnce("json-echo", `${rx.url}/h`);
    assert.equal(seen.headers["x-api-key"], v);
    const escaped = JSON.stringify(v).slice(1, -1);
    assert.notEqual(escaped, v);
    assert.ok(JSON.stringify(seen).includes(escaped), "the echo holds the JSON-escaped secret");
    for (const form of [v, escaped, escaped.replaceAll("/", "\\/"), v.slice(0, -4)]) {
      assert.ok(!body.includes(form), `leaked ${form}`);
    }
    assert.equal((JSON.parse(body) as Seen).headers["x-api-key"], "[REDACTED]");
    assert.ok(!JSON.stringify(out.headers).includes(v.slice(0, -4)));
  });
});
