/**
 * Address classification for the egress guard: which IP destinations an outbound request may reach.
 *
 * Every IANA special-purpose range of either family (both registries, entry by entry) is blocked, as are multicast, broadcast and the
 * reserved IPv4 240/4; any other address is public. IPv6 space outside global unicast 2000::/3 that
 * no special-purpose entry covers is treated as public: it is unallocated today, and blocking it
 * would refuse addresses that are not private by any registry. Transition forms that carry an IPv4
 * address inside an IPv6 one (IPv4-mapped, SIIT IPv4-translated,
 * IPv4-compatible, NAT64, 6to4, Teredo) are blocked as a whole, and the embedded IPv4 address is
 * classified too, so that allowlisting a transition prefix never opens a path to a private IPv4 host.
 *
 * Text is turned into an address the way the WHATWG URL host parser does it (`127.1`, `0x7f.1`,
 * `2130706433` and `0177.0.0.1` are all 127.0.0.1), because that is how an HTTP client reading a URL
 * will interpret it. A string the URL parser would not accept as an IP host is `invalid`.
 */
import ipaddr from "ipaddr.js";

export type RangeName =
  | "public"
  | "invalid"
  | "unspecified"
  | "thisNetwork"
  | "loopback"
  | "private"
  | "uniqueLocal"
  | "linkLocal"
  | "cloudMetadata"
  | "carrierGradeNat"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "benchmarking"
  | "documentation"
  | "ietfProtocolAssignments"
  | "as112"
  | "amt"
  | "6to4Relay"
  | "discardOnly"
  | "orchidV2"
  | "segmentRouting"
  | "dummyPrefix"
  | "ipv4Mapped"
  | "ipv4Translated"
  | "ipv4Compatible"
  | "nat64"
  | "nat64Local"
  | "6to4"
  | "teredo";

/**
 * How an IPv4 address is carried inside an IPv6 one, for the transition ranges. `rfc6052` is the
 * local-use NAT64 prefix, where the operator picks the prefix length (/48 to /96) and with it the
 * position of the IPv4 address: every placement is read and the worst one counts.
 */
type Embedding = "last32" | "last32Inverted" | "6to4" | "rfc6052";

export type EmbeddedIpv4 = { address: string; range: RangeName; blocked: boolean };

export type AddressClassification = {
  blocked: boolean;
  range: RangeName;
  /** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6; the input itself when invalid. */
  address: string;
  family: 4 | 6 | 0;
  /** The IPv4 address inside an IPv6 transition address (mapped, compatible, NAT64, 6to4, Teredo). */
  embeddedIpv4?: EmbeddedIpv4;
};

type Rule<T> = { range: RangeName; net: [T, number]; embedding?: Embedding };

function v4(cidr: string, range: RangeName): Rule<ipaddr.IPv4> {
  return { range, net: ipaddr.IPv4.parseCIDR(cidr) };
}

function v6(cidr: string, range: RangeName, embedding?: Embedding): Rule<ipaddr.IPv6> {
  const rule: Rule<ipaddr.IPv6> = { range, net: ipaddr.IPv6.parseCIDR(cidr) };
  if (embedding) rule.embedding = embedding;
  return rule;
}

/** First match wins: single addresses and narrow ranges come before the ranges that contain them. */
const IPV4_RULES: readonly Rule<ipaddr.IPv4>[] = [
  v4("169.254.169.254/32", "cloudMetadata"), // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
  v4("169.254.170.2/32", "cloudMetadata"), // AWS ECS task credentials
  v4("169.254.170.23/32", "cloudMetadata"), // AWS EKS pod identity
  v4("100.100.100.200/32", "cloudMetadata"), // Alibaba Cloud
  v4("168.63.129.16/32", "cloudMetadata"), // Azure WireServer (a public address, reachable only from inside Azure)
  v4("192.0.0.192/32", "cloudMetadata"), // Oracle Cloud
  v4("0.0.0.0/32", "unspecified"), // connecting to it reaches the local host on Linux
  v4("0.0.0.0/8", "thisNetwork"),
  v4("10.0.0.0/8", "private"),
  v4("100.64.0.0/10", "carrierGradeNat"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "linkLocal"),
  v4("172.16.0.0/12", "private"),
  v4("192.0.0.0/24", "ietfProtocolAssignments"),
  v4("192.0.2.0/24", "documentation"),
  v4("192.31.196.0/24", "as112"),
  v4("192.52.193.0/24", "amt"),
  v4("192.88.99.0/24", "6to4Relay"),
  v4("192.168.0.0/16", "private"),
  v4("192.175.48.0/24", "as112"),
  v4("198.18.0.0/15", "benchmarking"),
  v4("198.51.100.0/24", "documentation"),
  v4("203.0.113.0/24", "documentation"),
  v4("224.0.0.0/4", "multicast"),
  v4("255.255.255.255/32", "broadcast"),
  v4("240.0.0.0/4", "reserved"),
];

const IPV6_RULES: readonly Rule<ipaddr.IPv6>[] = [
  v6("::/128", "unspecified"),
  v6("::1/128", "loopback"),
  v6("::ffff:0:0/96", "ipv4Mapped", "last32"),
  v6("::ffff:0:0:0/96", "ipv4Translated", "last32"), // SIIT (RFC 6145, RFC 7915)
  v6("::/96", "ipv4Compatible", "last32"),
  v6("64:ff9b::/96", "nat64", "last32"),
  v6("64:ff9b:1::/48", "nat64Local", "rfc6052"),
  v6("100::/64", "discardOnly"),
  v6("100:0:0:1::/64", "dummyPrefix"), // RFC 9780
  v6("2001::/32", "teredo", "last32Inverted"),
  v6("2001:2::/48", "benchmarking"),
  v6("2001:20::/28", "orchidV2"),
  v6("2001::/23", "ietfProtocolAssignments"), // anycast services, AMT, AS112, ORCHID, DETs
  v6("2001:db8::/32", "documentation"),
  v6("2002::/16", "6to4", "6to4"),
  v6("2620:4f:8000::/48", "as112"), // Direct Delegation AS112 service
  v6("3fff::/20", "documentation"),
  v6("5f00::/16", "segmentRouting"), // SRv6 SIDs (RFC 9602), never globally reachable
  v6("fd00:ec2::254/128", "cloudMetadata"), // AWS IMDS over IPv6
  v6("fc00::/7", "uniqueLocal"),
  v6("fe80::/10", "linkLocal"),
  v6("ff00::/8", "multicast"),
];

/** Characters that can appear in an IP literal in any notation the URL parser accepts (plus a zone id). */
const LITERAL_CHARS = /^[0-9A-Za-z.:[\]%_-]+$/;

/**
 * Parse an IP literal as the WHATWG URL host parser would. Returns undefined for anything that is
 * not an IP host (a domain name, a malformed address). An IPv6 zone id (`fe80::1%eth0`, as the
 * system resolver may return for link-local answers) is stripped before parsing; it never makes an
 * address acceptable because link-local is blocked.
 */
export function parseIpLiteral(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!LITERAL_CHARS.test(text)) return undefined;
  const bracketed = text.startsWith("[") && text.endsWith("]");
  let inner = bracketed ? text.slice(1, -1) : text;
  const isV6 = inner.includes(":");
  if (bracketed && !isV6) return undefined;
  if (isV6) {
    const zone = inner.indexOf("%");
    if (zone !== -1) inner = inner.slice(0, zone);
  } else if (inner.includes("[") || inner.includes("]") || inner.includes("%")) {
    return undefined;
  }
  let host: string;
  try {
    host = new URL(`http://${isV6 ? `[${inner}]` : inner}/`).hostname;
  } catch {
    return undefined;
  }
  if (host.startsWith("[")) {
    const bare = host.slice(1, -1);
    return ipaddr.IPv6.isValid(bare) ? ipaddr.IPv6.parse(bare) : undefined;
  }
  // After URL parsing an IPv4 host is always a plain dotted quad; anything else is a domain name.
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? ipaddr.IPv4.parse(host) : undefined;
}

function classifyV4(addr: ipaddr.IPv4): { range: RangeName; blocked: boolean } {
  for (const rule of IPV4_RULES) {
    if (addr.match(rule.net)) return { range: rule.range, blocked: true };
  }
  return { range: "public", blocked: false };
}

/** Byte offsets of the IPv4 address for each RFC 6052 prefix length a /48 can hold (bits 64–71 are skipped). */
const RFC6052_PLACEMENTS: readonly (readonly number[])[] = [
  [12, 13, 14, 15], // /96
  [9, 10, 11, 12], // /64
  [7, 9, 10, 11], // /56
  [6, 7, 9, 10], // /48
];

/**
 * Which placement to report when several are read: the one an attacker would aim at. Zero padding
 * reads as 0.0.0.0/8 in most placements, so that counts only when nothing worse is found.
 */
const SEVERITY: Partial<Record<RangeName, number>> = {
  cloudMetadata: 0,
  loopback: 1,
  private: 2,
  uniqueLocal: 2,
  linkLocal: 2,
  carrierGradeNat: 2,
  thisNetwork: 4,
  unspecified: 4,
  public: 5,
};

function embeddedV4(addr: ipaddr.IPv6, embedding: Embedding): ipaddr.IPv4 {
  if (embedding === "rfc6052") {
    const bytes = addr.toByteArray();
    const candidates = RFC6052_PLACEMENTS.map((at) => new ipaddr.IPv4(at.map((i) => bytes[i] ?? 0)));
    const rank = (c: ipaddr.IPv4): number => SEVERITY[classifyV4(c).range] ?? 3;
    return candidates.reduce((worst, c) => (rank(c) < rank(worst) ? c : worst));
  }
  const p = addr.parts;
  const word = (i: number): number => p[i] ?? 0;
  if (embedding === "6to4") {
    return new ipaddr.IPv4([word(1) >> 8, word(1) & 0xff, word(2) >> 8, word(2) & 0xff]);
  }
  const hi = embedding === "last32Inverted" ? ~word(6) & 0xffff : word(6);
  const lo = embedding === "last32Inverted" ? ~word(7) & 0xffff : word(7);
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * Classify an IP address. Blocked unless it is an ordinary public unicast address.
 *
 * @example
 * classifyAddress("0x7f.1") // { blocked: true, range: "loopback", address: "127.0.0.1", family: 4 }
 * classifyAddress("::ffff:169.254.169.254").embeddedIpv4?.range // "cloudMetadata"
 */
export function classifyAddress(ip: string): AddressClassification {
  const addr = parseIpLiteral(ip);
  if (!addr) return { blocked: true, range: "invalid", address: ip, family: 0 };
  if (addr.kind() === "ipv4") {
    return { ...classifyV4(addr as ipaddr.IPv4), address: addr.toString(), family: 4 };
  }
  const a6 = addr as ipaddr.IPv6;
  const address = a6.toRFC5952String();
  for (const rule of IPV6_RULES) {
    if (!a6.match(rule.net)) continue;
    const result: AddressClassification = { blocked: true, range: rule.range, address, family: 6 };
    if (rule.embedding) {
      const inner = embeddedV4(a6, rule.embedding);
      result.embeddedIpv4 = { address: inner.toString(), ...classifyV4(inner) };
    }
    return result;
  }
  return { blocked: false, range: "public", address, family: 6 };
}
