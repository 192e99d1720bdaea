import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { serveProcess } from "./serve-process.ts";

const dataDir = mkdtempSync(join(tmpdir(), "hypha-crash-"));
const adminKey = generateSecret(KEY_PREFIX.admin);
const SECRET = "crash-test-secret-0123456789";
const N = 300;

after(() => rmSync(dataDir, { recursive: true, force: true }));

/** `hypha serve` on the crash test's data folder. */
const serve = () => serveProcess({ HYPHA_DATA_DIR: dataDir, HYPHA_ADMIN_KEY: adminKey });

async function call(url: string, method: string, path: string, body?: unknown, key = adminKey) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("every acknowledged (202) delivery ends as a memory or a dead letter after the server process is SIGKILLed mid-processing", async () => {
  let { child, url, exited } = await serve();
  const tenantId = (await call(url, "POST", "/v1/tenants", { name: "crash" })).body.id as string;
  const key = (
    await call(url, "POST", `/v1/tenants/${tenantId}/keys`, { agent: "reader", scopes: ["memories:read"] })
  ).body.key as string;
  const connector = await call(url, "POST", `/v1/tenants/${tenantId}/connectors`, {
    name: "gh",
    config: { source: "github", secret: SECRET, mapping: { namespace: "crash" } },
  });
  const path = connector.body.ingest_path as string;

  const acknowledged: string[] = [];
  const send = async (n: number) => {
    const deliveryId = `crash-${n}`;
    const body = JSON.stringify({
      action: "opened",
      issue: { number: n, title: `Issue ${n}`, body: "ok", user: { login: "u" } },
      repository: { full_name: "acme/app" },
    });
    // A delivery shed with 503 OVERLOADED wrote nothing; like a sender that retries, send it again
    // after a pause (a busy machine sheds some of 300 concurrent deliveries).
    for (;;) {
      try {
        const res = await fetch(url + path, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "issues",
            "x-github-delivery": deliveryId,
            "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
          },
          body,
        });
        await res.arrayBuffer();
        if (res.status === 503) {
          await new Promise((ok) => setTimeout(ok, 100));
          continue;
        }
        if (res.status === 202) acknowledged.push(deliveryId);
        // Kill while half the deliveries are acknowledged and the rest are still in flight.
        if (acknowledged.length === Math.floor(N / 2)) child.kill("SIGKILL");
      } catch {
        // the connection died with the process: not acknowledged, so the sender would retry
      }
      return;
    }
  };

  await Promise.all(Array.from({ length: N }, (_, n) => send(n)));
  // Whatever happened, the first process does not outlive the sends.
  child.kill("SIGKILL");
  await exited;
  assert.ok(acknowledged.length >= N / 2, `only ${acknowledged.length} of ${N} deliveries were acknowledged`);

  // What the killed process left behind: some acknowledged deliveries were not yet processed.
  const vault = new DatabaseSync(join(dataDir, "vaults", tenantId, "vault.db"));
  const pendingAtCrash = (
    vault.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'").get() as {
      n: number;
    }
  ).n;
  vault.close();
  assert.ok(pendingAtCrash > 0, "the kill landed while acknowledged deliveries were still unprocessed");

  ({ child, url } = await serve());
  try {
    const deadline = Date.now() + 60_000;
    let memoriesByDelivery = new Set<string>();
    let memoryCount = 0;
    let dead = new Set<string>();
    for (;;) {
      memoriesByDelivery = new Set();
      memoryCount = 0;
      let cursor: string | null = null;
      do {
        const page = await call(
          url,
          "GET",
          `/v1/memories?limit=200${cursor ? `&cursor=${cursor}` : ""}`,
          undefined,
          key,
        );
        for (const m of page.body.items as { metadata: { delivery_id?: string } }[]) {
          if (!m.metadata.delivery_id) continue;
          memoriesByDelivery.add(m.metadata.delivery_id);
          memoryCount++;
        }
        cursor = page.body.next_cursor as string | null;
      } while (cursor);
      const letters = await call(url, "GET", `/admin/webhooks/dead-letters/${tenantId}?limit=200`);
      dead = new Set((letters.body.items as { delivery_id: string }[]).map((d) => d.delivery_id));
      const missing = acknowledged.filter((d) => !memoriesByDelivery.has(d) && !dead.has(d));
      if (missing.length === 0 || Date.now() > deadline) {
        assert.deepEqual(
          missing,
          [],
          `${missing.length} acknowledged deliveries were lost (pending at crash: ${pendingAtCrash})`,
        );
        break;
      }
      await new Promise((ok) => setTimeout(ok, 200));
    }
    // Exactly once: no delivery became two memories, and none is both a memory and a dead letter.
    assert.equal(memoryCount, memoriesByDelivery.size);
    process.stdout.write(`# acknowledged ${acknowledged.length}, pending at crash ${pendingAtCrash}\n`);
    for (const d of dead) assert.ok(!memoriesByDelivery.has(d), d);
  } finally {
    child.kill("SIGKILL");
  }
});
