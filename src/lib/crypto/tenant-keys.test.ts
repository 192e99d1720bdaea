import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createTenantCipher } from "./field-cipher.ts";
import { addMasterKeyVersion, generateMasterKeyring, retireMasterKeyVersion } from "./master-key.ts";
import {
  createTenantKey,
  rewrapAllTenantKeys,
  rewrapTenantKey,
  unwrapTenantKey,
  type WrappedTenantKey,
} from "./tenant-keys.ts";

describe("wrapped tenant keys", () => {
  test("a wrapped tenant key unwraps to the same data key and never stores it in clear", () => {
    const ring = generateMasterKeyring();
    const { record, dataKey } = createTenantKey(ring, "tnt_a");
    assert.equal(record.tenantId, "tnt_a");
    assert.equal(record.masterVersion, 1);
    assert.ok(!Buffer.from(record.wrapped).includes(dataKey.toString("base64url")));
    const unwrapped = unwrapTenantKey(ring, record);
    assert.ok(unwrapped.ok);
    assert.deepEqual(unwrapped.dataKey, dataKey);
  });

  test("each tenant gets its own random data key", () => {
    const ring = generateMasterKeyring();
    assert.notDeepEqual(createTenantKey(ring, "tnt_a").dataKey, createTenantKey(ring, "tnt_a").dataKey);
  });

  test("a wrapped key does not unwrap under another master key (UNWRAP_FAILED)", () => {
    const { record } = createTenantKey(generateMasterKeyring(), "tnt_a");
    const result = unwrapTenantKey(generateMasterKeyring(), record);
    assert.equal(!result.ok && result.reason, "UNWRAP_FAILED");
  });

  test("a wrapped key moved to another tenant's record does not unwrap", () => {
    const ring = generateMasterKeyring();
    const { record } = createTenantKey(ring, "tnt_a");
    const result = unwrapTenantKey(ring, { ...record, tenantId: "tnt_b" });
    assert.equal(!result.ok && result.reason, "UNWRAP_FAILED");
  });

  test("a wrapped key with one flipped byte does not unwrap", () => {
    const ring = generateMasterKeyring();
    const { record } = createTenantKey(ring, "tnt_a");
    const raw = Buffer.from(record.wrapped.slice(3), "base64url");
    raw[20] = (raw[20] ?? 0) ^ 1;
    const result = unwrapTenantKey(ring, { ...record, wrapped: `w1.${raw.toString("base64url")}` });
    assert.equal(!result.ok && result.reason, "UNWRAP_FAILED");
  });

  test("a truncated wrapped key is MALFORMED", () => {
    const ring = generateMasterKeyring();
    const { record } = createTenantKey(ring, "tnt_a");
    const result = unwrapTenantKey(ring, { ...record, wrapped: record.wrapped.slice(0, -4) });
    assert.equal(!result.ok && result.reason, "MALFORMED");
  });

  test("a record naming a master version absent from the keyring is UNKNOWN_MASTER_VERSION", () => {
    const ring = generateMasterKeyring();
    const { record } = createTenantKey(ring, "tnt_a");
    const result = unwrapTenantKey(ring, { ...record, masterVersion: 7 });
    assert.equal(!result.ok && result.reason, "UNKNOWN_MASTER_VERSION");
  });
});

describe("master key rotation", () => {
  test("wrap under v1, rotate to v2: v1 records still unwrap, re-wrap moves them to v2, then v1 can be retired", () => {
    const v1 = generateMasterKeyring();
    const tenants = ["tnt_a", "tnt_b", "tnt_c"].map((id) => createTenantKey(v1, id));
    const cipher = createTenantCipher(tenants[0]?.dataKey ?? Buffer.alloc(0), "tnt_a");
    const stored = cipher.encrypt("mem_1", "content", "kept across rotation");

    const v2 = addMasterKeyVersion(v1);
    const newTenant = createTenantKey(v2, "tnt_d");
    assert.equal(newTenant.record.masterVersion, 2, "new tenants are wrapped under the active version");

    // Mid-rotation: nothing re-wrapped yet, every old record still unwraps.
    for (const t of tenants) assert.ok(unwrapTenantKey(v2, t.record).ok);

    const records: WrappedTenantKey[] = [...tenants.map((t) => t.record), newTenant.record];
    const retireEarly = retireMasterKeyVersion(
      v2,
      1,
      records.map((r) => r.masterVersion),
    );
    assert.equal(!retireEarly.ok && retireEarly.reason, "STILL_IN_USE");

    const report = rewrapAllTenantKeys(v2, records);
    assert.equal(report.updated.length, 3);
    assert.equal(report.alreadyCurrent, 1);
    assert.deepEqual(report.failed, []);
    const after = [...report.updated, newTenant.record];
    assert.ok(after.every((r) => r.masterVersion === 2));

    const retired = retireMasterKeyVersion(
      v2,
      1,
      after.map((r) => r.masterVersion),
    );
    assert.ok(retired.ok);
    assert.equal(retired.ring.versions.length, 1);

    for (const record of report.updated) {
      const original = tenants.find((t) => t.record.tenantId === record.tenantId);
      const unwrapped = unwrapTenantKey(retired.ring, record);
      assert.ok(unwrapped.ok);
      assert.deepEqual(unwrapped.dataKey, original?.dataKey, "the data key itself is unchanged by rotation");
    }
    const a = unwrapTenantKey(retired.ring, report.updated[0] ?? newTenant.record);
    assert.ok(a.ok);
    const back = createTenantCipher(a.dataKey, "tnt_a").decryptString("mem_1", "content", stored);
    assert.deepEqual(back, { ok: true, plaintext: "kept across rotation" });

    // Once v1 is gone, a record left behind under v1 no longer unwraps.
    const stale = unwrapTenantKey(retired.ring, tenants[1]?.record ?? newTenant.record);
    assert.equal(!stale.ok && stale.reason, "UNKNOWN_MASTER_VERSION");
  });

  test("re-wrapping a record already under the target version changes nothing", () => {
    const ring = generateMasterKeyring();
    const { record } = createTenantKey(ring, "tnt_a");
    const result = rewrapTenantKey(ring, record);
    assert.ok(result.ok);
    assert.equal(result.changed, false);
    assert.equal(result.record, record);
  });

  test("rotation reports a record that fails to unwrap instead of throwing", () => {
    const ring = addMasterKeyVersion(generateMasterKeyring());
    const good = createTenantKey(ring, "tnt_a").record;
    const report = rewrapAllTenantKeys(ring, [
      good,
      { tenantId: "tnt_x", masterVersion: 1, wrapped: "w1.AAAA" },
    ]);
    assert.deepEqual(report.failed, [{ tenantId: "tnt_x", masterVersion: 1, reason: "MALFORMED" }]);
  });
});

describe("crypto-shredding", () => {
  test("without its wrapped key record, a tenant's ciphertext cannot be decrypted, not even with a new key for the same tenant", () => {
    const ring = generateMasterKeyring();
    const store = new Map<string, WrappedTenantKey>();
    const a = createTenantKey(ring, "tnt_a");
    store.set("tnt_a", a.record);
    store.set("tnt_b", createTenantKey(ring, "tnt_b").record);
    const stored = createTenantCipher(a.dataKey, "tnt_a").encrypt("mem_1", "content", "forget me");

    store.delete("tnt_a"); // the shred

    assert.equal(store.get("tnt_a"), undefined);
    const recreated = createTenantKey(ring, "tnt_a");
    const retry = createTenantCipher(recreated.dataKey, "tnt_a").decrypt("mem_1", "content", stored);
    assert.equal(!retry.ok && retry.reason, "AUTH_FAILED");
    for (const record of store.values()) {
      const other = unwrapTenantKey(ring, record);
      assert.ok(other.ok);
      const attempt = createTenantCipher(other.dataKey, "tnt_a").decrypt("mem_1", "content", stored);
      assert.equal(attempt.ok, false);
    }
  });
});
