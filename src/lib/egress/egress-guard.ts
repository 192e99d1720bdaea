/**
 * Egress guard: the only way Hypha code should send a request to an operator- or user-supplied URL
 * (outbound webhooks, an LLM judge endpoint). It exists to stop server-side request forgery: a URL
 * that makes the server talk to itself, to the private network behind it, or to a cloud metadata
 * service that hands out credentials.
 *
 * What is checked, in order:
 * 1. The URL is parsed with the WHATWG parser (`new URL`), the same one the HTTP client uses, so the
 *    guard judges exactly the host that will be connected to: `http://2130706433/`, `0x7f.1`,
 *    `0177.0.0.1` and `127.1` all become 127.0.0.1 before any decision. IPv6 zone ids are rejected by
 *    the parser. Only `http:` and `https:` pass; URLs with credentials in them are refused (they end
 *    up in logs, and the guard never sends them).
 * 2. A domain name is resolved once (`dns.lookup` with `all: true`, `order: "verbatim"`) and EVERY
 *    address returned must pass, not just the first: a name with one public and one private answer
 *    is refused, because the client may pick either.
 * 3. Each address is classified by `classifyAddress` (see classify.ts): loopback, private, ULA,
 *    link-local, cloud metadata, CGNAT, multicast, unspecified, broadcast, reserved, benchmarking,
 *    documentation and the IPv4-in-IPv6 transition forms (mapped, compatible, NAT64, 6to4, Teredo,
 *    whose embedded IPv4 is checked as well) are blocked. An operator may allow CIDRs and host names;
 *    a host-name allowance never opens cloud metadata or the unspecified address (DNS for an allowed
 *    name can still be pointed anywhere), only an explicit CIDR does.
 *
 * Why the connection is pinned: checking a name and then letting the HTTP client resolve it again
 * leaves a DNS-rebinding window. An attacker's name server answers the check with a public address
 * and the connection, a moment later, with 127.0.0.1 (TTL 0). The guard therefore resolves once and
 * hands undici a `lookup` that can only return the addresses it checked; after connecting it also
 * verifies the socket's peer address is one of them. TLS keeps the URL's host name as SNI and for
 * certificate checks, so pinning does not weaken https. A per-request Agent is used, so neither a
 * proxy from the environment nor a pooled connection to some earlier address is ever involved.
 *
 * Also: redirects are never followed (a 3xx is returned as REDIRECT_NOT_FOLLOWED, since the next hop
 * would need its own check), and one deadline covers DNS, connect, headers and body, with a byte
 * cap on the body; both abort the request and return a typed failure.
 */

import type { LookupAddress, LookupOptions } from "node:dns";
import { lookup as dnsLookup } from "node:dns/promises";
import type { Socket } from "node:net";
import ipaddr from "ipaddr.js";
import { Agent, buildConnector } from "undici";
import {
  type AddressClassification,
  classifyAddress,
  type EmbeddedIpv4,
  parseIpLiteral,
} from "./classify.ts";

export {
  type AddressClassification,
  classifyAddress,
  type EmbeddedIpv4,
  type RangeName,
} from "./classify.ts";

/** Resolves a host name to every address it has. Injected in tests; production uses dns.lookup. */
export type Resolver = (hostname: string) => Promise<ReadonlyArray<{ address: string; family?: number }>>;

export type EgressGuardOptions = {
  /** Destinations that may be reached although their address is blocked. */
  allow?: { cidrs?: readonly string[]; hosts?: readonly string[] };
  resolver?: Resolver;
  /** One deadline for the whole request: DNS, connect, response headers and body. */
  timeoutMs: number;
  /** Largest response body accepted, in bytes as received on the wire. */
  maxResponseBytes: number;
};

/** How an address came to be permitted. */
export type AllowedBy = "public" | "cidr" | "host";

export type CheckedAddress = {
  address: string;
  family: 4 | 6;
  range: AddressClassification["range"];
  allowedBy: AllowedBy;
};

export type EgressDenial =
  | { ok: false; reason: "INVALID_URL"; message: string }
  | { ok: false; reason: "SCHEME_NOT_ALLOWED"; scheme: string }
  | { ok: false; reason: "CREDENTIALS_IN_URL"; host: string }
  | { ok: false; reason: "DNS_FAILED"; host: string; code: string }
  | {
      ok: false;
      reason: "ADDRESS_BLOCKED";
      host: string;
      address: string;
      range: AddressClassification["range"];
      embeddedIpv4?: EmbeddedIpv4;
    }
  | { ok: false; reason: "TIMEOUT"; host: string };

export type EgressDecision =
  | {
      ok: true;
      url: URL;
      /** The host as the URL parser produced it, without IPv6 brackets. */
      host: string;
      addresses: CheckedAddress[];
    }
  | EgressDenial;

export type EgressResponse = {
  ok: true;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The peer address the request was actually sent to; always one of the checked addresses. */
  address: string;
};

export type EgressResult =
  | EgressResponse
  | EgressDenial
  | { ok: false; reason: "REDIRECT_NOT_FOLLOWED"; host: string; status: number; location: string | undefined }
  | { ok: false; reason: "RESPONSE_TOO_LARGE"; host: string; limitBytes: number }
  | { ok: false; reason: "PINNING_VIOLATION"; host: string; address: string }
  | { ok: false; reason: "REQUEST_FAILED"; host: string; code: string; message: string };

export type EgressRequestInit = {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
};

export type EgressGuard = {
  /** Decide whether a URL may be fetched, resolving its host. Sends nothing. */
  check(url: string | URL): Promise<EgressDecision>;
  /** Check, then send one request pinned to the checked addresses. Never throws for network failures. */
  fetch(url: string | URL, init?: EgressRequestInit): Promise<EgressResult>;
};

const DEFAULT_RESOLVER: Resolver = (hostname) => dnsLookup(hostname, { all: true, order: "verbatim" });

/** Ranges a host-name allowance does not open: DNS for an allowed name is still attacker-influenced. */
const NEVER_BY_HOST: ReadonlySet<string> = new Set(["cloudMetadata", "unspecified"]);

/** Headers the caller may not set: the guard derives them from the checked URL. */
const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "connection",
  "transfer-encoding",
  "upgrade",
]);

const TIMED_OUT = Symbol("egress-timeout");

type CidrList = readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

function parseCidrs(cidrs: readonly string[]): CidrList {
  return cidrs.map((text) => {
    if (ipaddr.isValidCIDR(text)) return ipaddr.parseCIDR(text);
    const addr = parseIpLiteral(text);
    if (!addr) throw new Error(`egress allowlist: not a CIDR or IP address: ${text}`);
    return [addr, addr.kind() === "ipv4" ? 32 : 128];
  });
}

/** Host names are compared in the form the URL parser produces (lower case, punycode, no brackets). */
function normaliseHostPattern(pattern: string): string {
  const wildcard = pattern.startsWith("*.");
  const name = wildcard ? pattern.slice(2) : pattern;
  let host: string;
  try {
    host = new URL(`http://${name}/`).hostname;
  } catch {
    throw new Error(`egress allowlist: not a host name: ${pattern}`);
  }
  return (wildcard ? `*.${host}` : host).replace(/\.$/, "");
}

function hostMatches(patterns: readonly string[], host: string): boolean {
  const h = host.replace(/\.$/, "");
  return patterns.some((p) => (p.startsWith("*.") ? h.endsWith(p.slice(1)) : p === h));
}

function inCidrs(cidrs: CidrList, address: string): boolean {
  const addr = parseIpLiteral(address);
  if (!addr) return false;
  return cidrs.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
}

function errorCode(err: unknown): string {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") return err.code;
  return "UNKNOWN";
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wait for a promise, or stop when the signal aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net/tls connect that answers only with the addresses the guard checked, whatever
 * the DNS says now. It refuses any other host name so a mis-wired call cannot fall through to DNS.
 */
export function createPinnedLookup(host: string, addresses: readonly CheckedAddress[]) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
    const matching = addresses.filter((a) => !family || a.family === family);
    const first = matching[0];
    if (hostname !== host || !first) {
      const err: NodeJS.ErrnoException = new Error(`egress: no checked address for ${hostname}`);
      err.code = "ENOTFOUND";
      callback(err, "");
      return;
    }
    if (options.all)
      callback(
        null,
        matching.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, first.address, first.family);
  };
}

function canonical(address: string): string {
  const addr = parseIpLiteral(address);
  if (!addr) return address;
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address().toString();
  }
  return addr.kind() === "ipv6" ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString();
}

export function createEgressGuard(options: EgressGuardOptions): EgressGuard {
  const cidrs = parseCidrs(options.allow?.cidrs ?? []);
  const hostPatterns = (options.allow?.hosts ?? []).map(normaliseHostPattern);
  const resolver = options.resolver ?? DEFAULT_RESOLVER;
  const { timeoutMs, maxResponseBytes } = options;
  if (!(timeoutMs > 0) || !(maxResponseBytes >= 0)) {
    throw new Error("egress guard: timeoutMs must be > 0 and maxResponseBytes >= 0");
  }

  /** Whether one address may be reached, given the host it was reached through. */
  function judge(
    address: string,
    hostAllowed: boolean,
  ): { ok: true; checked: CheckedAddress } | { ok: false; c: AddressClassification } {
    const c = classifyAddress(address);
    if (c.family === 0) return { ok: false, c };
    const family = c.family;
    const byRange = (range: string, addr: string, blocked: boolean): AllowedBy | undefined => {
      if (!blocked) return "public";
      if (inCidrs(cidrs, addr)) return "cidr";
      if (hostAllowed && !NEVER_BY_HOST.has(range)) return "host";
      return undefined;
    };
    const inner = c.embeddedIpv4;
    // An IPv4-mapped address is the IPv4 address at the socket level, so allowing the IPv4 suffices.
    let outer = byRange(c.range, c.address, c.blocked);
    if (!outer && inner && c.range === "ipv4Mapped" && inCidrs(cidrs, inner.address)) outer = "cidr";
    if (!outer) return { ok: false, c };
    if (inner && !byRange(inner.range, inner.address, inner.blocked)) return { ok: false, c };
    return { ok: true, checked: { address: c.address, family, range: c.range, allowedBy: outer } };
  }

  async function decide(input: string | URL, signal: AbortSignal): Promise<EgressDecision> {
    let url: URL;
    try {
      url = new URL(input);
    } catch (err) {
      return { ok: false, reason: "INVALID_URL", message: errorMessage(err) };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return { ok: false, reason: "SCHEME_NOT_ALLOWED", scheme: url.protocol.replace(/:$/, "") };
    }
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    if (url.username !== "" || url.password !== "") return { ok: false, reason: "CREDENTIALS_IN_URL", host };

    const literal = parseIpLiteral(url.hostname);
    let answers: ReadonlyArray<{ address: string }>;
    if (literal) {
      answers = [{ address: host }];
    } else {
      try {
        answers = await raceAbort(resolver(host), signal);
      } catch (err) {
        if (signal.aborted) return { ok: false, reason: "TIMEOUT", host };
        return { ok: false, reason: "DNS_FAILED", host, code: errorCode(err) };
      }
      if (answers.length === 0) return { ok: false, reason: "DNS_FAILED", host, code: "NO_ADDRESSES" };
    }

    const hostAllowed = !literal && hostMatches(hostPatterns, host);
    const addresses: CheckedAddress[] = [];
    for (const answer of answers) {
      const verdict = judge(answer.address, hostAllowed);
      if (!verdict.ok) {
        const denial: EgressDenial = {
          ok: false,
          reason: "ADDRESS_BLOCKED",
          host,
          address: verdict.c.address,
          range: verdict.c.range,
        };
        if (verdict.c.embeddedIpv4) denial.embeddedIpv4 = verdict.c.embeddedIpv4;
        return denial;
      }
      addresses.push(verdict.checked);
    }
    return { ok: true, url, host, addresses };
  }

  async function check(input: string | URL): Promise<EgressDecision> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(TIMED_OUT), timeoutMs);
    try {
      return await decide(input, controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async function send(
    decision: Extract<EgressDecision, { ok: true }>,
    init: EgressRequestInit,
    signal: AbortSignal,
  ): Promise<EgressResult> {
    const { url, host, addresses } = decision;
    const allowed = new Set(addresses.map((a) => canonical(a.address)));
    let peer: string | undefined;
    let violation: string | undefined;
    const baseConnect = buildConnector({ lookup: createPinnedLookup(host, addresses), timeout: timeoutMs });
    const agent = new Agent({
      connect: (opts, callback) => {
        baseConnect(opts, (err, socket) => {
          if (err || !socket) {
            callback(err ?? new Error("egress: connect failed"), null);
            return;
          }
          // Defence in depth: the peer must be an address the guard checked, whatever happened above.
          const remote = canonical((socket as Socket).remoteAddress ?? "");
          if (!allowed.has(remote)) {
            violation = remote;
            socket.destroy();
            callback(new Error(`egress: connected to unchecked address ${remote}`), null);
            return;
          }
          peer = remote;
          callback(null, socket);
        });
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connections: 1,
      pipelining: 1,
    });

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(init.headers ?? {})) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) headers[name] = value;
    }

    try {
      const res = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: (init.method ?? "GET").toUpperCase(),
        headers,
        body: init.body ?? null,
        signal,
      });
      // Early exits destroy the body and then the agent; the late abort error has nowhere useful to go.
      res.body.on("error", () => {});
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304) {
        res.body.destroy();
        const location = res.headers.location;
        return {
          ok: false,
          reason: "REDIRECT_NOT_FOLLOWED",
          host,
          status: res.statusCode,
          location: Array.isArray(location) ? location[0] : location,
        };
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxResponseBytes) {
        res.body.destroy();
        return { ok: false, reason: "RESPONSE_TOO_LARGE", host, limitBytes: maxResponseBytes };
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        total += buf.length;
        if (total > maxResponseBytes) {
          res.body.destroy();
          return { ok: false, reason: "RESPONSE_TOO_LARGE", host, limitBytes: maxResponseBytes };
        }
        chunks.push(buf);
      }
      return {
        ok: true,
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.concat(chunks),
        address: peer ?? "",
      };
    } catch (err) {
      if (signal.aborted) return { ok: false, reason: "TIMEOUT", host };
      if (violation) return { ok: false, reason: "PINNING_VIOLATION", host, address: violation };
      return { ok: false, reason: "REQUEST_FAILED", host, code: errorCode(err), message: errorMessage(err) };
    } finally {
      agent.destroy().catch(() => {});
    }
  }

  async function fetch(input: string | URL, init: EgressRequestInit = {}): Promise<EgressResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(TIMED_OUT), timeoutMs);
    try {
      const decision = await decide(input, controller.signal);
      if (!decision.ok) return decision;
      return await send(decision, init, controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  return { check, fetch };
}

/** Splits the operator's egress allowlist into CIDRs and host names. */
export function egressAllowList(entries: readonly string[]): { cidrs: string[]; hosts: string[] } {
  const cidrs: string[] = [];
  const hosts: string[] = [];
  for (const e of entries) {
    if (ipaddr.isValidCIDR(e)) cidrs.push(e);
    else if (ipaddr.isValid(e)) cidrs.push(`${e}/${ipaddr.parse(e).kind() === "ipv4" ? 32 : 128}`);
    else hosts.push(e);
  }
  return { cidrs, hosts };
}

/** The answer of a POST through the guard, reduced to what a caller of a configured API acts on. */
export type GuardedPostResult =
  | { ok: true; status: number; body: string }
  | { ok: false; reason: "TIMEOUT" | "NETWORK_ERROR" | "EGRESS_BLOCKED" };

/**
 * A POST through the egress guard for a configured API (the LLM judge, an embeddings endpoint): the
 * address is checked, the connection pinned and the deadline kept; a refusal of the destination is
 * `EGRESS_BLOCKED`, a deadline `TIMEOUT`, anything else `NETWORK_ERROR`.
 */
export function guardedPost(
  guard: EgressGuard,
): (url: string, init: { headers: Record<string, string>; body: string }) => Promise<GuardedPostResult> {
  return async (url, init) => {
    const res = await guard.fetch(url, { method: "POST", headers: init.headers, body: init.body });
    if (res.ok) return { ok: true, status: res.status, body: res.body.toString("utf8") };
    if (res.reason === "TIMEOUT") return { ok: false, reason: "TIMEOUT" };
    return {
      ok: false,
      reason: ["ADDRESS_BLOCKED", "SCHEME_NOT_ALLOWED", "CREDENTIALS_IN_URL"].includes(res.reason)
        ? "EGRESS_BLOCKED"
        : "NETWORK_ERROR",
    };
  };
}
