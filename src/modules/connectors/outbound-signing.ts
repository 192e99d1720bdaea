import { checkWindow, decodeHex32, hmacSha256, matchesAny, parseUnixSeconds } from "./hmac.ts";

/**
 * Signature on requests Hypha sends (outbound webhooks).
 *
 * Header: `X-Hypha-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`
 *
 * - `t` is the signing time in whole unix seconds (decimal, no sign, no fraction).
 * - each `v1` is the lowercase hex HMAC-SHA256, keyed with the endpoint secret's UTF-8 bytes, of the
 *   signed payload `"{t}.{body}"`: the `t` value exactly as it appears in the header, a full stop, then
 *   the raw request body bytes exactly as sent (no re-serialisation, no trimming).
 * - several `v1` entries appear while a secret is being rotated, one per active secret; a receiver
 *   accepts the request when any one matches a secret it holds.
 * - unknown keys (future schemes) are ignored by receivers; a repeated `t` makes the header invalid.
 *
 * A receiver must: compare in constant time, reject when `|now - t|` exceeds its tolerance (300 s is a
 * good default), and remember delivery ids (the `X-Hypha-Delivery` header, if used) for at least twice
 * that long to reject replays.
 *
 * @example
 * // secret "whsec_test", body '{"ok":true}', t = 1767225600 (2026-01-01T00:00:00Z):
 * // signed payload  = '1767225600.{"ok":true}'
 * // header          = 't=1767225600,v1=' + hex(HMAC-SHA256("whsec_test", signed payload))
 * const header = signOutbound("whsec_test", '{"ok":true}', Date.parse("2026-01-01T00:00:00Z"));
 * const check = verifyOutbound("whsec_test", header, '{"ok":true}', Date.now(), 300);
 * if (!check.ok) throw new Error(check.reason);
 */
export const HYPHA_SIGNATURE_HEADER = "X-Hypha-Signature";

/** Rotation never needs more than a handful of simultaneous secrets; more entries are refused. */
const MAX_V1 = 8;

/**
 * Builds the `X-Hypha-Signature` value. `secret` may be a list during rotation (one `v1` each);
 * `nowMs` is epoch milliseconds (`Clock.now()`), truncated to whole seconds.
 */
export function signOutbound(
  secret: string | readonly string[],
  body: string | Buffer,
  nowMs: number,
): string {
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) {
    throw new Error("outbound signing needs a non-empty secret");
  }
  const t = String(Math.floor(nowMs / 1000));
  const macs = secrets.map((s) => `v1=${hmacSha256(s, `${t}.`, body).toString("hex")}`);
  return [`t=${t}`, ...macs].join(",");
}

export type OutboundVerifyResult =
  | { ok: true; timestamp: number }
  | {
      ok: false;
      reason:
        | "NO_SECRET_CONFIGURED"
        | "SIGNATURE_MISSING"
        | "MALFORMED_HEADER"
        | "SIGNATURE_MISMATCH"
        | "TIMESTAMP_STALE"
        | "TIMESTAMP_IN_FUTURE";
    };

/**
 * What a receiver runs on an `X-Hypha-Signature` header: parse, check any `v1` against the HMAC of
 * `"{t}.{body}"` in constant time, then check `t` is within `toleranceSec` of `nowMs` either way.
 */
export function verifyOutbound(
  secret: string | undefined,
  header: string | undefined,
  body: string | Buffer,
  nowMs: number,
  toleranceSec: number,
): OutboundVerifyResult {
  if (secret === undefined || secret === "") return { ok: false, reason: "NO_SECRET_CONFIGURED" };
  if (header === undefined || header === "") return { ok: false, reason: "SIGNATURE_MISSING" };
  let t: string | undefined;
  const candidates: Buffer[] = [];
  for (const entry of header.split(",")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) return { ok: false, reason: "MALFORMED_HEADER" };
    const key = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (key === "t") {
      if (t !== undefined) return { ok: false, reason: "MALFORMED_HEADER" };
      t = value;
    } else if (key === "v1") {
      const mac = decodeHex32(value);
      if (mac === undefined || candidates.length >= MAX_V1) return { ok: false, reason: "MALFORMED_HEADER" };
      candidates.push(mac);
    }
  }
  if (t === undefined) return { ok: false, reason: "MALFORMED_HEADER" };
  const timestamp = parseUnixSeconds(t);
  if (timestamp === undefined) return { ok: false, reason: "MALFORMED_HEADER" };
  if (candidates.length === 0) return { ok: false, reason: "SIGNATURE_MISSING" };
  if (!matchesAny(hmacSha256(secret, `${t}.`, body), candidates)) {
    return { ok: false, reason: "SIGNATURE_MISMATCH" };
  }
  const window = checkWindow(timestamp, nowMs, toleranceSec);
  return window.ok ? { ok: true, timestamp } : window;
}
