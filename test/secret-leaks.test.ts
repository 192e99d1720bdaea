import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { startServer, type TestServer } from "./harness.ts";
import { buildFixture, type Fixture, rightfulKey, routeName, SAMPLES } from "./security-suite.ts";

/** One secret of each common shape, as a client might paste it by mistake. */
const SECRETS = [
  `sk-proj-${"Ab3dEf6hIj9kLm2nOp5qRs8tUv".repeat(2)}`,
  `ghp_${"a1B2c3D4e5F6g7H8i9J0".repeat(2)}`,
  "AKIAQWERTYUIOPASDFGH",
  `xoxb-${"1234567890"}-abcdefghijKLMN`,
  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrZWQtdXNlciJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU",
  generateSecret(KEY_PREFIX.agent),
];
const SECRET_PASSWORD = "password=Hunter2Hunter2xyz";

describe("no secret sent to any route reaches a log line, an error body or the audit trail", () => {
  let s: TestServer;
  let f: Fixture;
  const bodies: string[] = [];
  before(async () => {
    s = await startServer({ bodyLimitBytes: 64 * 1024 });
    f = await buildFixture(s);
  });
  let closed = false;
  after(async () => {
    if (!closed) await s.hypha.close();
    rmSync(s.dataDir, { recursive: true, force: true });
  });

  test("every route, with secrets in the credential, the user agent, the query and the body", async () => {
    const ua = `agent/1.0 ${SECRETS.join(" ")} ${SECRET_PASSWORD}`;
    for (const r of s.hypha.app.routeTable) {
      const sample = SAMPLES[routeName(r)];
      if (!sample || r.method === "DELETE") continue;
      const path = sample.path(f);
      const withQuery = `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(SECRETS[0] ?? "")}`;
      for (const secret of SECRETS) {
        // A secret as the credential: 401, folded into the instance trail.
        const res = await s.request(r.method, withQuery, {
          key: secret,
          headers: { "user-agent": ua },
          ...(sample.body ? { body: sample.body(f) } : {}),
        });
        assert.equal(res.status, 401, routeName(r));
        bodies.push(res.text);
      }
      // The rightful caller with secrets in the user agent (recorded in audit events) and the query.
      const ok = await s.request(r.method, withQuery, {
        key: rightfulKey(s, f, sample),
        headers: { "user-agent": ua },
        ...(sample.body ? { body: sample.body(f) } : {}),
      });
      assert.ok(ok.status < 500, `${routeName(r)} ${ok.status}`);
      if (sample.body) {
        // Secrets in an invalid body: the validation error must not echo them.
        const bad = await s.request(r.method, withQuery, {
          key: rightfulKey(s, f, sample),
          headers: { "user-agent": ua },
          body: { ...(sample.body(f) as object), leaked: SECRETS, note: SECRET_PASSWORD },
        });
        assert.ok(bad.status >= 400, routeName(r));
        bodies.push(bad.text);
        const malformed = await s.request(r.method, withQuery, {
          key: rightfulKey(s, f, sample),
          rawBody: `{"content": "${SECRETS[1]}", `,
        });
        bodies.push(malformed.text);
      } else {
        bodies.push(ok.status >= 400 ? ok.text : "");
      }
      // A wrong-scope call with the secrets in the user agent: denied and audited.
      const denied = await s.request(r.method, withQuery, {
        key: f.auditKey === rightfulKey(s, f, sample) ? f.key : f.auditKey,
        headers: { "user-agent": ua },
        ...(sample.body ? { body: sample.body(f) } : {}),
      });
      bodies.push(denied.text);
    }
    await s.hypha.close();
    closed = true;
    const trails: string[] = [];
    const collect = (dir: string) => {
      for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (d.isFile() && /\.(jsonl|checkpoints|db|db-wal)$/.test(d.name)) {
          trails.push(readFileSync(join(d.parentPath, d.name)).toString("latin1"));
        }
      }
    };
    collect(s.dataDir);
    assert.ok(trails.join("").includes("access.denied"), "denials were audited");
    assert.ok(trails.join("").includes("auth.failed"), "failures were audited");
    assert.ok(s.logs.length > 50, "the log was captured");
    for (const secret of [...SECRETS, "Hunter2Hunter2xyz"]) {
      for (const line of s.logs)
        assert.ok(!line.includes(secret), `log line holds a secret: ${line.slice(0, 200)}`);
      for (const body of bodies)
        assert.ok(!body.includes(secret), `error body holds a secret: ${body.slice(0, 200)}`);
      for (const t of trails) assert.ok(!t.includes(secret), "an audit file or database holds a secret");
    }
  });
});
