import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Mode of every file that holds key material: owner read/write only. */
export const SECRET_FILE_MODE = 0o600;
/** Mode of the directory that holds key files: owner only, so other users cannot even list it. */
export const SECRET_DIR_MODE = 0o700;

const POSIX = process.platform !== "win32";

/**
 * Creates `dir` (and parents) and forces it to 0700. The chmod matters when the directory already
 * existed with a wider mode, or when the umask would have widened nothing but an operator did.
 */
export function ensureSecretDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: SECRET_DIR_MODE });
  if (POSIX) chmodSync(dir, SECRET_DIR_MODE);
}

/**
 * Writes a secret file atomically: a temporary file created 0600 in the same directory, fsynced,
 * then renamed over the target and the directory fsynced. A crash leaves either the old file or the
 * new one, never a half-written key (losing the keyring loses every tenant's data).
 *
 * With `exclusive`, the file is published with link() instead of rename(), which fails when the target
 * exists: two processes generating a key at the same first start cannot overwrite each other's key.
 * Returns false when `exclusive` and the target already existed.
 */
export function writeSecretFileAtomic(
  path: string,
  data: string | Buffer,
  opts: { exclusive?: boolean } = {},
): boolean {
  const dir = dirname(path);
  ensureSecretDir(dir);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  // "wx" refuses to follow a pre-planted file or symlink at the temporary name.
  const fd = openSync(tmp, "wx", SECRET_FILE_MODE);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  if (POSIX) chmodSync(tmp, SECRET_FILE_MODE);
  if (opts.exclusive) {
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  } else {
    renameSync(tmp, path);
  }
  if (POSIX) {
    const dirFd = openSync(dir, "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
  return true;
}

export type SecretFileRead =
  | { ok: true; data: Buffer }
  | { ok: false; reason: "NOT_FOUND" | "UNREADABLE" | "INSECURE_PERMISSIONS"; message: string };

/**
 * Reads a secret file, refusing one that group or others can read or write (as ssh does for private
 * keys): a key readable by other local users is already disclosed.
 */
export function readSecretFile(path: string): SecretFileRead {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, reason: "NOT_FOUND", message: `${path} does not exist` };
    return { ok: false, reason: "UNREADABLE", message: `cannot stat ${path}: ${code ?? "error"}` };
  }
  if (POSIX && (mode & 0o077) !== 0) {
    return {
      ok: false,
      reason: "INSECURE_PERMISSIONS",
      message: `${path} has mode ${(mode & 0o777).toString(8)}; run: chmod 600 ${path}`,
    };
  }
  try {
    return { ok: true, data: readFileSync(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: "UNREADABLE", message: `cannot read ${path}: ${code ?? "error"}` };
  }
}
