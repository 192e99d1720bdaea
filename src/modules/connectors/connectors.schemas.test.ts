import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bodyLimitFor,
  connectorConfigSchema,
  jsonPointerSchema,
  replayWindowSecFor,
  resolveConnectorSecret,
  secretEnvAllowed,
} from "./connectors.schemas.ts";

const mapping = { namespace: "inbox" };
const STRONG = "k7Q2m9X4p1Z8v3N6b5C0d2F7g4H1j8L3qWrTy";

function issues(input: unknown): string[] {
  const r = connectorConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
}

describe("connector config schema", () => {
  test("a minimal github connector parses with defaults", () => {
    const c = connectorConfigSchema.parse({ source: "github", secretEnv: "GITHUB_HOOK_SECRET", mapping });
    assert.equal(c.source, "github");
    assert.deepEqual(c.options, {});
  });

  test("unknown sources and unknown keys are refused (closed contract)", () => {
    assert.notDeepEqual(issues({ source: "gitlab", mapping }), []);
    assert.notDeepEqual(issues({ source: "github", mapping, extra: 1 }), []);
    assert.notDeepEqual(
      issues({ source: "slack", mapping, options: { toleranceSec: 300, verify: false } }),
      [],
    );
  });

  test("secret and secretEnv together are refused", () => {
    assert.deepEqual(issues({ source: "github", secret: "0123456789abcdefXYZ", secretEnv: "X", mapping }), [
      "secretEnv",
    ]);
  });

  test("secrets we generate (generic_hmac, bearer, jwt) must be strong", () => {
    assert.deepEqual(
      issues({
        source: "bearer",
        secret: "password-password-password-password",
        mapping: { ...mapping, contentPointer: "/t" },
      }),
      ["secret"],
    );
    assert.deepEqual(
      issues({ source: "bearer", secret: STRONG, mapping: { ...mapping, contentPointer: "/t" } }),
      [],
    );
  });

  test("generic_hmac header names are lower-cased to match Node's header record", () => {
    const c = connectorConfigSchema.parse({
      source: "generic_hmac",
      secretEnv: "HOOK",
      mapping: { ...mapping, contentPointer: "/msg" },
      options: { header: "X-Signature", encoding: "base64", timestampHeader: "X-Timestamp" },
    });
    assert.ok(c.source === "generic_hmac");
    assert.equal(c.options.header, "x-signature");
    assert.equal(c.options.timestampHeader, "x-timestamp");
  });

  test("jwt needs exactly one key source, and algorithms cannot be set for a shared secret", () => {
    const m = { ...mapping, contentPointer: "/t" };
    assert.deepEqual(issues({ source: "jwt", mapping: m }), ["options"]);
    assert.deepEqual(
      issues({ source: "jwt", secretEnv: "S", mapping: m, options: { jwksUrl: "https://example.com/jwks" } }),
      ["options"],
    );
    assert.deepEqual(
      issues({ source: "jwt", secretEnv: "S", mapping: m, options: { algorithms: ["RS256"] } }),
      ["options.algorithms"],
    );
    assert.deepEqual(
      issues({ source: "jwt", mapping: m, options: { jwksUrl: "https://example.com/jwks" } }),
      [],
    );
  });

  test("a JWKS URL must be https and algorithms are limited to RS256/ES256", () => {
    const m = { ...mapping, contentPointer: "/t" };
    assert.deepEqual(issues({ source: "jwt", mapping: m, options: { jwksUrl: "http://example.com/jwks" } }), [
      "options.jwksUrl",
    ]);
    assert.notDeepEqual(
      issues({
        source: "jwt",
        mapping: m,
        options: { jwksUrl: "https://example.com/j", algorithms: ["HS256"] },
      }),
      [],
    );
  });

  test("sources without a built-in mapping need a generic mapping with contentPointer", () => {
    assert.deepEqual(issues({ source: "standard", mapping }), ["mapping.contentPointer"]);
    assert.deepEqual(
      issues({ source: "standard", mapping: { ...mapping, kind: "builtin", contentPointer: "/x" } }),
      ["mapping.kind"],
    );
  });

  test("namespaces, types and pointers are bounded by their alphabets", () => {
    assert.notDeepEqual(issues({ source: "github", mapping: { namespace: "../etc" } }), []);
    assert.notDeepEqual(issues({ source: "github", mapping: { namespace: "ok", type: "Bad Type" } }), []);
    assert.equal(jsonPointerSchema.safeParse("/a~1b/0").success, true);
    assert.equal(jsonPointerSchema.safeParse("a/b").success, false);
    assert.equal(jsonPointerSchema.safeParse("/a~2").success, false);
  });

  test("the replay window is never shorter than twice the timestamp tolerance", () => {
    assert.deepEqual(
      issues({ source: "slack", mapping, replayWindowSec: 900, options: { toleranceSec: 600 } }),
      ["replayWindowSec"],
    );
    const c = connectorConfigSchema.parse({ source: "stripe", mapping, replayWindowSec: 600 });
    assert.equal(replayWindowSecFor(c), 600);
    assert.equal(replayWindowSecFor(connectorConfigSchema.parse({ source: "github", mapping })), 86_400);
  });
});

describe("resolveConnectorSecret", () => {
  test("reads the inline secret, else the named env var; empty or unset is undefined (fail closed)", () => {
    assert.equal(resolveConnectorSecret({ secret: "inline" }, {}, undefined), "inline");
    assert.equal(resolveConnectorSecret({ secretEnv: "HOOK" }, { HOOK: "from-env" }, undefined), "from-env");
    assert.equal(resolveConnectorSecret({ secretEnv: "HOOK" }, { HOOK: "" }, undefined), undefined);
    assert.equal(resolveConnectorSecret({ secretEnv: "HOOK" }, {}, undefined), undefined);
    assert.equal(resolveConnectorSecret({}, { HOOK: "x" }, undefined), undefined);
  });

  test("never reads a server setting (HYPHA_…), and only names under the operator's prefix when one is set", () => {
    const env = { HYPHA_ADMIN_KEY: "hyp_admin_secret", HOOKS_GITHUB: "gh", GITHUB: "plain" };
    assert.equal(resolveConnectorSecret({ secretEnv: "HYPHA_ADMIN_KEY" }, env, undefined), undefined);
    assert.equal(resolveConnectorSecret({ secretEnv: "GITHUB" }, env, undefined), "plain");
    assert.equal(resolveConnectorSecret({ secretEnv: "GITHUB" }, env, "HOOKS_"), undefined);
    assert.equal(resolveConnectorSecret({ secretEnv: "HOOKS_GITHUB" }, env, "HOOKS_"), "gh");
    assert.equal(resolveConnectorSecret({ secretEnv: "HOOKS_" }, { HOOKS_: "x" }, "HOOKS_"), undefined);
    assert.equal(
      secretEnvAllowed("HYPHA_CONNECTOR_GITHUB", "HYPHA_CONNECTOR_"),
      true,
      "the operator's choice",
    );
  });
});

describe("body limits per connector", () => {
  const parse = (c: Record<string, unknown>) =>
    connectorConfigSchema.parse({ mapping: { namespace: "n" }, ...c });

  test("GitHub defaults to its 25 MB cap; other sources keep the API body limit; maxBodyBytes wins", () => {
    const api = 1024 * 1024;
    assert.equal(bodyLimitFor(parse({ source: "github" }), api), 25 * 1024 * 1024);
    assert.equal(bodyLimitFor(parse({ source: "stripe" }), api), api);
    assert.equal(bodyLimitFor(parse({ source: "slack" }), api), api);
    assert.equal(bodyLimitFor(parse({ source: "github", maxBodyBytes: 4096 }), api), 4096);
  });

  test("maxBodyBytes is bounded: at least 1 KiB, at most 25 MB", () => {
    for (const bad of [0, 1023, 25 * 1024 * 1024 + 1, 1.5]) {
      assert.equal(
        connectorConfigSchema.safeParse({ source: "github", maxBodyBytes: bad, mapping: { namespace: "n" } })
          .success,
        false,
        String(bad),
      );
    }
  });

  test("Slack reaction names are validated", () => {
    const ok = connectorConfigSchema.safeParse({
      source: "slack",
      options: { reactions: ["white_check_mark", "+1"] },
      mapping: { namespace: "n" },
    });
    assert.equal(ok.success, true);
    const bad = connectorConfigSchema.safeParse({
      source: "slack",
      options: { reactions: [":tada:"] },
      mapping: { namespace: "n" },
    });
    assert.equal(bad.success, false);
  });
});
