import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createTenantCipher } from "../../lib/crypto/field-cipher.ts";
import { CREDENTIAL_KEY_RELATIVE_PATH, credentialCipher, loadCredentialKeyring } from "./credential-key.ts";

const dir = () => mkdtempSync(join(tmpdir(), "hypha-test-credkey-"));

test("a first start generates a 0600 credential keyring beside, not inside, the master key", () => {
  const d = dir();
  try {
    const r = loadCredentialKeyring({ dataDir: d, allowGenerate: true });
    assert.ok(r.ok && r.source === "generated");
    const path = join(d, CREDENTIAL_KEY_RELATIVE_PATH);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = loadCredentialKeyring({ dataDir: d, allowGenerate: true });
    assert.ok(again.ok && again.source === "file");
    assert.ok(
      r.ok && again.ok && r.ring.versions[0]?.key.equals(again.ring.versions[0]?.key ?? Buffer.alloc(0)),
    );
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("weak, malformed, conflicting and world-readable credential keys are refused with the setting named", () => {
  const d = dir();
  try {
    for (const key of [
      Buffer.alloc(32, 7).toString("base64"),
      "not base64!",
      Buffer.alloc(16, 1).toString("base64"),
    ]) {
      const r = loadCredentialKeyring({ dataDir: d, key, allowGenerate: false });
      assert.equal(r.ok, false, key);
      assert.match(r.ok ? "" : r.message, /HYPHA_CREDENTIAL_KEY/);
    }
    const both = loadCredentialKeyring({ dataDir: d, key: "x", keyFile: "/y", allowGenerate: false });
    assert.equal(both.ok, false);
    const file = join(d, "wide.key");
    writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o644 });
    const wide = loadCredentialKeyring({ dataDir: d, keyFile: file, allowGenerate: false });
    assert.equal(wide.ok, false);
    assert.match(wide.ok ? "" : wide.message, /chmod 600/);
    const missing = loadCredentialKeyring({ dataDir: d, keyFile: join(d, "none"), allowGenerate: true });
    assert.equal(missing.ok, false);
    assert.equal(existsSync(join(d, "none")), false);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("a credential key equal to a memory master key version is refused", () => {
  const master = randomBytes(32);
  const r = loadCredentialKeyring({
    dataDir: "/nonexistent",
    key: master.toString("base64"),
    allowGenerate: false,
    masterKeys: [randomBytes(32), master],
  });
  assert.equal(r.ok, false);
  assert.match(r.ok ? "" : r.message, /equals a memory master key/);
});

test("a credential ciphertext opens only under the credential key, never under a tenant data key", () => {
  const r = loadCredentialKeyring({
    dataDir: "/x",
    key: randomBytes(32).toString("base64"),
    allowGenerate: false,
  });
  assert.ok(r.ok);
  const sealed = credentialCipher(r.ring, "tnt_a").encrypt("crd_1", "secrets:x", "value");
  assert.equal(credentialCipher(r.ring, "tnt_a").decryptString("crd_1", "secrets:x", sealed).ok, true);
  assert.equal(credentialCipher(r.ring, "tnt_b").decryptString("crd_1", "secrets:x", sealed).ok, false);
  const memoryCipher = createTenantCipher(randomBytes(32), "tnt_a");
  assert.equal(memoryCipher.decryptString("crd_1", "secrets:x", sealed).ok, false);
});
