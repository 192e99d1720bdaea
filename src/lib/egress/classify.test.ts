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
 * required to be blocked, and these two sit in 224.0.0.0/4. Nothing else is an exception: IPv6
 * outside 2000::/3 is allowed unless a special-purpose range covers it.
 */
const PUBLIC_BUT_BLOCKED_BY_POLICY: Record<string, RangeName> = {
  "226.84.185.150": "multicast",
  "227.202.96.196": "multicast",
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
    assert.equal(vectors.public.length - Object.keys(PUBLIC_BUT_BLOCKED_BY_POLICY).length, 29);
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
