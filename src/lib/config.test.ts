import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { ConfigError, embeddingsAdapter, loadConfig } from "./config.ts";

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe("config: CIDR settings are parsed as addresses, not matched by shape", () => {
  const bad = [
    "999.1.1.1/99",
    "10.0.0.0/33",
    "256.0.0.1",
    "1.2.3.4/",
    "::1/129",
    "fd00::/x",
    "1.2.3",
    "::ffff:1.2.3.4.5",
  ];
  for (const value of bad) {
    test(`HYPHA_TRUSTED_PROXIES=${value} is refused, naming the setting and the value`, () => {
      const message = configError({ HYPHA_TRUSTED_PROXIES: `10.0.0.1,${value}` });
      assert.match(message, /trustedProxies \(HYPHA_TRUSTED_PROXIES\)/);
      assert.ok(message.includes(JSON.stringify(value)), message);
      assert.doesNotMatch(message, /\n/);
    });
  }

  test("addresses and CIDRs of both families are accepted as written", () => {
    const good = [
      "10.0.0.0/8",
      "127.0.0.1",
      "192.168.1.0/24",
      "::1",
      "fd00::/8",
      "2001:db8::/32",
      "0.0.0.0/0",
    ];
    assert.deepEqual(loadConfig({ HYPHA_TRUSTED_PROXIES: good.join(",") }).trustedProxies, good);
  });

  for (const value of ["999.1.1.1/99", "10.0.0.0/33", "fd00::/200", "bad host!"]) {
    test(`HYPHA_EGRESS_ALLOW=${value} is refused at start-up, naming the setting`, () => {
      const message = configError({ HYPHA_EGRESS_ALLOW: `hooks.example.com,${value}` });
      assert.match(message, /egressAllow \(HYPHA_EGRESS_ALLOW\)/);
      assert.doesNotMatch(message, /\n/);
    });
  }

  test("HYPHA_CONNECTOR_SECRET_ENV_PREFIX: read from the environment; HYPHA_ alone or a malformed prefix is refused in one line naming the setting", () => {
    assert.equal(
      loadConfig({ HYPHA_CONNECTOR_SECRET_ENV_PREFIX: "HOOKS_" }).connectorSecretEnvPrefix,
      "HOOKS_",
    );
    assert.equal(loadConfig({}).connectorSecretEnvPrefix, undefined);
    for (const bad of ["HYPHA_", "hooks_", "HOOKS-"]) {
      const line = configError({ HYPHA_CONNECTOR_SECRET_ENV_PREFIX: bad });
      assert.match(line, /connectorSecretEnvPrefix \(HYPHA_CONNECTOR_SECRET_ENV_PREFIX\)/, bad);
      assert.doesNotMatch(line, /\n/);
    }
  });

  test("HYPHA_EMBEDDINGS_URL without HYPHA_EMBEDDINGS_MODEL, or a model or key without the URL, is refused in one line naming the setting", () => {
    const noModel = configError({ HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1" });
    assert.match(noModel, /embeddingsModel \(HYPHA_EMBEDDINGS_MODEL\): HYPHA_EMBEDDINGS_MODEL is required/);
    assert.doesNotMatch(noModel, /\n/);
    const noUrl = configError({
      HYPHA_EMBEDDINGS_MODEL: "nomic-embed-text",
      HYPHA_EMBEDDINGS_API_KEY: "sk-secret-value",
    });
    assert.match(noUrl, /embeddingsUrl \(HYPHA_EMBEDDINGS_URL\)/);
    assert.ok(!noUrl.includes("sk-secret-value"), "the key never appears in the message");
    assert.match(
      configError({ HYPHA_EMBEDDINGS_URL: "ftp://x/v1", HYPHA_EMBEDDINGS_MODEL: "m" }),
      /embeddingsUrl/,
    );
    const ok = loadConfig({
      HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1",
      HYPHA_EMBEDDINGS_MODEL: "nomic-embed-text",
    });
    assert.equal(ok.embeddingsTimeoutMs, 5000);
  });

  test("HYPHA_EMBEDDINGS picks the embedder; a combination that contradicts it is refused in one line naming HYPHA_EMBEDDINGS and the fix", () => {
    assert.equal(embeddingsAdapter(loadConfig({})), "off");
    assert.equal(embeddingsAdapter(loadConfig({ HYPHA_EMBEDDINGS: "embedded" })), "embedded");
    const api = {
      HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1",
      HYPHA_EMBEDDINGS_MODEL: "nomic-embed-text",
    };
    assert.equal(embeddingsAdapter(loadConfig(api)), "api");
    assert.equal(embeddingsAdapter(loadConfig({ ...api, HYPHA_EMBEDDINGS: "api" })), "api");
    const extras: Record<string, string>[] = [
      { HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1" },
      { HYPHA_EMBEDDINGS_MODEL: "nomic-embed-text" },
      { HYPHA_EMBEDDINGS_API_KEY: "sk-secret-value" },
      api,
    ];
    for (const extra of extras) {
      const message = configError({ HYPHA_EMBEDDINGS: "embedded", ...extra });
      assert.equal(
        message,
        "invalid configuration: embeddings (HYPHA_EMBEDDINGS): HYPHA_EMBEDDINGS=embedded runs its own model in the process and takes no HYPHA_EMBEDDINGS_URL, HYPHA_EMBEDDINGS_MODEL or HYPHA_EMBEDDINGS_API_KEY: unset those, or set HYPHA_EMBEDDINGS=api to use the API",
      );
    }
    assert.match(
      configError({ HYPHA_EMBEDDINGS: "api" }),
      /^invalid configuration: embeddings \(HYPHA_EMBEDDINGS\): HYPHA_EMBEDDINGS=api needs HYPHA_EMBEDDINGS_URL/,
    );
    assert.match(
      configError({ ...api, HYPHA_EMBEDDINGS: "off" }),
      /HYPHA_EMBEDDINGS=off contradicts HYPHA_EMBEDDINGS_URL: unset one of them$/,
    );
    assert.match(
      configError({ HYPHA_EMBEDDINGS: "local" }),
      /^invalid configuration: embeddings \(HYPHA_EMBEDDINGS\): /,
    );
  });

  test("egress allowances accept CIDRs, addresses, host names and wildcard host names", () => {
    const good = [
      "10.0.0.0/8",
      "127.0.0.1",
      "fd00::/8",
      "hooks.example.com",
      "*.internal.example",
      "localhost",
    ];
    assert.deepEqual(loadConfig({ HYPHA_EGRESS_ALLOW: good.join(",") }).egressAllow, good);
  });
});

describe("config: a bad CIDR stops `hypha serve` with one line", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("HYPHA_TRUSTED_PROXIES=999.1.1.1/99: exit 2, a single hypha: line naming the setting, no stack trace, nothing created", () => {
    const data = join(mkdtempSync(join(tmpdir(), "hypha-config-")), "data");
    dirs.push(resolve(data, ".."));
    const bin = resolve(import.meta.dirname, "../../bin/hypha.js");
    const r = spawnSync(process.execPath, [bin, "serve", "--data", data, "--port", "0"], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HYPHA_TRUSTED_PROXIES: "999.1.1.1/99" },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? "", /^hypha: .*HYPHA_TRUSTED_PROXIES.*"999\.1\.1\.1\/99"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, "");
  });
});

test("HYPHA_DATABASE_POOL_SIZE sets the connections per PostgreSQL pool; 0 or a word is refused, naming it", () => {
  assert.equal(loadConfig({}).databasePoolSize, 10);
  assert.equal(loadConfig({ HYPHA_DATABASE_POOL_SIZE: "25" }).databasePoolSize, 25);
  for (const value of ["0", "many", "501"]) {
    assert.match(
      configError({ HYPHA_DATABASE_POOL_SIZE: value }),
      /HYPHA_DATABASE_POOL_SIZE|databasePoolSize/,
    );
  }
});
