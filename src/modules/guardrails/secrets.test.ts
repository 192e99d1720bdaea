import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectSecrets } from "./secrets.ts";

const types = (text: string) => detectSecrets(text).map((f) => f.type);

describe("detectSecrets", () => {
  it("finds provider keys from the shared registry", () => {
    assert.deepEqual(types("key AKIAIOSFODNN7EXAMPLE here"), ["secret:aws_access_key"]);
    assert.deepEqual(types(`token ghp_${"a".repeat(36)}`), ["secret:github_token"]);
    assert.deepEqual(types(`use sk-proj-${"x".repeat(24)}`), ["secret:openai_key"]);
    assert.deepEqual(types(`glpat-${"b".repeat(20)}`), ["secret:gitlab_token"]);
    assert.deepEqual(types(`hf_${"c".repeat(34)}`), ["secret:huggingface_token"]);
  });

  it("finds private keys, JWTs and passwords in URLs or assignments", () => {
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----";
    assert.deepEqual(types(pem), ["secret:private_key"]);
    assert.deepEqual(types("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlMTIz"), ["secret:jwt"]);
    assert.deepEqual(types("postgres://app:s3cr3tpw@db:5432/x"), ["secret:url_password"]);
    assert.deepEqual(types('password = "hunter2hunter2"'), ["secret:password_assignment"]);
  });

  it("reports offsets and type only, never the secret itself", () => {
    const text = "AKIAIOSFODNN7EXAMPLE";
    const [f] = detectSecrets(text);
    assert.deepEqual(f, { type: "secret:aws_access_key", start: 0, end: 20, confidence: 0.95 });
    assert.ok(!JSON.stringify(detectSecrets(text)).includes(text));
  });

  it("does not flag ordinary prose", () => {
    assert.deepEqual(types("The password policy asks for twelve characters; reset it on the portal."), []);
  });
});
