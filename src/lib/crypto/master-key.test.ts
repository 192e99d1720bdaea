import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { manualClock } from "../clock.ts";
import { readSecretFile, writeSecretFileAtomic } from "./keyfile.ts";
import {
  addMasterKeyVersion,
  checkMasterKeyStrength,
  generateMasterKeyring,
  loadMasterKeyring,
  MASTER_KEY_RELATIVE_PATH,
  parseKeyring,
  parseMasterKeyEnv,
  retireMasterKeyVersion,
  serializeKeyring,
} from "./master-key.ts";

const posix = process.platform !== "win32";
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hypha-mk-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe("master key strength", () => {
  test("a 32-byte random key is accepted", () => {
    assert.deepEqual(checkMasterKeyStrength(randomBytes(32)), { ok: true });
  });

  test("a key of the wrong decoded length is refused as WRONG_LENGTH", () => {
    const result = checkMasterKeyStrength(randomBytes(16));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "WRONG_LENGTH");
  });

  test("a key whose bytes are all equal is refused as ALL_EQUAL_BYTES", () => {
    const result = checkMasterKeyStrength(Buffer.alloc(32, 7));
    assert.equal(!result.ok && result.reason, "ALL_EQUAL_BYTES");
  });

  test("a key with few distinct bytes (typed or patterned) is refused as LOW_DISTINCT_BYTES", () => {
    const result = checkMasterKeyStrength(Buffer.from("abcdabcdabcdabcdabcdabcdabcdabcd"));
    assert.equal(!result.ok && result.reason, "LOW_DISTINCT_BYTES");
  });
});

describe("loadMasterKeyring", () => {
  test("HYPHA_MASTER_KEY with base64 of 32 random bytes is used as version 1", () => {
    const key = randomBytes(32);
    const result = loadMasterKeyring({
      dataDir: tempDir(),
      env: { HYPHA_MASTER_KEY: key.toString("base64") },
      allowGenerate: false,
    });
    assert.ok(result.ok);
    assert.equal(result.source, "env");
    assert.equal(result.ring.activeVersion, 1);
    assert.deepEqual(result.ring.versions[0]?.key, key);
  });

  test("a weak HYPHA_MASTER_KEY stops the start with reason WEAK", () => {
    for (const weak of [
      Buffer.alloc(32, 0),
      randomBytes(31),
      Buffer.from("passwordpasswordpasswordpassword"),
    ]) {
      const result = loadMasterKeyring({
        dataDir: tempDir(),
        env: { HYPHA_MASTER_KEY: weak.toString("base64") },
        allowGenerate: true,
      });
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.reason, "WEAK");
    }
  });

  test("a HYPHA_MASTER_KEY that is not base64 is refused as MALFORMED", () => {
    const result = loadMasterKeyring({
      dataDir: tempDir(),
      env: { HYPHA_MASTER_KEY: "not base64!" },
      allowGenerate: true,
    });
    assert.equal(!result.ok && result.reason, "MALFORMED");
  });

  test("a missing key stops the start (MISSING) when generation is not allowed, and writes nothing", () => {
    const dataDir = tempDir();
    const result = loadMasterKeyring({ dataDir, env: {}, allowGenerate: false });
    assert.equal(!result.ok && result.reason, "MISSING");
    assert.deepEqual(readdirSync(dataDir), []);
  });

  test("a missing explicit key file is MISSING even when generation is allowed", () => {
    const dataDir = tempDir();
    const result = loadMasterKeyring({
      dataDir,
      env: { HYPHA_MASTER_KEY_FILE: join(dataDir, "nope.key") },
      allowGenerate: true,
    });
    assert.equal(!result.ok && result.reason, "MISSING");
  });

  test("first start generates secrets/master.key with mode 0600 in a 0700 directory", {
    skip: !posix,
  }, () => {
    const dataDir = tempDir();
    const clock = manualClock(Date.parse("2026-02-03T04:05:06Z"));
    const first = loadMasterKeyring({ dataDir, env: {}, allowGenerate: true, clock });
    assert.ok(first.ok);
    assert.equal(first.source, "generated");
    const path = join(dataDir, MASTER_KEY_RELATIVE_PATH);
    assert.equal(mode(path), 0o600);
    assert.equal(mode(join(dataDir, "secrets")), 0o700);
    assert.equal(first.ring.versions[0]?.createdAt, "2026-02-03T04:05:06.000Z");
    assert.deepEqual(
      readdirSync(join(dataDir, "secrets")),
      ["master.key"],
      "no temporary file is left behind",
    );

    const second = loadMasterKeyring({ dataDir, env: {}, allowGenerate: true });
    assert.ok(second.ok);
    assert.equal(second.source, "file");
    assert.deepEqual(
      second.ring.versions[0]?.key,
      first.ring.versions[0]?.key,
      "the second start reuses the key",
    );
  });

  test("a key file readable by group or others is refused (INSECURE_PERMISSIONS)", { skip: !posix }, () => {
    const dataDir = tempDir();
    assert.ok(loadMasterKeyring({ dataDir, env: {}, allowGenerate: true }).ok);
    const path = join(dataDir, MASTER_KEY_RELATIVE_PATH);
    chmodSync(path, 0o644);
    const result = loadMasterKeyring({ dataDir, env: {}, allowGenerate: true });
    assert.equal(!result.ok && result.reason, "INSECURE_PERMISSIONS");
  });

  test("a key file holding one base64 key is accepted; a weak one is refused", () => {
    const dir = tempDir();
    const good = join(dir, "good.key");
    const weak = join(dir, "weak.key");
    writeFileSync(good, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    writeFileSync(weak, Buffer.alloc(32, 1).toString("base64"), { mode: 0o600 });
    const ok = loadMasterKeyring({ dataDir: dir, keyFile: good, allowGenerate: false });
    assert.ok(ok.ok);
    assert.equal(ok.source, "file");
    const bad = loadMasterKeyring({ dataDir: dir, keyFile: weak, allowGenerate: false });
    assert.equal(!bad.ok && bad.reason, "WEAK");
  });

  test("setting both HYPHA_MASTER_KEY and a key file is refused as CONFLICTING_SOURCES", () => {
    const result = loadMasterKeyring({
      dataDir: tempDir(),
      env: { HYPHA_MASTER_KEY: randomBytes(32).toString("base64"), HYPHA_MASTER_KEY_FILE: "/x" },
      allowGenerate: true,
    });
    assert.equal(!result.ok && result.reason, "CONFLICTING_SOURCES");
  });

  test("a version list in HYPHA_MASTER_KEY makes the highest version active", () => {
    const v1 = randomBytes(32).toString("base64");
    const v2 = randomBytes(32).toString("base64");
    const parsed = parseMasterKeyEnv(`1:${v1},2:${v2}`);
    assert.ok(parsed.ok);
    assert.equal(parsed.ring.activeVersion, 2);
    assert.equal(parsed.ring.versions.length, 2);
  });
});

describe("keyring file", () => {
  test("serialize then parse gives back every version, the active version and created timestamps", () => {
    const clock = manualClock();
    const ring = addMasterKeyVersion(generateMasterKeyring(clock), clock);
    const parsed = parseKeyring(serializeKeyring(ring));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.ring, ring);
  });

  test("a keyring whose active version has no key is MALFORMED", () => {
    const ring = generateMasterKeyring();
    const json = JSON.parse(serializeKeyring(ring));
    json.activeVersion = 2;
    const parsed = parseKeyring(JSON.stringify(json));
    assert.equal(!parsed.ok && parsed.reason, "MALFORMED");
  });

  test("a keyring with a weak key version is refused as WEAK", () => {
    const json = JSON.parse(serializeKeyring(generateMasterKeyring()));
    json.keys[0].key = Buffer.alloc(32, 9).toString("base64");
    const parsed = parseKeyring(JSON.stringify(json));
    assert.equal(!parsed.ok && parsed.reason, "WEAK");
  });

  test("an atomic rewrite replaces the whole file and keeps mode 0600", { skip: !posix }, () => {
    const dir = join(tempDir(), "secrets");
    const path = join(dir, "f.key");
    writeSecretFileAtomic(path, "old");
    writeSecretFileAtomic(path, "new");
    assert.equal(readFileSync(path, "utf8"), "new");
    assert.equal(mode(path), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(readdirSync(dir), ["f.key"]);
  });

  test("an exclusive write never overwrites an existing key file", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "secrets"));
    const path = join(dir, "secrets", "k");
    assert.equal(writeSecretFileAtomic(path, "first", { exclusive: true }), true);
    assert.equal(writeSecretFileAtomic(path, "second", { exclusive: true }), false);
    const read = readSecretFile(path);
    assert.ok(read.ok);
    assert.equal(read.data.toString(), "first");
  });
});

describe("master key rotation bookkeeping", () => {
  test("a new version becomes active and the old one is kept", () => {
    const ring = addMasterKeyVersion(generateMasterKeyring());
    assert.equal(ring.activeVersion, 2);
    assert.deepEqual(
      ring.versions.map((v) => v.version),
      [1, 2],
    );
  });

  test("an old version cannot be retired while a tenant key still uses it, nor the active one", () => {
    const ring = addMasterKeyVersion(generateMasterKeyring());
    const inUse = retireMasterKeyVersion(ring, 1, [2, 1, 2]);
    assert.equal(!inUse.ok && inUse.reason, "STILL_IN_USE");
    const active = retireMasterKeyVersion(ring, 2, []);
    assert.equal(!active.ok && active.reason, "ACTIVE_VERSION");
    const done = retireMasterKeyVersion(ring, 1, [2, 2]);
    assert.ok(done.ok);
    assert.deepEqual(
      done.ring.versions.map((v) => v.version),
      [2],
    );
  });
});
