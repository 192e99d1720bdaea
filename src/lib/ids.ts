import { randomFillSync } from "node:crypto";

/** Every entity kind and its id prefix. Ids sort by creation time. */
export const ID_PREFIXES = {
  tenant: "tnt",
  key: "key",
  memory: "mem",
  request: "req",
  event: "evt",
  user: "usr",
  session: "ses",
  connector: "con",
  delivery: "dlv",
  approval: "apr",
  webhook: "whk",
  grant: "gnt",
  checkpoint: "chk",
  credential: "crd",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;
export type Id<K extends IdKind> = `${(typeof ID_PREFIXES)[K]}_${string}`;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET.charAt(t % 32) + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** Random bytes per id: 16 (of which each character keeps 5 bits: 80 bits). */
const RANDOM_BYTES = 16;
/**
 * The system's CSPRNG output, fetched a block at a time (as `crypto.randomUUID` does): one call per
 * 256 ids instead of one each, which cost more than the rest of an id. Each byte is used once.
 */
const pool = Buffer.alloc(RANDOM_BYTES * 256);
let poolAt = pool.length;

function encodeRandom(): string {
  if (poolAt + RANDOM_BYTES > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let out = "";
  for (let i = poolAt; i < poolAt + RANDOM_BYTES; i++) out += ALPHABET.charAt((pool[i] ?? 0) & 31);
  poolAt += RANDOM_BYTES;
  return out;
}

/**
 * A prefixed, time-sortable id: 10 characters of millisecond time then 16 random characters (80 bits).
 * @example newId("memory") // "mem_01JD3Y8Q2W4R5T6Y7U8I9O0P1Q"
 */
export function newId<K extends IdKind>(kind: K, now: number = Date.now()): Id<K> {
  return `${ID_PREFIXES[kind]}_${encodeTime(now)}${encodeRandom()}` as Id<K>;
}

/** A pattern that accepts exactly the ids `newId(kind)` produces. */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIXES[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`);
}

export function isId<K extends IdKind>(kind: K, value: unknown): value is Id<K> {
  return typeof value === "string" && idPattern(kind).test(value);
}
