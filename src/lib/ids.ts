import { randomBytes } from "node:crypto";

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

function encodeRandom(bytes: Buffer): string {
  let out = "";
  for (const b of bytes) out += ALPHABET.charAt(b & 31);
  return out;
}

/**
 * A prefixed, time-sortable id: 10 characters of millisecond time then 16 random characters (80 bits).
 * @example newId("memory") // "mem_01JD3Y8Q2W4R5T6Y7U8I9O0P1Q"
 */
export function newId<K extends IdKind>(kind: K, now: number = Date.now()): Id<K> {
  return `${ID_PREFIXES[kind]}_${encodeTime(now)}${encodeRandom(randomBytes(16))}` as Id<K>;
}

/** A pattern that accepts exactly the ids `newId(kind)` produces. */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIXES[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`);
}

export function isId<K extends IdKind>(kind: K, value: unknown): value is Id<K> {
  return typeof value === "string" && idPattern(kind).test(value);
}
