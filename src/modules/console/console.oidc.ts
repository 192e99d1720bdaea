import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import type { EgressGuard } from "../../lib/egress/egress-guard.ts";
import { AppError } from "../../lib/errors.ts";
import { isId } from "../../lib/ids.ts";
import { constantTimeEqual } from "../../lib/secrets.ts";
import type { RequestOrigin } from "../../platform/auth/actor.ts";
import type { AuthService, IssuedSession } from "../identity/auth.service.ts";
import { createCeremonies } from "./console.ceremonies.ts";

const FLOW_MS = 10 * 60_000;
const MAX_FLOWS = 10_000;
const random = () => randomBytes(32).toString("base64url");

type Flow = {
  tenantId: string;
  issuer: string;
  binding: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  tokenEndpoint: string;
  clientId: string;
  next: string;
};

/**
 * The identity verifier's rule for a provider URL (`oidc.ts`): https, or plain http to a loopback
 * host only when the operator allows local providers; never with credentials in it.
 */
function providerUrl(value: unknown, allowLoopbackHttp: boolean): URL | null {
  if (typeof value !== "string" || value.length > 2000) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username !== "" || url.password !== "") return null;
  if (url.protocol === "https:") return url;
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  return allowLoopbackHttp && url.protocol === "http:" && loopback ? url : null;
}

/**
 * OIDC sign-in for the console: the authorization-code flow with PKCE (S256), `state` and `nonce`.
 * The browser visits the provider; the server fetches discovery and redeems the code, checks the ID
 * token's nonce, and hands the token to the identity module's OIDC sign-in (which verifies
 * signature, issuer, audience and expiry and maps roles). `state` is bound to a cookie of the
 * browser that started the flow, so a code cannot be planted in another browser.
 *
 * The provider is held to the identity module's policy: every request goes through its egress
 * guard for this issuer (`oidcEgressGuard`: with `oidcAllowInsecureLocal`, the issuer's own host
 * and no other local address), discovery must name this issuer, and the code is redeemed only at the
 * token endpoint the tenant configured or, without one, at discovery's on the issuer's origin (as
 * `jwks_uri` must be), so a discovery document cannot send the code, the PKCE verifier or a request
 * anywhere else. A confidential client's secret (sealed in the tenant's vault) is sent with the
 * code only, as HTTP Basic authentication. Flows in progress are capped per client address
 * (`createCeremonies`).
 */
export function createOidcSignIn(deps: {
  clock: Clock;
  auth: Pick<AuthService, "oidcClient" | "oidcLogin">;
  /** The egress guard for one issuer: the identity module's `oidcEgressGuard`. */
  egressFor: (issuer: string) => EgressGuard;
  /** `oidcAllowInsecureLocal`: plain http to a loopback issuer is allowed. */
  allowLoopbackHttp: boolean;
  /** Flows one client address may have in progress (the sign-in allowance per address). */
  maxPerClient: number;
}) {
  const flows = createCeremonies<Flow>(deps.clock, {
    ttlMs: FLOW_MS,
    max: MAX_FLOWS,
    maxPerClient: deps.maxPerClient,
  });

  async function getJson(
    issuer: string,
    url: string,
    init?: { method: string; body: string; authorization?: string },
  ): Promise<Record<string, unknown>> {
    const res = await deps.egressFor(issuer).fetch(url, {
      method: init?.method ?? "GET",
      headers: {
        accept: "application/json",
        ...(init ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        ...(init?.authorization ? { authorization: init.authorization } : {}),
      },
      ...(init ? { body: init.body } : {}),
    });
    if (!res.ok)
      throw new AppError("INVALID_CREDENTIALS", `the identity provider cannot be reached (${res.reason})`);
    if (res.status !== 200)
      throw new AppError("INVALID_CREDENTIALS", `the identity provider answered ${res.status}`);
    try {
      const parsed = JSON.parse(res.body.toString("utf8")) as unknown;
      if (typeof parsed === "object" && parsed !== null) return parsed as Record<string, unknown>;
    } catch {
      // falls through
    }
    throw new AppError("INVALID_CREDENTIALS", "the identity provider answered something else than JSON");
  }

  const own = (document: Record<string, unknown>, key: string): unknown =>
    Object.hasOwn(document, key) ? document[key] : undefined;

  return {
    /** Starts a flow: the provider URL to send the browser to, and the binding for its cookie. */
    async start(
      tenantId: string,
      redirectUri: string,
      next: string,
      origin: RequestOrigin,
    ): Promise<{ url: string; binding: string }> {
      // Refused before anything is looked up or fetched: a client over its cap costs nothing.
      flows.admit(origin.ip);
      const client = isId("tenant", tenantId) ? await deps.auth.oidcClient(tenantId) : null;
      if (!client) throw new AppError("NOT_FOUND", "this tenant has no OIDC sign-in");
      const issuer = providerUrl(client.issuer, deps.allowLoopbackHttp);
      if (!issuer) throw new AppError("INVALID_CREDENTIALS", "the provider's issuer URL is not allowed");
      const discovery = await getJson(
        client.issuer,
        `${client.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
      );
      if (own(discovery, "issuer") !== client.issuer)
        throw new AppError("INVALID_CREDENTIALS", "the provider's discovery names another issuer");
      const authorize = providerUrl(own(discovery, "authorization_endpoint"), deps.allowLoopbackHttp);
      // The configured endpoint is trusted as given (as a configured `jwks_uri` is); discovery's only
      // on the issuer's origin.
      const token = providerUrl(
        client.tokenEndpoint ?? own(discovery, "token_endpoint"),
        deps.allowLoopbackHttp,
      );
      if (client.tokenEndpoint !== null && !token)
        throw new AppError(
          "INVALID_CREDENTIALS",
          "the configured token_endpoint is not allowed (https, or http on loopback with oidcAllowInsecureLocal)",
        );
      if (!authorize || !token)
        throw new AppError("INVALID_CREDENTIALS", "the provider's discovery lacks endpoints");
      if (client.tokenEndpoint === null && token.origin !== issuer.origin)
        throw new AppError(
          "INVALID_CREDENTIALS",
          "the provider's token endpoint is not on the issuer's origin: set token_endpoint in the tenant's OIDC configuration",
        );
      const state = random();
      const flow: Flow = {
        tenantId,
        issuer: client.issuer,
        binding: random(),
        nonce: random(),
        verifier: random(),
        redirectUri,
        tokenEndpoint: token.toString(),
        clientId: client.clientId,
        next,
      };
      flows.put(state, origin.ip, flow);
      const url = new URL(authorize);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: client.clientId,
        redirect_uri: redirectUri,
        scope: "openid email profile",
        state,
        nonce: flow.nonce,
        code_challenge: createHash("sha256").update(flow.verifier).digest("base64url"),
        code_challenge_method: "S256",
      }).toString();
      return { url: url.toString(), binding: flow.binding };
    },

    /** Finishes a flow: redeems the code, checks the nonce, signs the person in. Each state works once. */
    async finish(
      state: string,
      code: string,
      binding: string | null,
      origin: RequestOrigin,
    ): Promise<{ issued: IssuedSession; next: string }> {
      const flow = flows.take(state);
      if (!flow) {
        throw new AppError("INVALID_CREDENTIALS", "this sign-in expired or was already used: start again");
      }
      if (binding === null || !constantTimeEqual(binding, flow.binding)) {
        throw new AppError("FORBIDDEN", "this sign-in was started in another browser");
      }
      // The secret is read for this exchange only (never held with the flow).
      const client = await deps.auth.oidcClient(flow.tenantId);
      if (!client || client.issuer !== flow.issuer || client.clientId !== flow.clientId)
        throw new AppError("INVALID_CREDENTIALS", "the tenant's sign-in changed meanwhile: start again");
      // RFC 6749 §2.3.1: each part form-encoded, then HTTP Basic.
      const basic = (v: string) => new URLSearchParams({ v }).toString().slice(2);
      const tokens = await getJson(flow.issuer, flow.tokenEndpoint, {
        method: "POST",
        ...(client.clientSecret !== null
          ? {
              authorization: `Basic ${Buffer.from(`${basic(client.clientId)}:${basic(client.clientSecret)}`).toString("base64")}`,
            }
          : {}),
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: flow.redirectUri,
          client_id: flow.clientId,
          code_verifier: flow.verifier,
        }).toString(),
      });
      const idToken = typeof tokens.id_token === "string" ? tokens.id_token : null;
      if (!idToken || idToken.length > 16_384)
        throw new AppError("INVALID_CREDENTIALS", "the provider sent no ID token");
      // The nonce is read from the same token the identity module then verifies in full.
      let nonce: unknown;
      try {
        nonce = (
          JSON.parse(Buffer.from(idToken.split(".")[1] ?? "", "base64url").toString("utf8")) as {
            nonce?: unknown;
          }
        ).nonce;
      } catch {
        nonce = undefined;
      }
      if (typeof nonce !== "string" || !constantTimeEqual(nonce, flow.nonce)) {
        throw new AppError("INVALID_CREDENTIALS", "the ID token does not answer this sign-in (nonce)");
      }
      return { issued: await deps.auth.oidcLogin(flow.tenantId, idToken, origin), next: flow.next };
    },
  };
}

export type OidcSignIn = ReturnType<typeof createOidcSignIn>;
