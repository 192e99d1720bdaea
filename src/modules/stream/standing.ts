import { Readable } from "node:stream";
import type { FastifyRequest } from "fastify";
import { AppError } from "../../lib/errors.ts";
import { type Actor, authorize } from "../../platform/auth/actor.ts";
import { type CredentialVerifier, extractCredential, type TypedApp } from "../../platform/http/server.ts";
import type { AgentSubject } from "../governance/governance.service.ts";

/** How often a long-lived answer asks again whether its caller may still be answered. */
export const STANDING_CHECK_MS = 1_000;

export type Standing = { ok: true; actor: Actor } | { ok: false; error: AppError };

/** Asks again, for a request still being answered, what the chokepoint asked when it started. */
export type StandingCheck = (req: FastifyRequest) => Promise<Standing>;

/**
 * The chokepoint decides once, when a request starts; an answer that runs on (the live stream, an
 * NDJSON export) asks again with this: the credential still verifies (not revoked, expired or
 * disabled), still allows the route's action (a person's roles may have shrunk), and an agent is
 * neither frozen nor paused. The instance admin key cannot change while the process runs, and a
 * request authenticated by the session cookie (no header to verify again; no streamed route accepts
 * it) keeps the standing it started with.
 */
export function createStandingCheck(deps: {
  verifyCredential: CredentialVerifier;
  checkAgentAllowed: (subject: AgentSubject) => Promise<void>;
}): StandingCheck {
  return async (req) => {
    const actor = req.actor;
    if (!actor) return { ok: false, error: new AppError("UNAUTHENTICATED", "credentials required") };
    const presented = extractCredential(req);
    if (actor.type === "instance_admin" || presented === null || "error" in presented)
      return { ok: true, actor };
    const verified = await deps.verifyCredential(presented.secret, req.origin);
    if (!verified.ok) {
      return {
        ok: false,
        error: new AppError(verified.code, "this credential no longer admits the request"),
      };
    }
    const fresh = verified.actor;
    try {
      const policy = req.routeOptions.config.auth;
      if (policy && "action" in policy) authorize(fresh, policy.action);
      if (fresh.type === "agent") {
        await deps.checkAgentAllowed({ tenantId: fresh.tenantId, keyId: fresh.id, agent: fresh.agent });
      }
    } catch (err) {
      if (err instanceof AppError) return { ok: false, error: err };
      throw err;
    }
    return { ok: true, actor: fresh };
  };
}

/**
 * `source`, passed on while `check` keeps answering yes: asked before a chunk once `everyMs` have
 * passed since it last answered (or since the start). On a no, `source` is destroyed and the stream
 * fails with the refusal: before anything was sent the caller gets it as an error answer (423, 401),
 * after that the response is cut off, never ended as if complete.
 */
export function whileStanding(
  source: Readable,
  check: () => Promise<Standing>,
  everyMs: number,
  now: () => number = () => performance.now(),
): Readable {
  async function* guarded() {
    let checkedAt = now();
    try {
      for await (const chunk of source) {
        if (now() - checkedAt >= everyMs) {
          const standing = await check();
          if (!standing.ok) throw standing.error;
          checkedAt = now();
        }
        yield chunk;
      }
    } finally {
      source.destroy();
    }
  }
  return Readable.from(guarded(), { objectMode: source.readableObjectMode });
}

/**
 * Every streamed answer (a `Readable` body, such as the NDJSON export) to an authenticated caller
 * checks the caller's standing between chunks, so a freeze, a pause or a revocation stops an answer
 * already running, not only the next request.
 */
export function registerStandingHook(app: TypedApp, check: StandingCheck, everyMs: number): void {
  app.addHook("onSend", async (req, _reply, payload) => {
    if (!(payload instanceof Readable) || !req.actor || req.actor.type === "instance_admin") return payload;
    return whileStanding(payload, () => check(req), everyMs);
  });
}
