import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import type { EgressGuard } from "../../lib/egress/egress-guard.ts";
import { AppError } from "../../lib/errors.ts";
import { isId } from "../../lib/ids.ts";
import { constantTimeEqual } from "../../lib/secrets.ts";
import type { RequestOrigin } from "../../platform/auth/actor.ts";
import type { AuthService, IssuedSession } from "../identity/auth.service.ts";

const FLOW_MS = 10 * 60_000;
const MAX_FLOWS = 10_000;
const random = () => randomBytes(32).toString("base64url");

type Flow = {
  tenantId: string;
  binding: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  tokenEndpoint: string;
  clientId: string;
  next: string;
  expires: number;
};

/**
 * OIDC sign-in for the console: the authorization-code flow with PKCE (S256), `state` and `nonce`.
 * The browser visits the provider; the server fetches discovery and redeems the code through the
 * egress guard, checks the ID token's nonce, and hands the token to the identity module's OIDC
 * sign-in (which verifies signature, issuer, audience and expiry and maps roles). `state` is bound to
 * a cookie of the browser that started the flow, so a code cannot be planted in another browser.
 */
export function createOidcSignIn(deps: {
  clock: Clock;
  auth: Pick<AuthService, "oidcClient" | "oidcLogin">;
  egress: EgressGuard;
}) {
  const flows = new Map<string, Flow>();

  async function getJson(
    url: string,
    init?: { method: string; body: string },
  ): Promise<Record<string, unknown>> {
    const res = await deps.egress.fetch(url, {
      method: init?.method ?? "GET",
      headers: {
        accept: "application/json",
        ...(init ? { "content-type": "application/x-www-form-urlencoded" } : {}),
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

  const httpUrl = (v: unknown): string | null =>
    typeof v === "string" && /^https?:\/\/[^\s]+$/.test(v) && v.length <= 2000 ? v : null;

  return {
    /** Starts a flow: the provider URL to send the browser to, and the binding for its cookie. */
    async start(
      tenantId: string,
      redirectUri: string,
      next: string,
    ): Promise<{ url: string; binding: string }> {
      const client = isId("tenant", tenantId) ? await deps.auth.oidcClient(tenantId) : null;
      if (!client) throw new AppError("NOT_FOUND", "this tenant has no OIDC sign-in");
      const discovery = await getJson(`${client.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
      const authorize = httpUrl(discovery.authorization_endpoint);
      const token = httpUrl(discovery.token_endpoint);
      if (!authorize || !token)
        throw new AppError("INVALID_CREDENTIALS", "the provider's discovery lacks endpoints");
      const now = deps.clock.now();
      if (flows.size >= MAX_FLOWS) {
        for (const [k, f] of flows) if (f.expires <= now) flows.delete(k);
        if (flows.size >= MAX_FLOWS) throw new AppError("RATE_LIMITED", "too many sign-ins in progress");
      }
      const state = random();
      const flow: Flow = {
        tenantId,
        binding: random(),
        nonce: random(),
        verifier: random(),
        redirectUri,
        tokenEndpoint: token,
        clientId: client.clientId,
        next,
        expires: now + FLOW_MS,
      };
      flows.set(state, flow);
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
      const flow = flows.get(state);
      flows.delete(state);
      if (!flow || flow.expires <= deps.clock.now()) {
        throw new AppError("INVALID_CREDENTIALS", "this sign-in expired or was already used: start again");
      }
      if (binding === null || !constantTimeEqual(binding, flow.binding)) {
        throw new AppError("FORBIDDEN", "this sign-in was started in another browser");
      }
      const tokens = await getJson(flow.tokenEndpoint, {
        method: "POST",
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
