import { hkdfSync } from "node:crypto";
import { join } from "node:path";
import { bindingLabel } from "../../lib/crypto/encoding.ts";
import { createTenantCipher, type TenantCipher } from "../../lib/crypto/field-cipher.ts";
import { readSecretFile, writeSecretFileAtomic } from "../../lib/crypto/keyfile.ts";
import {
  activeMasterKey,
  generateMasterKeyring,
  type MasterKeyring,
  parseKeyring,
  parseMasterKeyEnv,
  serializeKeyring,
} from "../../lib/crypto/master-key.ts";

/**
 * The credential key: a keyring of its own, never the memory master key. Only the process that makes
 * outbound calls for agents holds it (`hypha proxy`, or the embedded broker of `hypha serve` without
 * a proxy address). It has the master key's format and strength rules (32 random bytes, versions).
 */
export const CREDENTIAL_KEY_RELATIVE_PATH = join("secrets", "credential.key");

export type CredentialKeyLoad =
  | { ok: true; ring: MasterKeyring; source: "env" | "file" | "generated" }
  | { ok: false; message: string };

/**
 * Finds the credential keyring: `HYPHA_CREDENTIAL_KEY` (base64, or `<version>:<base64>,…`), else the
 * file named by `HYPHA_CREDENTIAL_KEY_FILE`, else `<dataDir>/secrets/credential.key`, generated on
 * first use when `allowGenerate`. Weak keys, wide file modes and a key equal to a memory master key
 * version are refused.
 */
export function loadCredentialKeyring(opts: {
  dataDir: string;
  key?: string | undefined;
  keyFile?: string | undefined;
  allowGenerate: boolean;
  /** Memory master key versions this process holds; the credential key must differ from each. */
  masterKeys?: readonly Buffer[];
}): CredentialKeyLoad {
  if (opts.key !== undefined && opts.keyFile !== undefined) {
    return {
      ok: false,
      message: "both HYPHA_CREDENTIAL_KEY and HYPHA_CREDENTIAL_KEY_FILE are set; keep one",
    };
  }
  let load: CredentialKeyLoad;
  if (opts.key !== undefined) {
    const parsed = parseMasterKeyEnv(opts.key);
    load = parsed.ok
      ? { ok: true, ring: parsed.ring, source: "env" }
      : {
          ok: false,
          message: `HYPHA_CREDENTIAL_KEY: ${parsed.message.replace(/HYPHA_MASTER_KEY/g, "the key")}`,
        };
  } else {
    const path = opts.keyFile ?? join(opts.dataDir, CREDENTIAL_KEY_RELATIVE_PATH);
    const read = readSecretFile(path);
    if (read.ok) {
      const text = read.data.toString("utf8");
      const parsed = text.trimStart().startsWith("{") ? parseKeyring(text) : parseMasterKeyEnv(text.trim());
      load = parsed.ok
        ? { ok: true, ring: parsed.ring, source: "file" }
        : { ok: false, message: `${path}: ${parsed.message.replace(/master key/g, "credential key")}` };
    } else if (read.reason === "NOT_FOUND" && opts.keyFile === undefined && opts.allowGenerate) {
      const ring = generateMasterKeyring();
      if (!writeSecretFileAtomic(path, serializeKeyring(ring), { exclusive: true })) {
        return loadCredentialKeyring({ ...opts, allowGenerate: false });
      }
      load = { ok: true, ring, source: "generated" };
    } else {
      load = { ok: false, message: read.message };
    }
  }
  if (!load.ok) return load;
  for (const v of load.ring.versions) {
    if ((opts.masterKeys ?? []).some((m) => m.equals(v.key))) {
      return {
        ok: false,
        message: `credential key version ${v.version} equals a memory master key; generate a distinct one (openssl rand -base64 32)`,
      };
    }
  }
  return load;
}

/**
 * The tenant's credential cipher: AES-256-GCM (the field cipher) under a tenant key derived by HKDF
 * from the credential keyring, one per version, so ciphertexts carry their key version and old
 * versions keep decrypting after a rotation.
 */
export function credentialCipher(ring: MasterKeyring, tenantId: string): TenantCipher {
  const derive = (key: Buffer) =>
    Buffer.from(
      hkdfSync("sha256", key, Buffer.alloc(0), bindingLabel("hypha", "credential-key", tenantId), 32),
    );
  const active = activeMasterKey(ring);
  const previous = new Map<number, Buffer>();
  for (const v of ring.versions) if (v.version !== active.version) previous.set(v.version, derive(v.key));
  return createTenantCipher(derive(active.key), tenantId, {
    keyVersion: active.version,
    previousKeys: previous,
  });
}
