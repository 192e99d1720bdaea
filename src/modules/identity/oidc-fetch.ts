import { createEgressGuard } from "../../lib/egress/egress-guard.ts";

/**
 * A `fetch` for the OIDC verifier that goes through the egress guard: the issuer and JWKS URLs are
 * tenant-supplied, so they may not reach loopback, private or metadata addresses unless the operator
 * allowed local providers (`oidcAllowInsecureLocal`). Redirects are not followed.
 */
export function oidcFetch(opts: { allowLocal: boolean; timeoutMs?: number }): typeof fetch {
  const guard = createEgressGuard({
    timeoutMs: opts.timeoutMs ?? 5000,
    maxResponseBytes: 256 * 1024,
    allow: opts.allowLocal
      ? { cidrs: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] }
      : {},
  });
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
}
