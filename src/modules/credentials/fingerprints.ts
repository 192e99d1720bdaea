import { createHmac } from "node:crypto";

/**
 * Keyed fingerprints of credential values, for refusing a memory that contains one. A fingerprint is
 * `<length>:<HMAC-SHA256(key, value), 16 bytes hex>`; the key is the tenant's own (derived from its
 * data key), so the stored fingerprints say nothing without it and nothing across tenants.
 *
 * The check is exact and cheap: text is cut into runs without whitespace (a credential value never
 * has any: the schema refuses it), and only windows of a length some credential has, inside runs
 * at least that long, are hashed. Ordinary prose has few runs longer than the shortest credential, so
 * a typical memory costs a handful of HMACs.
 */
export const MIN_FINGERPRINT_LENGTH = 8;

export function fingerprint(key: Buffer, value: string): string {
  return `${value.length}:${createHmac("sha256", key).update(value, "utf8").digest().subarray(0, 16).toString("hex")}`;
}

export function fingerprintsOf(key: Buffer, values: readonly (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const v of values)
    if (v !== undefined && v.length >= MIN_FINGERPRINT_LENGTH) out.add(fingerprint(key, v));
  return [...out];
}

export type FingerprintSet = {
  /** Lengths (in UTF-16 code units) of the values fingerprinted, ascending. */
  lengths: readonly number[];
  prints: ReadonlySet<string>;
};

export function fingerprintSet(prints: Iterable<string>): FingerprintSet {
  const set = new Set(prints);
  const lengths = [...new Set([...set].map((p) => Number(p.split(":")[0])))].sort((a, b) => a - b);
  return { lengths, prints: set };
}

/** Whether `text` contains a value whose fingerprint is in `set`. */
export function containsKnownValue(key: Buffer, set: FingerprintSet, text: string): boolean {
  if (set.prints.size === 0) return false;
  const shortest = set.lengths[0] ?? Number.POSITIVE_INFINITY;
  const runs = text.split(/\s+/);
  for (const run of runs) {
    if (run.length < shortest) continue;
    for (const len of set.lengths) {
      if (len > run.length) break;
      for (let i = 0; i + len <= run.length; i++) {
        if (set.prints.has(fingerprint(key, run.slice(i, i + len)))) return true;
      }
    }
  }
  return false;
}
