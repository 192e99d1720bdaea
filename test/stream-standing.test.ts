import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";

const freeze = (s: TestServer, tenantId: string, keyId: string, frozen: boolean) =>
  s.request("PUT", "/admin/override", {
    body: { scope: "agent", tenant_id: tenantId, key_id: keyId, frozen, reason: "incident" },
  });

/** A live stream read in the background: its text so far, and whether the server ended it. */
async function openStream(url: string, tenantId: string, credential: string) {
  const ctrl = new AbortController();
  const res = await fetch(`${url}/admin/stream/${tenantId}`, {
    headers: { authorization: `Bearer ${credential}` },
    signal: ctrl.signal,
  });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const state = { text: "", ended: false };
  void (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        state.text += decoder.decode(chunk.value);
      }
    } catch {
      // aborted by the test
    }
    state.ended = true;
  })();
  return { state, close: () => ctrl.abort() };
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** The `ended` frame's data, when the server closed the stream with one. */
function endedWith(text: string): { code: string } | undefined {
  const block = text.split("\n\n").find((b) => b.startsWith("event: ended\n"));
  const data = block ? /^data: (.+)$/m.exec(block)?.[1] : undefined;
  return data ? (JSON.parse(data) as { code: string }) : undefined;
}

describe("a live stream ends when its caller loses its standing", () => {
  let s: TestServer;
  let t: string;
  before(async () => {
    s = await startServer();
    t = await s.createTenant();
  });
  after(() => s.close());

  test("freezing a key ends its open stream at once (after the freeze event); another key's stream stays open", async () => {
    const frozen = await s.createKey(t, { scopes: ["tenant:admin"] });
    const other = await s.createKey(t, { scopes: ["tenant:admin"] });
    const a = await openStream(s.url, t, frozen.key);
    const b = await openStream(s.url, t, other.key);
    try {
      assert.ok(
        await until(() => a.state.text.includes(": connected") && b.state.text.includes(": connected"), 5000),
      );
      assert.equal((await freeze(s, t, frozen.id, true)).status, 200);
      assert.ok(await until(() => a.state.ended, 1500), "the frozen key's stream ended");
      assert.match(a.state.text, /event: killswitch\.changed/);
      assert.equal(endedWith(a.state.text)?.code, "AGENT_FROZEN");
      await sleep(1500); // past a periodic check
      assert.equal(b.state.ended, false, "a stream whose caller keeps its standing stays open");
      assert.match(b.state.text, /event: killswitch\.changed/);
    } finally {
      a.close();
      b.close();
      await freeze(s, t, frozen.id, false);
    }
  });

  test("revoking a key ends its open stream", async () => {
    const { key, id } = await s.createKey(t, { scopes: ["tenant:admin"] });
    const a = await openStream(s.url, t, key);
    try {
      assert.ok(await until(() => a.state.text.includes(": connected"), 5000));
      assert.equal((await s.request("DELETE", `/v1/tenants/${t}/keys/${id}`)).status, 200);
      assert.ok(await until(() => a.state.ended, 5000), "the revoked key's stream ended");
      assert.equal(endedWith(a.state.text)?.code, "CREDENTIALS_REVOKED");
    } finally {
      a.close();
    }
  });

  test("pausing a key ends its open stream", async () => {
    const { key, id } = await s.createKey(t, { scopes: ["tenant:admin"] });
    const a = await openStream(s.url, t, key);
    try {
      assert.ok(await until(() => a.state.text.includes(": connected"), 5000));
      const db = await s.hypha.storage.tenant(t);
      await db.run("INSERT INTO agent_pauses (key_id, reason, paused_at) VALUES (?, 'error_rate', ?)", [
        id,
        s.clock.now(),
      ]);
      assert.ok(await until(() => a.state.ended, 5000), "the paused key's stream ended");
      assert.equal(endedWith(a.state.text)?.code, "AGENT_PAUSED");
    } finally {
      a.close();
    }
  });

  test("a person's stream ends once they no longer hold the role it needs", async () => {
    const user = await signedInUser(s, t, ["ADMIN"]);
    const a = await openStream(s.url, t, user.token);
    try {
      assert.ok(await until(() => a.state.text.includes(": connected"), 5000));
      const changed = await s.request("PATCH", `/v1/tenants/${t}/users/${user.userId}`, {
        body: { roles: ["VIEWER"] },
      });
      assert.equal(changed.status, 200, changed.text);
      assert.ok(await until(() => a.state.ended, 5000), "the stream ended");
      assert.equal(endedWith(a.state.text)?.code, "FORBIDDEN");
    } finally {
      a.close();
    }
  });
});

describe("an NDJSON export stops when its caller loses its standing", () => {
  let s: TestServer;
  before(async () => {
    // 100 rows a second: an export of 300 rows waits about 2 s for its first page, one of 700 about
    // 4 s for its first page of 500 and 2 s more for its second.
    s = await startServer({ exportRowsPerSecond: 100 });
  });
  after(() => s.close());

  /** A fresh tenant whose key stored `rows` memories. */
  async function seeded(rows: number) {
    const t = await s.createTenant();
    const created = await s.createKey(t, { scopes: ["write"] });
    const memories = Array.from({ length: rows }, (_, i) => ({ namespace: "exp", content: `row ${i}` }));
    const stored = await s.request("POST", "/v1/memories", { key: created.key, body: { memories } });
    assert.equal(stored.status, 201, stored.text);
    return { t, ...created };
  }

  const exportOf = (key: string) =>
    fetch(`${s.url}/v1/memories/export`, { headers: { authorization: `Bearer ${key}` } });
  const rowsIn = (text: string) => text.split("\n").filter((l) => l.startsWith('{"id"')).length;

  test("an export whose key is frozen while it waits for its first page sends nothing: 423 AGENT_FROZEN", async () => {
    const { t, key, id } = await seeded(300);
    const answer = exportOf(key);
    await sleep(500);
    assert.equal((await freeze(s, t, id, true)).status, 200);
    const res = await answer;
    const text = await res.text();
    assert.equal(res.status, 423);
    assert.match(text, /AGENT_FROZEN/);
    assert.equal(rowsIn(text), 0);
  });

  test("an export whose key is frozen after its first page is cut off before the next: never completed", async () => {
    const { t, key, id } = await seeded(700);
    const res = await exportOf(key);
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    let cut = false;
    let froze = false;
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value);
        if (!froze) {
          froze = true;
          assert.equal((await freeze(s, t, id, true)).status, 200);
        }
      }
    } catch {
      cut = true;
    }
    assert.ok(cut, "the response was cut off, not ended as if complete");
    assert.ok(
      rowsIn(text) > 0 && rowsIn(text) <= 500,
      `${rowsIn(text)} of 700 rows sent: the first page at most`,
    );
  });

  test("an export whose key is revoked while it runs sends nothing more: 401 CREDENTIALS_REVOKED", async () => {
    const { t, key, id } = await seeded(300);
    const answer = exportOf(key);
    await sleep(500);
    assert.equal((await s.request("DELETE", `/v1/tenants/${t}/keys/${id}`)).status, 200);
    const res = await answer;
    const text = await res.text();
    assert.equal(res.status, 401);
    assert.match(text, /CREDENTIALS_REVOKED/);
    assert.equal(rowsIn(text), 0);
  });

  test("an export whose caller keeps its standing completes, however long it runs", async () => {
    const { key } = await seeded(300);
    const res = await exportOf(key);
    assert.equal(res.status, 200);
    assert.equal(rowsIn(await res.text()), 300);
  });
});
