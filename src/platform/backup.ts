import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  scryptSync,
  timingSafeEqual,
} from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { DatabaseSync } from "node:sqlite";
import * as tar from "tar";
import { ConfigError } from "../lib/config.ts";

/**
 * Online backups of the embedded store. A backup is a gzipped tar of:
 * - `manifest.json`: format, creation time, and the SHA-256 and size of every other entry;
 * - every SQLite database, copied with `VACUUM INTO` (a consistent snapshot taken while the server
 *   writes: WAL readers see one committed state);
 * - the audit trail's files beside the databases (forwarded JSON lines, signed checkpoints);
 * - with `includeKeys`, `secrets.sealed`: the `secrets/` directory sealed under a passphrase
 *   (scrypt, AES-256-GCM). Without it no key material is in the archive.
 *
 * Order matters for the audit trail: the files outside the databases are copied first and the
 * databases after, the control database (which anchors every tenant chain) before the tenant vaults.
 * Everything kept outside a chain is then older than the chain it vouches for, as in a live system.
 */

export const BACKUP_FORMAT = "hypha-backup/1";
const MANIFEST = "manifest.json";
const SEALED = "secrets.sealed";
const SEAL_AAD = Buffer.from(BACKUP_FORMAT);
const SCRYPT = { N: 1 << 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 } as const;

export type ManifestEntry = { path: string; bytes: number; sha256: string };
export type Manifest = {
  format: typeof BACKUP_FORMAT;
  created_at: string;
  databases: number;
  keys_included: boolean;
  files: ManifestEntry[];
};

export class BackupError extends Error {
  override name = "BackupError";
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Every regular file under `root`, as paths relative to it with `/` separators. */
function walk(root: string, under = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, under)).sort()) {
    const rel = under ? `${under}/${name}` : name;
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) out.push(...walk(root, rel));
    else if (st.isFile()) out.push(rel);
  }
  return out;
}

const isDatabaseSidecar = (p: string) => /\.db-(wal|shm|journal)$/.test(p);

/** Copies `rel` up to its last complete line: a line being appended right now is left out. */
function copyCompleteLines(from: string, to: string): void {
  const data = readFileSync(from);
  const end = data.lastIndexOf(0x0a);
  writeFileSync(to, end < 0 ? Buffer.alloc(0) : data.subarray(0, end + 1), { mode: 0o600 });
}

function seal(files: Record<string, string>, passphrase: string): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(passphrase, salt, 32, SCRYPT);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(SEAL_AAD);
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(files), "utf8"), cipher.final()]);
  return Buffer.from(
    JSON.stringify({
      kdf: "scrypt",
      ...SCRYPT,
      salt: salt.toString("base64"),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      ciphertext: ciphertext.toString("base64"),
    }),
  );
}

function unseal(sealed: Buffer, passphrase: string): Record<string, string> {
  const box = JSON.parse(sealed.toString("utf8")) as Record<string, string | number>;
  const params = { N: Number(box.N), r: Number(box.r), p: Number(box.p), maxmem: SCRYPT.maxmem };
  const key = scryptSync(passphrase, Buffer.from(String(box.salt), "base64"), 32, params);
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(String(box.iv), "base64"));
  decipher.setAAD(SEAL_AAD);
  decipher.setAuthTag(Buffer.from(String(box.tag), "base64"));
  try {
    const plain = Buffer.concat([
      decipher.update(Buffer.from(String(box.ciphertext), "base64")),
      decipher.final(),
    ]);
    return JSON.parse(plain.toString("utf8")) as Record<string, string>;
  } catch {
    throw new BackupError("the keys in this archive do not open with this passphrase");
  }
}

/**
 * Writes a backup of `dataDir` to `out` while the server may be running. Returns the manifest.
 * `passphrase` is required with `includeKeys` and seals `secrets/`.
 */
export async function createBackup(opts: {
  dataDir: string;
  out: string;
  includeKeys: boolean;
  passphrase?: string | undefined;
}): Promise<Manifest> {
  const { dataDir } = opts;
  if (!existsSync(join(dataDir, "control.db"))) {
    throw new ConfigError(
      `${dataDir} holds no control.db (--data or HYPHA_DATA_DIR): point it at the server's data directory`,
    );
  }
  if (opts.includeKeys && !opts.passphrase) {
    throw new ConfigError(
      "--include-keys needs a passphrase (HYPHA_BACKUP_PASSPHRASE, or typed at the prompt)",
    );
  }
  const staging = mkdtempSync(join(tmpdir(), "hypha-backup-"));
  try {
    const all = walk(dataDir).filter((p) => !isDatabaseSidecar(p));
    const secrets = all.filter((p) => p.startsWith("secrets/"));
    const databases = all.filter((p) => p.endsWith(".db"));
    // The control database first: its anchors of tenant heads are then older than the vaults.
    databases.sort((a, b) => (a === "control.db" ? -1 : b === "control.db" ? 1 : a.localeCompare(b)));
    const others = all.filter((p) => !p.startsWith("secrets/") && !p.endsWith(".db"));

    const place = (rel: string) => {
      const to = join(staging, "data", rel);
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      return to;
    };
    for (const rel of others) copyCompleteLines(join(dataDir, rel), place(rel));
    for (const rel of databases) {
      const db = new DatabaseSync(join(dataDir, rel));
      try {
        db.exec("PRAGMA busy_timeout = 10000");
        db.prepare("VACUUM INTO ?").run(place(rel));
      } finally {
        db.close();
      }
    }
    if (opts.includeKeys && opts.passphrase) {
      const files: Record<string, string> = {};
      for (const rel of secrets) files[rel] = readFileSync(join(dataDir, rel)).toString("base64");
      writeFileSync(join(staging, SEALED), seal(files, opts.passphrase), { mode: 0o600 });
    }

    const entries = walk(staging);
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      created_at: new Date().toISOString(),
      databases: databases.length,
      keys_included: opts.includeKeys,
      files: entries.map((path) => {
        const data = readFileSync(join(staging, path));
        return { path, bytes: data.length, sha256: sha256(data) };
      }),
    };
    writeFileSync(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    const partial = `${opts.out}.partial`;
    await tar.c({ gzip: true, file: partial, cwd: staging, portable: true }, [MANIFEST, ...entries]);
    chmodSync(partial, 0o600);
    renameSync(partial, opts.out);
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Restores a backup into `dataDir`, which must be absent or empty. The archive is unpacked aside,
 * checked entry by entry against its manifest (every file listed, every checksum equal, nothing
 * extra), and only then moved into place. A passphrase opens the sealed keys when the archive has them.
 */
export async function restoreBackup(opts: {
  archive: string;
  dataDir: string;
  passphrase?: string | undefined;
}): Promise<{ manifest: Manifest; keysRestored: boolean }> {
  if (existsSync(opts.dataDir) && readdirSync(opts.dataDir).length > 0) {
    throw new ConfigError(`${opts.dataDir} (--data) is not empty: restore into a new, empty directory`);
  }
  if (!existsSync(opts.archive)) throw new ConfigError(`${opts.archive} (--in) does not exist`);
  const staging = mkdtempSync(join(tmpdir(), "hypha-restore-"));
  try {
    try {
      await tar.x({
        file: opts.archive,
        cwd: staging,
        strict: true,
        // Regular files and directories only: no links, devices or absolute paths.
        filter: (_path, entry) => "type" in entry && (entry.type === "File" || entry.type === "Directory"),
      });
    } catch (err) {
      throw new BackupError(
        `the archive cannot be read: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(join(staging, MANIFEST), "utf8")) as Manifest;
    } catch {
      throw new BackupError("the archive has no readable manifest.json");
    }
    if (manifest.format !== BACKUP_FORMAT || !Array.isArray(manifest.files)) {
      throw new BackupError(`the manifest is not ${BACKUP_FORMAT}`);
    }
    const listed = new Map(manifest.files.map((f) => [f.path, f]));
    const present = walk(staging).filter((p) => p !== MANIFEST);
    for (const path of present) {
      const entry = listed.get(path);
      if (!entry) throw new BackupError(`the archive holds ${path}, which its manifest does not list`);
      const actual = Buffer.from(sha256(readFileSync(join(staging, path))), "hex");
      const expected = Buffer.from(entry.sha256, "hex");
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
        throw new BackupError(`${path} does not match its checksum in the manifest: the archive was altered`);
      }
      listed.delete(path);
    }
    if (listed.size > 0) {
      throw new BackupError(`the archive lacks ${[...listed.keys()][0]}, which its manifest lists`);
    }

    const secrets: Record<string, string> = {};
    let keysRestored = false;
    if (existsSync(join(staging, SEALED)) && opts.passphrase) {
      Object.assign(secrets, unseal(readFileSync(join(staging, SEALED)), opts.passphrase));
      keysRestored = true;
    }
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(opts.dataDir, 0o700);
    const data = join(staging, "data");
    for (const rel of existsSync(data) ? walk(data) : []) {
      const to = join(opts.dataDir, rel);
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      copyFileSync(join(data, rel), to);
      chmodSync(to, 0o600);
    }
    for (const [rel, b64] of Object.entries(secrets)) {
      const to = join(opts.dataDir, rel);
      if (!rel.startsWith("secrets/") || relative(opts.dataDir, to).split(sep).includes("..")) continue;
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      writeFileSync(to, Buffer.from(b64, "base64"), { mode: 0o600 });
    }
    return { manifest, keysRestored };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Whether the archive carries sealed keys (so restore asks for the passphrase). */
export async function archiveHasKeys(archive: string): Promise<boolean> {
  let found = false;
  try {
    await tar.t({
      file: archive,
      onReadEntry: (entry) => {
        if (entry.path === SEALED) found = true;
        entry.resume();
      },
    });
  } catch {
    // unreadable: restore reports it
  }
  return found;
}
