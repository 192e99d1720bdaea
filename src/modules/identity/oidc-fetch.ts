import ipaddr from "ipaddr.js";
import { parseIpLiteral } from "../../lib/egress/classify.ts";
import { createEgressGuard, type EgressGuard } from "../../lib/egress/egress-guard.ts";

/** The ranges a local provider may sit in when the operator allows them. */
const LOCAL_RANGES = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) =>
  ipaddr.parseCIDR(c),
);

/**
 * What `oidcAllowInsecureLocal` opens for one issuer: that issuer's own host and nothing else.
 * A literal address counts only as written in plain form inside the local ranges (an IPv4-mapped
 * or metadata address never does); a name is allowed as that name, which the egress guard never
 * lets reach cloud metadata or the unspecified address.
 */
function localAllowance(issuer: string): { cidrs?: string[]; hosts?: string[] } {
  let host: string;
  try {
    host = new URL(issuer).hostname;
  } catch {
    return {};
  }
  const literal = parseIpLiteral(host);
  if (!literal) return { hosts: [host] };
  if (literal.kind() === "ipv6" && (literal as ipaddr.IPv6).isIPv4MappedAddress()) return {};
  const local = LOCAL_RANGES.some(([net, bits]) => net.kind() === literal.kind() && literal.match(net, bits));
  if (!local) return {};
  return { cidrs: [`${literal.toString()}/${literal.kind() === "ipv4" ? 32 : 128}`] };
}

/**
 * The egress guard for one tenant's OIDC provider: public addresses only, plus, when the operator
 * allows local providers, the issuer's own host (see `localAllowance`). Every request the server
 * makes to a provider goes through one: the verifier's discovery and JWKS, the console's discovery
 * and token exchange.
 */
export function oidcEgressGuard(
  issuer: string,
  opts: { allowLocal: boolean; timeoutMs?: number },
): EgressGuard {
  return createEgressGuard({
    timeoutMs: opts.timeoutMs ?? 5000,
    maxResponseBytes: 256 * 1024,
    allow: opts.allowLocal ? localAllowance(issuer) : {},
  });
}

/**
 * A `fetch` for one tenant's OIDC verifier that goes through the egress guard: the issuer (and an
 * explicitly configured JWKS URL) are tenant-supplied, so they may not reach loopback, private or
 * metadata addresses. When the operator allows local providers (`oidcAllowInsecureLocal`), the
 * allowance covers the issuer's own host only, never any other local address: a discovery document
 * cannot point us at `https://127.0.0.2` or `https://[::ffff:127.0.0.2]`. Redirects are not followed.
 *
 * @example
 * const fetchFor = oidcFetch({ allowLocal: config.oidcAllowInsecureLocal });
 * createOidcVerifier({ config, clock, fetch: fetchFor(config.issuer) });
 */
export function oidcFetch(opts: {
  allowLocal: boolean;
  timeoutMs?: number;
}): (issuer: string) => typeof fetch {
  return (issuer) => {
    const guard = oidcEgressGuard(issuer, opts);
    const guarded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = typeof input === "string" || input instanceof URL ? input : input.url;
      const headers: Record<string, string> = {};
      for (const [k, v] of new Headers(init?.headers).entries()) headers[k] = v;
      const result = await guard.fetch(url, { method: "GET", headers });
      if (!result.ok) throw new Error(`egress refused: ${result.reason}`);
      const status = result.status >= 200 && result.status <= 599 ? result.status : 502;
      const body = [204, 205, 304].includes(status) ? null : new Uint8Array(result.body);
      return new Response(body, { status });
    };
    return guarded as typeof fetch;
  };
}
