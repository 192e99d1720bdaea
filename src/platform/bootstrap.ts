import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { safeJoin } from "../lib/names.ts";
import { constantTimeEqual, generateSecret, KEY_PREFIX, sha256Hex } from "../lib/secrets.ts";

/** Creates the data directory (0700) and its `secrets/` folder, tightening modes that are too open. */
export function prepareDataDir(dataDir: string): { secretsDir: string } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const secretsDir = safeJoin(dataDir, "secrets");
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(secretsDir, 0o700);
  return { secretsDir };
}

/** Writes a secret file atomically with mode 0600. */
export function writeSecretFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600, flag: "w" });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}

export type AdminKeyState = {
  /** Set only when this start generated the key: it is printed once and never stored. */
  generated: string | null;
  verify(presented: string): boolean;
};

/**
 * The instance admin key. Supplied by HYPHA_ADMIN_KEY (already checked for strength), or generated
 * at first start: only its SHA-256 hash is written (`secrets/admin-key.sha256`, 0600).
 */
export function loadAdminKey(secretsDir: string, supplied: string | undefined): AdminKeyState {
  if (supplied) {
    const hash = sha256Hex(supplied);
    return { generated: null, verify: (p) => constantTimeEqual(sha256Hex(p), hash) };
  }
  const file = safeJoin(secretsDir, "admin-key.sha256");
  let generated: string | null = null;
  if (!existsSync(file)) {
    generated = generateSecret(KEY_PREFIX.admin);
    writeSecretFile(file, `${sha256Hex(generated)}\n`);
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600);
  const hash = readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`${file} does not hold a SHA-256 hash`);
  return { generated, verify: (p) => constantTimeEqual(sha256Hex(p), hash) };
}
