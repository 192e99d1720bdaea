import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { serveProcess } from "./serve-process.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh() {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-shutdown-"));
  dirs.push(dataDir);
  return { HYPHA_DATA_DIR: dataDir, HYPHA_ADMIN_KEY: generateSecret(KEY_PREFIX.admin) };
}

async function call(url: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A request whose body never completes: in flight until the server cuts it. */
function hangingRequest(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((ok) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `POST /v1/tenants HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"name":`,
      );
      setTimeout(ok, 100);
    });
    socket.on("error", () => {});
  });
}

test("SIGTERM under load: the server drains, exits 0, and every acknowledged write survives the restart with every audit chain intact", async () => {
  const env = fresh();
  let served = await serveProcess(env);
  const admin = env.HYPHA_ADMIN_KEY;
  const tenantId = (await call(served.url, admin, "POST", "/v1/tenants", { name: "drain" })).body
    .id as string;
  const key = (
    await call(served.url, admin, "POST", `/v1/tenants/${tenantId}/keys`, {
      agent: "writer",
      scopes: ["memories:read", "memories:write"],
    })
  ).body.key as string;

  const acknowledged: string[] = [];
  let refused = 0;
  let signalled = false;
  const writer = async (w: number) => {
    for (let i = 0; ; i++) {
      try {
        const res = await call(served.url, key, "POST", "/v1/memories", {
          namespace: "drain",
          content: `writer ${w} note ${i} about the quarterly plan`,
        });
        if (res.status === 201) acknowledged.push(res.body.id as string);
        else refused++;
      } catch {
        // connection refused or closed: the server stopped accepting; not acknowledged
        if (signalled) return;
      }
      if (!signalled && acknowledged.length >= 60) {
        signalled = true;
        served.child.kill("SIGTERM");
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));
  assert.equal(await served.exited, 0, served.output());
  assert.match(served.output(), /"drained":true/);
  assert.ok(acknowledged.length >= 60);

  served = await serveProcess(env);
  try {
    for (const id of acknowledged) {
      const res = await call(served.url, key, "GET", `/v1/memories/${id}`);
      assert.equal(res.status, 200, `acknowledged write ${id} is missing after the restart`);
    }
    for (const chain of ["", `?tenant_id=${tenantId}`]) {
      const v = await call(served.url, admin, "GET", `/v1/audit/verify${chain}`);
      assert.equal(v.body.ok, true, JSON.stringify(v.body));
    }
    process.stdout.write(`# acknowledged ${acknowledged.length}, refused while closing ${refused}\n`);
  } finally {
    served.child.kill("SIGKILL");
  }
});

test("a request still in flight at shutdownTimeoutSeconds is cut: the server exits (1) within the deadline instead of hanging", async () => {
  const served = await serveProcess({ ...fresh(), HYPHA_SHUTDOWN_TIMEOUT_SECONDS: "1" });
  await hangingRequest(served.url);
  const t0 = Date.now();
  served.child.kill("SIGTERM");
  assert.equal(await served.exited, 1);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 5000, `exited after ${took} ms`);
  assert.match(served.output(), /shutdown deadline reached/);
});

test("a second SIGTERM exits at once, without waiting for the drain", async () => {
  const served = await serveProcess({ ...fresh(), HYPHA_SHUTDOWN_TIMEOUT_SECONDS: "120" });
  await hangingRequest(served.url);
  served.child.kill("SIGTERM");
  await new Promise((ok) => setTimeout(ok, 500));
  assert.equal(served.child.exitCode, null, "still draining after the first signal");
  const t0 = Date.now();
  served.child.kill("SIGTERM");
  assert.equal(await served.exited, 1);
  assert.ok(Date.now() - t0 < 3000);
  assert.match(served.output(), /second signal/);
});
