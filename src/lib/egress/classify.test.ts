import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { classifyAddress, type RangeName } from "./classify.ts";

const VECTORS_PATH = resolve(
  import.meta.dirname,
  "../../../..",
  "shared/data/ssrf/private-ip-test-vectors.json",
);

type Vectors = { public: string[]; private: string[]; invalid: string[] };
const vectors = JSON.parse(readFileSync(VECTORS_PATH, "utf8")) as Vectors;

/**
 * Entries the upstream list calls public that the product policy blocks on purpose: multicast is
 * required to be blocked, and two sit in 224.0.0.0/4; three sit in 2001::/23, which the IANA
 * special-purpose registry marks not globally reachable. Nothing else is an exception: IPv6
 * outside 2000::/3 is allowed unless a special-purpose range covers it.
 */
const PUBLIC_BUT_BLOCKED_BY_POLICY: Record<string, RangeName> = {
  "226.84.185.150": "multicast",
  "227.202.96.196": "multicast",
  "2001:2:ffff:ffff:ffff:ffff:ffff:ffff": "ietfProtocolAssignments",
  "2001:10::": "ietfProtocolAssignments",
  "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff": "ietfProtocolAssignments",
};

describe("classifyAddress against frenchbread/private-ip vectors", () => {
  test("the vector file has the shape this suite expects", () => {
    assert.equal(vectors.public.length, 31);
    assert.equal(vectors.private.length, 136);
    assert.equal(vectors.invalid.length, 3);
  });

  test("every private vector is blocked, whatever its notation", () => {
    const leaked = vectors.private.filter((ip) => !classifyAddress(ip).blocked);
    assert.deepEqual(leaked, []);
    for (const ip of vectors.private) assert.notEqual(classifyAddress(ip).range, "public", ip);
  });

  test("every public vector is allowed, except the documented policy exceptions", () => {
    const wronglyBlocked = vectors.public
      .filter((ip) => !(ip in PUBLIC_BUT_BLOCKED_BY_POLICY))
      .filter((ip) => classifyAddress(ip).blocked);
    assert.deepEqual(wronglyBlocked, []);
    assert.equal(vectors.public.length - Object.keys(PUBLIC_BUT_BLOCKED_BY_POLICY).length, 26);
  });

  test("the policy exceptions are blocked under the stated range", () => {
    for (const [ip, range] of Object.entries(PUBLIC_BUT_BLOCKED_BY_POLICY)) {
      assert.ok(vectors.public.includes(ip), `${ip} is in the public list`);
      assert.deepEqual([ip, classifyAddress(ip).blocked, classifyAddress(ip).range], [ip, true, range]);
    }
  });

  test("public IPv6 vectors outside 2000::/3 and in no special-purpose range are allowed as public", () => {
    const outside = ["::1fff:0.0.0.0", "64:ff9a::0.0.0.0", "99::", "101::", "fb00::", "fec0::"];
    for (const ip of outside) {
      assert.ok(vectors.public.includes(ip), `${ip} is in the public list`);
      assert.deepEqual([ip, classifyAddress(ip).blocked, classifyAddress(ip).range], [ip, false, "public"]);
    }
  });

  test("invalid vectors are rejected as invalid", () => {
    for (const ip of vectors.invalid) {
      const c = classifyAddress(ip);
      assert.equal(c.blocked, true, ip);
      assert.equal(c.range, "invalid", ip);
    }
  });
});

describe("classifyAddress ranges", () => {
  const cases: [string, RangeName, string][] = [
    ["127.0.0.1", "loopback", "127.0.0.1"],
    ["2130706433", "loopback", "127.0.0.1"],
    ["0x7f.1", "loopback", "127.0.0.1"],
    ["0177.0.0.1", "loopback", "127.0.0.1"],
    ["127.1", "loopback", "127.0.0.1"],
    ["::1", "loopback", "::1"],
    ["[::1]", "loopback", "::1"],
    ["10.1.2.3", "private", "10.1.2.3"],
    ["172.31.0.1", "private", "172.31.0.1"],
    ["192.168.1.1", "private", "192.168.1.1"],
    ["fd12:3456::1", "uniqueLocal", "fd12:3456::1"],
    ["169.254.1.1", "linkLocal", "169.254.1.1"],
    ["fe80::1", "linkLocal", "fe80::1"],
    ["fe80::1%eth0", "linkLocal", "fe80::1"],
    ["169.254.169.254", "cloudMetadata", "169.254.169.254"],
    ["fd00:ec2::254", "cloudMetadata", "fd00:ec2::254"],
    ["100.100.100.200", "cloudMetadata", "100.100.100.200"],
    ["169.254.170.2", "cloudMetadata", "169.254.170.2"],
    ["168.63.129.16", "cloudMetadata", "168.63.129.16"],
    ["100.64.0.1", "carrierGradeNat", "100.64.0.1"],
    ["224.0.0.1", "multicast", "224.0.0.1"],
    ["ff02::1", "multicast", "ff02::1"],
    ["0.0.0.0", "unspecified", "0.0.0.0"],
    ["::", "unspecified", "::"],
    ["255.255.255.255", "broadcast", "255.255.255.255"],
    ["240.0.0.1", "reserved", "240.0.0.1"],
    ["198.18.0.1", "benchmarking", "198.18.0.1"],
    ["2001:2::1", "benchmarking", "2001:2::1"],
    ["192.0.2.1", "documentation", "192.0.2.1"],
    ["2001:db8::1", "documentation", "2001:db8::1"],
    ["3fff::1", "documentation", "3fff::1"],
    ["5f00::1", "segmentRouting", "5f00::1"],
  ];
  for (const [ip, range, address] of cases) {
    test(`${ip} is blocked as ${range}`, () => {
      const c = classifyAddress(ip);
      assert.deepEqual([c.blocked, c.range, c.address], [true, range, address]);
    });
  }

  const embedded: [string, RangeName, string, RangeName][] = [
    ["::ffff:127.0.0.1", "ipv4Mapped", "127.0.0.1", "loopback"],
    ["::ffff:169.254.169.254", "ipv4Mapped", "169.254.169.254", "cloudMetadata"],
    ["::10.0.0.1", "ipv4Compatible", "10.0.0.1", "private"],
    ["64:ff9b::127.0.0.1", "nat64", "127.0.0.1", "loopback"],
    ["64:ff9b:1::a00:1", "nat64Local", "10.0.0.1", "private"],
    ["2002:c0a8:0101::1", "6to4", "192.168.1.1", "private"],
    // Teredo carries the client address bit-inverted in the last 32 bits: 80ff:fffe is ~127.0.0.1.
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "teredo", "127.0.0.1", "loopback"],
  ];
  for (const [ip, range, inner, innerRange] of embedded) {
    test(`${ip} is blocked as ${range} and its embedded IPv4 ${inner} is classified ${innerRange}`, () => {
      const c = classifyAddress(ip);
      assert.deepEqual([c.blocked, c.range], [true, range]);
      assert.deepEqual(c.embeddedIpv4, { address: inner, range: innerRange, blocked: true });
    });
  }

  test("transition forms are blocked even when the embedded IPv4 is public", () => {
    for (const ip of ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"]) {
      const c = classifyAddress(ip);
      assert.equal(c.blocked, true, ip);
      assert.equal(c.embeddedIpv4?.blocked, false, ip);
    }
  });

  test("ordinary public unicast addresses are allowed", () => {
    for (const ip of ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::1"]) {
      assert.deepEqual([ip, classifyAddress(ip).blocked, classifyAddress(ip).range], [ip, false, "public"]);
    }
  });

  test("strings that are not IP literals are invalid, not guessed at", () => {
    for (const text of ["example.com", "1.2.3.4/x", "1.2.3.4:80", "1.2.3.4 ", "", "1.2.3.4.5", "[1.2.3.4]"]) {
      assert.equal(classifyAddress(text).range, "invalid", JSON.stringify(text));
    }
  });
});

describe("classifyAddress: IPv6 forms that carry an IPv4 address are judged by that address", () => {
  const cases: [string, RangeName, string, RangeName][] = [
    // RFC 6145/7915 SIIT IPv4-translated addresses, ::ffff:0:0:0/96 — the forms an attack run passed through.
    ["::ffff:0:127.0.0.1", "ipv4Translated", "127.0.0.1", "loopback"],
    ["::ffff:0:a9fe:a9fe", "ipv4Translated", "169.254.169.254", "cloudMetadata"],
    ["::ffff:0:a00:1", "ipv4Translated", "10.0.0.1", "private"],
    ["::ffff:127.0.0.1", "ipv4Mapped", "127.0.0.1", "loopback"],
    ["::7f00:1", "ipv4Compatible", "127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "nat64", "169.254.169.254", "cloudMetadata"],
    ["2002:7f00:1::", "6to4", "127.0.0.1", "loopback"],
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "teredo", "10.0.0.1", "private"],
    // 64:ff9b:1::/48 (RFC 8215) may hold any RFC 6052 prefix length of /48 or longer, so the IPv4
    // address may sit at bits 48, 56, 72 or 96: every placement is judged, the worst one reported.
    ["64:ff9b:1:7f00:0:100::", "nat64Local", "127.0.0.1", "loopback"],
    ["64:ff9b:1:0:a9:fea9:fe00:0", "nat64Local", "169.254.169.254", "cloudMetadata"],
    ["64:ff9b:1::a00:1", "nat64Local", "10.0.0.1", "private"],
  ];
  for (const [ip, range, inner, innerRange] of cases) {
    test(`${ip} is blocked as ${range}, carrying ${inner} (${innerRange})`, () => {
      const c = classifyAddress(ip);
      assert.deepEqual([c.blocked, c.range], [true, range]);
      assert.deepEqual(c.embeddedIpv4, { address: inner, range: innerRange, blocked: true });
    });
  }
});

describe("classifyAddress: every IANA special-purpose range is blocked", () => {
  // iana-ipv4-special-registry and iana-ipv6-special-registry, one entry per line, with a
  // representative address inside it (the first, a middle and the last where they differ).
  const registry: [cidr: string, samples: string[]][] = [
    ["0.0.0.0/8", ["0.0.0.0", "0.1.2.3", "0.255.255.255"]],
    ["10.0.0.0/8", ["10.0.0.0", "10.255.255.255"]],
    ["100.64.0.0/10", ["100.64.0.0", "100.127.255.255"]],
    ["127.0.0.0/8", ["127.0.0.0", "127.255.255.255"]],
    ["169.254.0.0/16", ["169.254.0.0", "169.254.255.255"]],
    ["172.16.0.0/12", ["172.16.0.0", "172.31.255.255"]],
    ["192.0.0.0/24", ["192.0.0.0", "192.0.0.8", "192.0.0.9", "192.0.0.10", "192.0.0.170", "192.0.0.255"]],
    ["192.0.2.0/24", ["192.0.2.0", "192.0.2.255"]],
    ["192.31.196.0/24", ["192.31.196.1"]],
    ["192.52.193.0/24", ["192.52.193.1"]],
    ["192.88.99.0/24", ["192.88.99.1", "192.88.99.2"]],
    ["192.168.0.0/16", ["192.168.0.0", "192.168.255.255"]],
    ["192.175.48.0/24", ["192.175.48.1"]],
    ["198.18.0.0/15", ["198.18.0.0", "198.19.255.255"]],
    ["198.51.100.0/24", ["198.51.100.1"]],
    ["203.0.113.0/24", ["203.0.113.1"]],
    ["240.0.0.0/4", ["240.0.0.0", "254.255.255.255"]],
    ["255.255.255.255/32", ["255.255.255.255"]],
    ["::1/128", ["::1"]],
    ["::/128", ["::"]],
    ["::ffff:0:0/96", ["::ffff:0.0.0.0", "::ffff:127.0.0.1"]],
    ["64:ff9b::/96", ["64:ff9b::7f00:1"]],
    ["64:ff9b:1::/48", ["64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"]],
    ["100::/64", ["100::", "100::ffff:ffff:ffff:ffff"]],
    ["100:0:0:1::/64", ["100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff"]],
    [
      "2001::/23",
      [
        "2001::",
        "2001:1::1",
        "2001:1::2",
        "2001:1::3",
        "2001:3::1",
        "2001:4:112::1",
        "2001:30::1",
        "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
      ],
    ],
    ["2001::/32", ["2001:0:4136:e378:8000:63bf:3fff:fdd2"]],
    ["2001:2::/48", ["2001:2::1"]],
    ["2001:10::/28", ["2001:10::1"]],
    ["2001:20::/28", ["2001:20::1"]],
    ["2001:db8::/32", ["2001:db8::1"]],
    ["2002::/16", ["2002::", "2002:ffff:ffff::1"]],
    ["2620:4f:8000::/48", ["2620:4f:8000::1", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff"]],
    ["3fff::/20", ["3fff::1", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"]],
    ["5f00::/16", ["5f00::1"]],
    ["fc00::/7", ["fc00::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]],
    ["fe80::/10", ["fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]],
  ];
  for (const [cidr, samples] of registry) {
    test(`${cidr} is blocked`, () => {
      const leaked = samples.filter(
        (ip) => !classifyAddress(ip).blocked || classifyAddress(ip).range === "public",
      );
      assert.deepEqual(leaked, []);
    });
  }

  test("the neighbours just outside the IPv6 additions stay public", () => {
    for (const ip of ["100:0:0:2::", "2001:200::1", "2620:4f:7fff::1", "2620:4f:8001::1", "2003::1"]) {
      assert.deepEqual([ip, classifyAddress(ip).blocked], [ip, false]);
    }
  });
});
