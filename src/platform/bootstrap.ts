import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { ConfigError } from "../lib/config.ts";
import { safeJoin } from "../lib/names.ts";
import { constantTimeEqual, generateSecret, KEY_PREFIX, sha256Hex } from "../lib/secrets.ts";

/** A data directory the file system refuses, as one line naming the setting and the fix. */
function dataDirProblem(dataDir: string, err: unknown): ConfigError | null {
  const code = (err as NodeJS.ErrnoException).code;
  const setting = "the data directory (HYPHA_DATA_DIR or --data)";
  switch (code) {
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new ConfigError(
        `${setting} ${dataDir} is not writable (${code}): give the user running hypha write access to it, or point HYPHA_DATA_DIR at a writable directory`,
      );
    case "ENOENT":
    case "ENOTDIR":
    case "EEXIST":
      return new ConfigError(
        `${setting} ${dataDir} cannot be created (${code}: a part of the path is missing or is a file): create or mount its parent directory, or point HYPHA_DATA_DIR elsewhere`,
      );
    default:
      return null;
  }
}

/**
 * Creates the data directory (0700) and its `secrets/` folder, tightening modes that are too open,
 * and checks that it is writable. A directory that cannot be created or written stops the start with
 * a ConfigError naming the setting.
 */
export function prepareDataDir(dataDir: string): { secretsDir: string } {
  try {
    if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
      throw Object.assign(new Error(`${dataDir} is not a directory`), { code: "ENOTDIR" });
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    const secretsDir = safeJoin(dataDir, "secrets");
    mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    chmodSync(secretsDir, 0o700);
    // A read-only mount or a directory owned by someone else shows here, not halfway through a start.
    const probe = safeJoin(dataDir, `.write-check-${process.pid}`);
    writeFileSync(probe, "", { mode: 0o600 });
    unlinkSync(probe);
    return { secretsDir };
  } catch (err) {
    throw dataDirProblem(dataDir, err) ?? err;
  }
}

/** Writes a secret file atomically with mode 0600. */
export function writeSecretFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600, flag: "w" });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}

export const ADMIN_KEY_FILE = "admin-key.sha256";

export type AdminKeyState = {
  /** Set only when this start generated the key: print it once, after `persist()`. */
  generated: string | null;
  /**
   * Writes the hash of a generated key, or of a first supplied HYPHA_ADMIN_KEY, when none is stored
   * yet. `serve` calls it once the port is bound, so a start that fails leaves no key behind.
   */
  persist(): void;
  verify(presented: string): boolean;
};

function readStoredHash(file: string): string | null {
  if (!existsSync(file)) return null;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600);
  const hash = readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(hash)) {
    throw new ConfigError(
      `${file} does not hold a SHA-256 hash: restore it from a backup, or replace the admin key with \`hypha admin-key reset\``,
    );
  }
  return hash;
}

/**
 * The instance admin key. Only its SHA-256 hash is kept (`secrets/admin-key.sha256`, 0600): generated
 * at first start, or taken from HYPHA_ADMIN_KEY (already checked for strength). A HYPHA_ADMIN_KEY that
 * differs from the stored hash stops the start: replacing the key is the explicit, audited
 * `hypha admin-key reset`, never a side effect of an environment variable.
 */
export function loadAdminKey(secretsDir: string, supplied: string | undefined): AdminKeyState {
  const file = safeJoin(secretsDir, ADMIN_KEY_FILE);
  const stored = readStoredHash(file);
  let generated: string | null = null;
  let hash: string;
  if (supplied !== undefined) hash = sha256Hex(supplied);
  else if (stored !== null) hash = stored;
  else {
    generated = generateSecret(KEY_PREFIX.admin);
    hash = sha256Hex(generated);
  }
  if (supplied !== undefined && stored !== null && !constantTimeEqual(hash, stored)) {
    throw new ConfigError(
      `HYPHA_ADMIN_KEY differs from the admin key stored in ${file}: unset HYPHA_ADMIN_KEY to keep the stored key, or replace it on purpose with \`hypha admin-key reset\` (audited in the instance chain)`,
    );
  }
  return {
    generated,
    persist() {
      if (stored === null && !existsSync(file)) writeSecretFile(file, `${hash}\n`);
    },
    verify: (p) => constantTimeEqual(sha256Hex(p), hash),
  };
}

/** Stores the hash of a new admin key, replacing the old one (the caller audits the replacement). */
export function storeAdminKey(secretsDir: string, key: string): void {
  writeSecretFile(safeJoin(secretsDir, ADMIN_KEY_FILE), `${sha256Hex(key)}\n`);
}

export const SERVE_LOCK_FILE = "serve.lock";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One `hypha serve` per data directory: `<dataDir>/serve.lock` is created exclusively and holds the
 * pid. A lock whose process is gone (a crash, a SIGKILL) is taken over; a live one stops the start
 * with a ConfigError. Returns the release function (removes the file only while it is still ours).
 */
export function acquireServeLock(dataDir: string): () => void {
  const file = safeJoin(dataDir, SERVE_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { mode: 0o600, flag: "wx" });
      return () => {
        try {
          if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // Already gone.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw dataDirProblem(dataDir, err) ?? err;
    }
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new ConfigError(
        `the data directory ${dataDir} is in use by another hypha serve (pid ${pid}, ${file}): stop that process, or give this one its own HYPHA_DATA_DIR (several gateways share data only through HYPHA_DATABASE_URL and HYPHA_REDIS_URL)`,
      );
    }
    unlinkSync(file);
  }
  throw new ConfigError(`could not take the lock ${file}: remove it if no hypha serve is running`);
}
