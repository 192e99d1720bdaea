import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { classifyAddress } from "./classify.ts";
import { type CheckedAddress, createEgressGuard, createPinnedLookup, type Resolver } from "./egress-guard.ts";

const WPT_PATH = resolve(import.meta.dirname, "../../../..", "shared/data/ssrf/wpt-urltestdata.json");

const PUBLIC_V4 = "93.184.216.34";

/** A resolver that answers from a table and records every name it was asked for. */
function tableResolver(table: Record<string, string[]>) {
  const asked: string[] = [];
  const resolver: Resolver = async (hostname) => {
    asked.push(hostname);
    const answers = table[hostname];
    if (!answers) throw Object.assign(new Error(`no such host ${hostname}`), { code: "ENOTFOUND" });
    return answers.map((address) => ({ address }));
  };
  return { resolver, asked };
}

function guardWith(resolver: Resolver, allow?: { cidrs?: string[]; hosts?: string[] }) {
  return createEgressGuard({
    resolver,
    timeoutMs: 2_000,
    maxResponseBytes: 1024,
    ...(allow ? { allow } : {}),
  });
}

type WptCase = {
  input: string;
  base: string | null;
  hostname?: string;
  protocol?: string;
  failure?: boolean;
};

describe("check: the host judged is the host the WHATWG parser produces (wpt urltestdata)", () => {
  const raw = JSON.parse(readFileSync(WPT_PATH, "utf8")) as unknown[];
  const cases = raw.filter(
    (c): c is WptCase & { hostname: string; protocol: string } =>
      typeof c === "object" &&
      c !== null &&
      !("failure" in c) &&
      "protocol" in c &&
      (c.protocol === "http:" || c.protocol === "https:"),
  );

  test("the data file holds enough http(s) cases to mean something", () => {
    assert.ok(cases.length >= 240, `only ${cases.length} cases`);
  });

  test("every http(s) case is decided on the expected host, resolving names and never resolving IP literals", async () => {
    const mismatches: string[] = [];
    for (const c of cases) {
      const expected = c.hostname.startsWith("[") ? c.hostname.slice(1, -1) : c.hostname;
      const asked: string[] = [];
      const guard = guardWith(async (name) => {
        asked.push(name);
        return [{ address: PUBLIC_V4 }];
      });
      const input = c.base === null ? c.input : new URL(c.input, c.base);
      const d = await guard.check(input);
      const isLiteral = classifyAddress(c.hostname).range !== "invalid";
      const judgedHost = d.ok || "host" in d ? d.host : undefined;
      const problems: string[] = [];
      if (judgedHost !== expected) problems.push(`host ${String(judgedHost)}`);
      if (isLiteral) {
        if (asked.length !== 0) problems.push("resolved an IP literal");
        const address = d.ok ? d.addresses[0]?.address : d.reason === "ADDRESS_BLOCKED" ? d.address : "";
        if (d.ok || d.reason === "ADDRESS_BLOCKED") {
          if (address !== classifyAddress(expected).address) problems.push(`address ${String(address)}`);
          if (d.ok === classifyAddress(expected).blocked)
            problems.push("decision disagrees with classifyAddress");
        } else if (d.reason !== "CREDENTIALS_IN_URL") problems.push(d.reason);
      } else if (d.ok || d.reason !== "CREDENTIALS_IN_URL") {
        if (asked.length !== 1 || asked[0] !== expected) problems.push(`resolved ${JSON.stringify(asked)}`);
        if (!d.ok) problems.push(d.reason);
      }
      if (problems.length > 0) mismatches.push(`${JSON.stringify(c.input)}: ${problems.join(", ")}`);
    }
    assert.deepEqual(mismatches, []);
  });
});

describe("check: what the WHATWG parser refuses, the guard refuses (wpt urltestdata)", () => {
  const raw = JSON.parse(readFileSync(WPT_PATH, "utf8")) as unknown[];
  const failures = raw.filter(
    (c): c is WptCase =>
      typeof c === "object" && c !== null && "failure" in c && "base" in c && c.base === null,
  );

  test("every parse-failure case is INVALID_URL and resolves nothing", async () => {
    assert.ok(failures.length > 50, `only ${failures.length} cases`);
    const { resolver, asked } = tableResolver({});
    const guard = guardWith(resolver);
    const accepted: string[] = [];
    for (const c of failures) {
      const d = await guard.check(c.input);
      if (d.ok || d.reason !== "INVALID_URL")
        accepted.push(`${JSON.stringify(c.input)}: ${d.ok ? "ok" : d.reason}`);
    }
    assert.deepEqual(accepted, []);
    assert.deepEqual(asked, []);
  });
});

describe("check: URL-level rules", () => {
  test("only http and https are allowed", async () => {
    const guard = guardWith(tableResolver({}).resolver);
    for (const url of [
      "ftp://example.com/",
      "file:///etc/passwd",
      "gopher://x/",
      "ws://example.com/",
      "data:,x",
    ]) {
      const d = await guard.check(url);
      assert.equal(d.ok ? "ok" : d.reason, "SCHEME_NOT_ALLOWED", url);
    }
  });

  test("unparseable URLs and IPv6 zone ids are rejected as INVALID_URL", async () => {
    const guard = guardWith(tableResolver({}).resolver);
    for (const url of [
      "not a url",
      "http://",
      "http://[fe80::1%25eth0]/",
      "http://[::1/",
      "http://1.2.3.4.5/",
    ]) {
      const d = await guard.check(url);
      assert.equal(d.ok ? "ok" : d.reason, "INVALID_URL", url);
    }
  });

  test("URLs carrying credentials are refused", async () => {
    const guard = guardWith(tableResolver({ "example.com": [PUBLIC_V4] }).resolver);
    const d = await guard.check("https://user:secret@example.com/hook");
    assert.equal(d.ok ? "ok" : d.reason, "CREDENTIALS_IN_URL");
  });

  test("numeric host notations are judged as the address they normalise to", async () => {
    const { resolver, asked } = tableResolver({});
    const guard = guardWith(resolver);
    const notations = [
      "http://2130706433/",
      "http://0177.0.0.1/",
      "http://0x7f.1/",
      "http://127.1/",
      "http://0x7F000001/",
      "http://[::ffff:127.0.0.1]/",
      "http://[0:0:0:0:0:ffff:7f00:1]/",
      "http://127.0.0.1./",
    ];
    for (const url of notations) {
      const d = await guard.check(url);
      assert.equal(d.ok ? "ok" : d.reason, "ADDRESS_BLOCKED", url);
    }
    assert.deepEqual(asked, []);
  });
});

describe("check: every resolved address is judged", () => {
  test("a host name resolving to a public and a private address is blocked", async () => {
    const guard = guardWith(tableResolver({ "mixed.example": [PUBLIC_V4, "10.0.0.7"] }).resolver);
    const d = await guard.check("https://mixed.example/hook");
    assert.deepEqual(d, {
      ok: false,
      reason: "ADDRESS_BLOCKED",
      host: "mixed.example",
      address: "10.0.0.7",
      range: "private",
    });
  });

  test("a private address listed after several public ones is still found", async () => {
    const guard = guardWith(
      tableResolver({ "many.example": ["1.1.1.1", "2606:4700::1111", PUBLIC_V4, "fd00:ec2::254"] }).resolver,
    );
    const d = await guard.check("https://many.example/");
    assert.equal(d.ok ? "ok" : d.reason === "ADDRESS_BLOCKED" && d.range, "cloudMetadata");
  });

  test("a host name resolving only to public addresses is allowed with all of them", async () => {
    const guard = guardWith(tableResolver({ "ok.example": [PUBLIC_V4, "2606:4700::1111"] }).resolver);
    const d = await guard.check("https://ok.example/");
    assert.ok(d.ok);
    assert.deepEqual(
      d.addresses.map((a) => [a.address, a.family, a.allowedBy]),
      [
        [PUBLIC_V4, 4, "public"],
        ["2606:4700::1111", 6, "public"],
      ],
    );
  });

  test("resolver answers in unusual notations are normalised before judging", async () => {
    const guard = guardWith(tableResolver({ "odd.example": ["::ffff:127.0.0.1"] }).resolver);
    const d = await guard.check("http://odd.example/");
    assert.ok(!d.ok && d.reason === "ADDRESS_BLOCKED");
    assert.equal(d.range, "ipv4Mapped");
    assert.equal(d.embeddedIpv4?.range, "loopback");
  });

  test("resolution failure and an empty answer are DNS_FAILED", async () => {
    const failing = guardWith(tableResolver({}).resolver);
    const d1 = await failing.check("https://nxdomain.example/");
    assert.deepEqual(d1, { ok: false, reason: "DNS_FAILED", host: "nxdomain.example", code: "ENOTFOUND" });
    const empty = guardWith(tableResolver({ "empty.example": [] }).resolver);
    const d2 = await empty.check("https://empty.example/");
    assert.equal(d2.ok ? "ok" : d2.reason, "DNS_FAILED");
  });

  test("a resolver that never answers ends in TIMEOUT", async () => {
    const guard = createEgressGuard({
      resolver: () => new Promise(() => {}),
      timeoutMs: 50,
      maxResponseBytes: 1,
    });
    const d = await guard.check("https://slow-dns.example/");
    assert.equal(d.ok ? "ok" : d.reason, "TIMEOUT");
  });
});

describe("check: operator allowlist", () => {
  test("a CIDR allowance opens exactly that range", async () => {
    const guard = guardWith(tableResolver({}).resolver, { cidrs: ["10.1.0.0/16"] });
    const inside = await guard.check("http://10.1.2.3/");
    assert.ok(inside.ok);
    assert.equal(inside.addresses[0]?.allowedBy, "cidr");
    const outside = await guard.check("http://10.2.0.1/");
    assert.equal(outside.ok ? "ok" : outside.reason, "ADDRESS_BLOCKED");
  });

  test("a bare IP in the CIDR list means that single address", async () => {
    const guard = guardWith(tableResolver({}).resolver, { cidrs: ["127.0.0.1"] });
    assert.ok((await guard.check("http://127.0.0.1:8080/")).ok);
    assert.ok(!(await guard.check("http://127.0.0.2:8080/")).ok);
  });

  test("allowing an IPv4 address also allows its IPv4-mapped form, and nothing else mapped", async () => {
    const guard = guardWith(tableResolver({}).resolver, { cidrs: ["127.0.0.1/32"] });
    assert.ok((await guard.check("http://[::ffff:127.0.0.1]/")).ok);
    assert.ok(!(await guard.check("http://[::ffff:127.0.0.2]/")).ok);
  });

  test("allowing a transition prefix does not open a private embedded IPv4", async () => {
    const guard = guardWith(tableResolver({}).resolver, { cidrs: ["64:ff9b::/96"] });
    assert.ok((await guard.check("http://[64:ff9b::8.8.8.8]/")).ok);
    const d = await guard.check("http://[64:ff9b::169.254.169.254]/");
    assert.ok(!d.ok && d.reason === "ADDRESS_BLOCKED");
    assert.equal(d.embeddedIpv4?.range, "cloudMetadata");
  });

  test("a host-name allowance opens private addresses for that name only", async () => {
    const { resolver } = tableResolver({
      "hooks.corp.internal": ["10.0.0.5"],
      "other.internal": ["10.0.0.5"],
    });
    const guard = guardWith(resolver, { hosts: ["HOOKS.corp.internal"] });
    const allowed = await guard.check("https://hooks.corp.internal/x");
    assert.ok(allowed.ok);
    assert.equal(allowed.addresses[0]?.allowedBy, "host");
    assert.equal((await guard.check("https://other.internal/")).ok, false);
  });

  test("a wildcard host allowance matches subdomains, not the bare name or look-alikes", async () => {
    const { resolver } = tableResolver({
      "a.corp.example": ["10.0.0.5"],
      "corp.example": ["10.0.0.5"],
      "evilcorp.example": ["10.0.0.5"],
    });
    const guard = guardWith(resolver, { hosts: ["*.corp.example"] });
    assert.equal((await guard.check("https://a.corp.example/")).ok, true);
    assert.equal((await guard.check("https://corp.example/")).ok, false);
    assert.equal((await guard.check("https://evilcorp.example/")).ok, false);
  });

  test("a host-name allowance never opens cloud metadata or the unspecified address", async () => {
    const { resolver } = tableResolver({ "meta.corp": ["169.254.169.254"], "zero.corp": ["0.0.0.0"] });
    const guard = guardWith(resolver, { hosts: ["meta.corp", "zero.corp"] });
    const meta = await guard.check("http://meta.corp/");
    assert.equal(meta.ok ? "ok" : meta.reason === "ADDRESS_BLOCKED" && meta.range, "cloudMetadata");
    const zero = await guard.check("http://zero.corp/");
    assert.equal(zero.ok ? "ok" : zero.reason === "ADDRESS_BLOCKED" && zero.range, "unspecified");
  });

  test("a malformed allowlist entry fails at construction", () => {
    assert.throws(() => guardWith(tableResolver({}).resolver, { cidrs: ["10.0.0.0/33"] }));
    assert.throws(() => guardWith(tableResolver({}).resolver, { cidrs: ["not-an-ip"] }));
  });
});

describe("createPinnedLookup", () => {
  const checked: CheckedAddress[] = [{ address: PUBLIC_V4, family: 4, range: "public", allowedBy: "public" }];

  test("after a check, the pinned lookup keeps answering the checked address while DNS has rebound to 127.0.0.1", async () => {
    // DNS rebinding: the first answer is public, every later one is loopback.
    let queries = 0;
    const rebinding: Resolver = async () =>
      ++queries === 1 ? [{ address: PUBLIC_V4 }] : [{ address: "127.0.0.1" }];
    const d = await guardWith(rebinding).check("https://rebind.example/hook");
    assert.ok(d.ok);
    assert.deepEqual(await rebinding("rebind.example"), [{ address: "127.0.0.1" }]);

    const lookup = createPinnedLookup(d.host, d.addresses);
    const single: unknown[] = [];
    lookup("rebind.example", {}, (err, address, family) => single.push(err, address, family));
    assert.deepEqual(single, [null, PUBLIC_V4, 4]);
    const all: unknown[] = [];
    lookup("rebind.example", { all: true }, (err, address) => all.push(err, address));
    assert.deepEqual(all, [null, [{ address: PUBLIC_V4, family: 4 } satisfies LookupAddress]]);
    assert.equal(queries, 2, "the lookup never consulted DNS");
  });

  test("refuses a host name other than the checked one", () => {
    const lookup = createPinnedLookup("rebind.example", checked);
    let code: string | undefined;
    lookup("elsewhere.example", {}, (err) => {
      code = err?.code;
    });
    assert.equal(code, "ENOTFOUND");
  });

  test("honours a family restriction and fails rather than return the wrong family", () => {
    const lookup = createPinnedLookup("rebind.example", checked);
    let code: string | undefined;
    lookup("rebind.example", { family: 6 }, (err) => {
      code = err?.code;
    });
    assert.equal(code, "ENOTFOUND");
  });
});

describe("check: IPv4-translated IPv6 hosts (SIIT) are refused by their embedded address", () => {
  for (const [url, inner] of [
    ["http://[::ffff:0:127.0.0.1]/", "loopback"],
    ["http://[::ffff:0:a9fe:a9fe]/", "cloudMetadata"],
    ["http://[::ffff:0:a00:1]/", "private"],
  ] as const) {
    test(`${url} is ADDRESS_BLOCKED with an embedded ${inner} address`, async () => {
      const d = await guardWith(tableResolver({}).resolver).check(url);
      assert.ok(!d.ok && d.reason === "ADDRESS_BLOCKED", JSON.stringify(d));
      assert.deepEqual([d.range, d.embeddedIpv4?.range], ["ipv4Translated", inner]);
    });
  }

  test("allowing the whole local-use NAT64 prefix still refuses a loopback placed at any RFC 6052 position", async () => {
    const guard = guardWith(tableResolver({}).resolver, { cidrs: ["64:ff9b:1::/48"] });
    const d = await guard.check("http://[64:ff9b:1:7f00:0:100::]/");
    assert.ok(!d.ok && d.reason === "ADDRESS_BLOCKED");
    assert.equal(d.embeddedIpv4?.address, "127.0.0.1");
  });
});
