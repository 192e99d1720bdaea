import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { loadMasterKeyring } from "../src/lib/crypto/master-key.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { brokerChannelClient } from "../src/modules/credentials/broker-channel.ts";
import { bindingDigest } from "../src/modules/credentials/broker-core.ts";
import {
  CREDENTIAL_KEY_RELATIVE_PATH,
  credentialCipher,
  loadCredentialKeyring,
} from "../src/modules/credentials/credential-key.ts";
import { bindingOf } from "../src/modules/credentials/credentials.service.ts";
import type { CredentialRow } from "../src/modules/credentials/credentials.store.ts";
import { startReceiver, tokenValue } from "./credentials-helpers.ts";
import { startHypha, stopProcess } from "./serve-process.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = process.execPath;
const BIN = join(ROOT, "bin", "hypha.js");

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

/** Starts `hypha <args>`; `ready` resolves once its output matches `until`. */
const start = (args: string[], env: Record<string, string>, until: RegExp) =>
  startHypha(args, baseEnv(env), until);

describe("two processes: hypha serve holds no credential key; hypha proxy makes every call", () => {
  const root = mkdtempSync(join(tmpdir(), "hypha-test-2p-"));
  const serveDir = join(root, "serve");
  const proxyDir = join(root, "proxy");
  const socket = join(root, "run", "proxy.sock");
  const token = randomBytes(32).toString("base64url");
  const adminKey = generateSecret(KEY_PREFIX.admin);
  let proxy: ReturnType<typeof start>;
  let serve: ReturnType<typeof start>;
  let url = "";
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let tenantId = "";
  let agentKey = "";
  const value = tokenValue("live");

  const req = async (method: string, path: string, body?: unknown, key = adminKey) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  };

  before(async () => {
    rx = await startReceiver();
    proxy = start(
      ["proxy", "--data", proxyDir, "--socket", socket],
      { HYPHA_PROXY_TOKEN: token, HYPHA_EGRESS_ALLOW: "127.0.0.1" },
      /hypha proxy listening/,
    );
    await proxy.ready;
    serve = start(
      ["serve", "--data", serveDir, "--port", "0"],
      { HYPHA_ADMIN_KEY: adminKey, HYPHA_PROXY_SOCKET: socket, HYPHA_PROXY_TOKEN: token },
      /"address":"(http:\/\/[^"]+)"/,
    );
    url = (await serve.ready)[1] ?? "";
    tenantId = (await req("POST", "/v1/tenants", { name: "two-process" })).body?.id as string;
    await req("PUT", `/v1/tenants/${tenantId}/policy`, { anomaly: { enforce: false } });
    agentKey = (
      await req("POST", `/v1/tenants/${tenantId}/keys`, {
        agent: "a",
        scopes: ["write"],
        capabilities: ["credentials.use", "memories"],
      })
    ).body?.key as string;
  });
  after(async () => {
    await stopProcess(serve.child);
    await stopProcess(proxy.child);
    await rx.close();
    rmSync(root, { recursive: true, force: true });
  });

  test("a credential created through serve is sealed by the proxy and used through it", async () => {
    const created = await req("POST", `/v1/tenants/${tenantId}/credentials`, {
      name: "svc",
      service: "svc",
      allowed_hosts: ["http://127.0.0.1:*"],
      injection: { type: "bearer" },
      secret: value,
    });
    assert.equal(created.status, 201, created.text);
    const res = await req(
      "POST",
      "/v1/proxy/http",
      { credential: "svc", method: "GET", url: `${rx.url}/two` },
      agentKey,
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(rx.seen.at(-1)?.headers.authorization, `Bearer ${value}`);
    assert.ok(!res.text.includes(value));
    const far = await req(
      "POST",
      "/v1/proxy/http",
      { credential: "svc", method: "GET", url: "https://evil.example/" },
      agentKey,
    );
    assert.equal(far.status, 403);
    // The leak check works in the serving process without the credential key.
    const mem = await req(
      "POST",
      "/v1/memories",
      { namespace: "n", content: `the key is ${value}` },
      agentKey,
    );
    assert.equal(mem.status, 422, mem.text);
  });

  test("the serving process has no credential key in its environment, files or configuration, and cannot open a ciphertext from its own database", () => {
    const env = readFileSync(`/proc/${serve.child.pid}/environ`, "utf8");
    assert.ok(!env.includes("HYPHA_CREDENTIAL_KEY"));
    assert.equal(existsSync(join(serveDir, CREDENTIAL_KEY_RELATIVE_PATH)), false);
    assert.ok(existsSync(join(proxyDir, CREDENTIAL_KEY_RELATIVE_PATH)));
    const db = new DatabaseSync(join(serveDir, "vaults", tenantId, "vault.db"), { readOnly: true });
    const row = db.prepare("SELECT * FROM credentials WHERE name = 'svc'").get() as unknown as CredentialRow;
    db.close();
    // Everything in the serving data directory: its master keyring; no credential keyring at all.
    const master = loadMasterKeyring({ dataDir: serveDir, env: {}, allowGenerate: false });
    assert.ok(master.ok);
    assert.equal(loadCredentialKeyring({ dataDir: serveDir, allowGenerate: false }).ok, false);
    for (const file of readdirSync(join(serveDir, "secrets"))) {
      const bytes = readFileSync(join(serveDir, "secrets", file));
      assert.equal(bytes.indexOf(value), -1, file);
    }
    const field = `secrets:${bindingDigest(bindingOf(row))}`;
    // Under the master key (the only key material there), nothing opens.
    assert.equal(credentialCipher(master.ring, tenantId).decrypt(row.id, field, row.sealed).ok, false);
    // The proxy's key opens it, proving the copied ciphertext is the real one.
    const proxyRing = loadCredentialKeyring({ dataDir: proxyDir, allowGenerate: false });
    assert.ok(proxyRing.ok);
    const opened = credentialCipher(proxyRing.ring, tenantId).decryptString(row.id, field, row.sealed);
    assert.ok(opened.ok && opened.plaintext.includes(value));
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  test("a caller without the shared token is refused by the proxy", async () => {
    const wrong = brokerChannelClient({ socketPath: socket, token: "x".repeat(40), timeoutMs: 2000 });
    await assert.rejects(
      wrong.revoke({
        binding: {
          tenantId,
          credentialId: "crd_x",
          name: "x",
          kind: "static",
          allowedHosts: [],
          injection: { type: "bearer" },
          oauth: null,
        },
        sealed: "v1.1.x",
      }),
      /PROXY_UNAVAILABLE|unavailable/,
    );
  });

  test("proxy killed → proxy calls and credential writes answer 503 PROXY_UNAVAILABLE; everything else keeps working", async () => {
    await stopProcess(proxy.child, "SIGKILL");
    const res = await req(
      "POST",
      "/v1/proxy/http",
      { credential: "svc", method: "GET", url: `${rx.url}/down` },
      agentKey,
    );
    assert.equal(res.status, 503, res.text);
    assert.match(res.text, /"code":"PROXY_UNAVAILABLE"/);
    const create = await req("POST", `/v1/tenants/${tenantId}/credentials`, {
      name: "later",
      service: "svc",
      allowed_hosts: ["api.example.com"],
      injection: { type: "bearer" },
      secret: tokenValue(),
    });
    assert.equal(create.status, 503);
    assert.equal((await req("GET", `/v1/tenants/${tenantId}/credentials`)).status, 200);
    const mem = await req("POST", "/v1/memories", { namespace: "n", content: "still works" }, agentKey);
    assert.equal(mem.status, 201, mem.text);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });

  test("serve refuses to start with a proxy address and a credential key: one hypha: line naming the setting", () => {
    const r = spawnSync(NODE, [BIN, "serve", "--data", join(root, "bad"), "--port", "0"], {
      env: baseEnv({
        HYPHA_ADMIN_KEY: adminKey,
        HYPHA_PROXY_SOCKET: socket,
        HYPHA_PROXY_TOKEN: token,
        HYPHA_CREDENTIAL_KEY: randomBytes(32).toString("base64"),
      }),
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^hypha: .*HYPHA_CREDENTIAL_KEY/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });
});
