/**
 * Strict parsing of the addresses and CIDRs operators write in settings (trusted proxies, egress
 * allowances). ipaddr.js decides what an address is; only the plain forms are accepted: a dotted
 * quad of four decimal parts, or IPv6 text without a zone id, each with an optional `/bits` in range.
 * Shorthands a URL parser would accept (`127.1`, `0x7f.1`) are refused here: a setting is read by
 * people, and it should say exactly what it means.
 */
import ipaddr from "ipaddr.js";

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Parse `address` or `address/bits`. Undefined for anything else.
 *
 * @example
 * parseCidr("10.0.0.0/8")   // [IPv4 10.0.0.0, 8]
 * parseCidr("::1")          // [IPv6 ::1, 128]
 * parseCidr("999.1.1.1/99") // undefined
 */
export function parseCidr(text: string): Cidr | undefined {
  const parts = text.split("/");
  if (parts.length > 2) return undefined;
  const [addressText = "", bitsText] = parts;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addressText)) address = ipaddr.IPv4.parse(addressText);
  else if (addressText.includes(":") && !addressText.includes("%") && ipaddr.IPv6.isValid(addressText))
    address = ipaddr.IPv6.parse(addressText);
  else return undefined;
  const max = address.kind() === "ipv4" ? 32 : 128;
  if (bitsText === undefined) return [address, max];
  if (!/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  return bits <= max ? [address, bits] : undefined;
}
