import { createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import { readSecretFile, writeSecretFileAtomic } from "../../lib/crypto/index.ts";
import { safeJoin } from "../../lib/names.ts";

/**
 * The key that signs audit checkpoints and retention anchors: 32 random bytes in
 * `secrets/audit-checkpoint.key` (0600), separate from the master key and every audit key, so whoever
 * can recompute a chain (the holder of a tenant data key) still cannot sign a checkpoint for it.
 */
export function loadCheckpointKey(secretsDir: string): KeyObject {
  const path = safeJoin(secretsDir, "audit-checkpoint.key");
  let read = readSecretFile(path);
  if (!read.ok && read.reason === "NOT_FOUND") {
    writeSecretFileAtomic(path, `${randomBytes(32).toString("base64")}\n`, { exclusive: true });
    read = readSecretFile(path);
  }
  if (!read.ok) throw new Error(`audit checkpoint key: ${read.message}`);
  const key = Buffer.from(read.data.toString("utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`audit checkpoint key: ${path} must hold 32 bytes in base64`);
  return createSecretKey(key);
}
