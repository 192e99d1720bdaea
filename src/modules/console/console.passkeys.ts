import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { isId } from "../../lib/ids.ts";
import { authorize, type RequestOrigin, type UserActor } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { AuthService, IssuedSession } from "../identity/auth.service.ts";
import { createCeremonies } from "./console.ceremonies.ts";
import { consoleStore } from "./console.store.ts";

/** The relying party: this server as the browser sees it (`rpID` is its host name). */
export type RelyingParty = { id: string; origin: string };

const CEREMONY_MS = 5 * 60_000;
/** Loaded on first use: the CLI and servers that never see a passkey do not pay for it at start. */
const webauthn = () => import("@simplewebauthn/server");
const MAX_CEREMONIES = 10_000;

/**
 * Passkeys (WebAuthn) for the console: a signed-in person registers one, then signs in with it
 * alone (a discoverable credential; the tenant id names where to look it up). Challenges live in
 * memory for five minutes and are spent by their first use; one client address holds at most
 * `maxPerClient` of them at a time (see `createCeremonies`).
 */
export function createPasskeys(deps: {
  storage: Storage;
  clock: Clock;
  audit: AuditSink;
  auth: Pick<AuthService, "passkeyLogin">;
  /** Throws unless the tenant exists and is active (no vault is opened for an unknown tenant). */
  requireTenant: (tenantId: string) => Promise<unknown>;
  /** Ceremonies one client address may have in progress (the sign-in allowance per address). */
  maxPerClient: number;
}) {
  const { storage, clock } = deps;
  const ceremonies = createCeremonies<string>(clock, {
    ttlMs: CEREMONY_MS,
    max: MAX_CEREMONIES,
    maxPerClient: deps.maxPerClient,
  });

  function spend(key: string): string {
    const challenge = ceremonies.take(key);
    if (challenge === null)
      throw new AppError("INVALID_CREDENTIALS", "the passkey ceremony expired: try again");
    return challenge;
  }

  return {
    async list(actor: UserActor) {
      authorize(actor, "passkeys:manage");
      const db = await storage.tenant(actor.tenantId);
      return (await consoleStore.passkeysOf(db, actor.id)).map((r) => ({
        id: r.id,
        created_at: new Date(r.created_at).toISOString(),
        last_used_at: r.last_used_at === null ? null : new Date(r.last_used_at).toISOString(),
      }));
    },

    async registrationOptions(actor: UserActor, rp: RelyingParty) {
      authorize(actor, "passkeys:manage");
      const db = await storage.tenant(actor.tenantId);
      const existing = await consoleStore.passkeysOf(db, actor.id);
      const options = await (await webauthn()).generateRegistrationOptions({
        rpName: "Hypha console",
        rpID: rp.id,
        userName: actor.email,
        userID: new TextEncoder().encode(actor.id),
        attestationType: "none",
        excludeCredentials: existing.map((p) => ({ id: p.id })),
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
      });
      ceremonies.put(`reg:${actor.tenantId}:${actor.id}`, actor.origin.ip, options.challenge);
      return options;
    },

    async register(actor: UserActor, rp: RelyingParty, response: RegistrationResponseJSON) {
      authorize(actor, "passkeys:manage");
      const expectedChallenge = spend(`reg:${actor.tenantId}:${actor.id}`);
      let verified: Awaited<ReturnType<Awaited<ReturnType<typeof webauthn>>["verifyRegistrationResponse"]>>;
      try {
        verified = await (await webauthn()).verifyRegistrationResponse({
          response,
          expectedChallenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: true,
        });
      } catch {
        throw new AppError("VALIDATION_FAILED", "the passkey could not be verified");
      }
      if (!verified.verified) throw new AppError("VALIDATION_FAILED", "the passkey could not be verified");
      const { credential } = verified.registrationInfo;
      const db = await storage.tenant(actor.tenantId);
      const now = clock.now();
      await db.transaction(async (tx) => {
        await consoleStore.insertPasskey(tx, {
          id: credential.id,
          user_id: actor.id,
          public_key: credential.publicKey,
          counter: credential.counter,
          transports: credential.transports ? JSON.stringify(credential.transports) : null,
          created_at: now,
          last_used_at: null,
        });
        await deps.audit(
          tx,
          {
            tenantId: actor.tenantId,
            actor,
            action: "passkey.registered",
            targetIds: [actor.id],
            origin: actor.origin,
          },
          now,
        );
      });
      return { id: credential.id };
    },

    async remove(actor: UserActor, id: string) {
      authorize(actor, "passkeys:manage");
      const db = await storage.tenant(actor.tenantId);
      const now = clock.now();
      const removed = await db.transaction(async (tx) => {
        const r = await consoleStore.removePasskey(tx, actor.id, id);
        if (r.changes === 0) return false;
        await deps.audit(
          tx,
          {
            tenantId: actor.tenantId,
            actor,
            action: "passkey.removed",
            targetIds: [actor.id],
            origin: actor.origin,
          },
          now,
        );
        return true;
      });
      if (!removed) throw new AppError("NOT_FOUND", "passkey not found");
    },

    /** How many passkeys each person of the caller's tenant has (the People page shows it). */
    async counts(actor: UserActor): Promise<Map<string, number>> {
      authorize(actor, "users:read");
      return consoleStore.passkeyCounts(await storage.tenant(actor.tenantId));
    },

    /**
     * Account recovery: removes every passkey of another person of the tenant (one an attacker may
     * have registered), audited with the count. The caller has checked the person is of the tenant.
     */
    async removeAllOf(actor: UserActor, userId: string): Promise<number> {
      authorize(actor, "users:update");
      const db = await storage.tenant(actor.tenantId);
      const now = clock.now();
      return db.transaction(async (tx) => {
        const { changes } = await consoleStore.removePasskeysOf(tx, userId);
        await deps.audit(
          tx,
          {
            tenantId: actor.tenantId,
            actor,
            action: "passkey.removed",
            targetIds: [userId],
            origin: actor.origin,
            details: { count: changes, all: true },
          },
          now,
        );
        return changes;
      });
    },

    /** Sign-in, step 1: a challenge for any passkey of this server (the browser offers its own). */
    async authenticationOptions(ceremony: string, rp: RelyingParty, origin: RequestOrigin) {
      const options = await (await webauthn()).generateAuthenticationOptions({
        rpID: rp.id,
        userVerification: "required",
      });
      ceremonies.put(`auth:${ceremony}`, origin.ip, options.challenge);
      return options;
    },

    /** Sign-in, step 2: the assertion names its credential; verified, the person gets a session. */
    async signIn(
      ceremony: string,
      tenantId: string,
      rp: RelyingParty,
      response: AuthenticationResponseJSON,
      origin: RequestOrigin,
    ): Promise<IssuedSession> {
      const expectedChallenge = spend(`auth:${ceremony}`);
      const invalid = () => new AppError("INVALID_CREDENTIALS", "this passkey is not known here");
      if (!isId("tenant", tenantId) || typeof response.id !== "string") throw invalid();
      try {
        await deps.requireTenant(tenantId);
      } catch {
        throw invalid();
      }
      const db = await storage.tenant(tenantId);
      const row = await consoleStore.passkey(db, response.id);
      if (!row) throw invalid();
      let verified: Awaited<ReturnType<Awaited<ReturnType<typeof webauthn>>["verifyAuthenticationResponse"]>>;
      try {
        verified = await (await webauthn()).verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: true,
          credential: {
            id: row.id,
            publicKey: new Uint8Array(row.public_key),
            counter: row.counter,
            ...(row.transports ? { transports: JSON.parse(row.transports) as string[] } : {}),
          },
        });
      } catch {
        throw invalid();
      }
      if (!verified.verified) throw invalid();
      const moved = await db.transaction((tx) =>
        consoleStore.usePasskey(tx, row.id, row.counter, verified.authenticationInfo.newCounter, clock.now()),
      );
      if (moved.changes === 0) throw invalid();
      return deps.auth.passkeyLogin(tenantId, row.user_id, origin);
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
