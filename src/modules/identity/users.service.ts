import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { type Actor, authorize, authorizeTenantPath, type Role } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import { identityStore } from "./identity.store.ts";
import { checkPasswordPolicy, hashPassword } from "./passwords.ts";
import {
  type CreateUserInput,
  toUser,
  type UpdateUserInput,
  type User,
  type UserRow,
} from "./users.schemas.ts";

async function policyError(password: string, email: string): Promise<AppError | null> {
  const policy = await checkPasswordPolicy(password, { userInputs: [email] });
  if (policy.ok) return null;
  const code = policy.reason === "TOO_COMMON" ? "PASSWORD_TOO_COMMON" : "VALIDATION_FAILED";
  return new AppError(code, `password ${policy.message}`, {
    details: [{ path: "body.password", message: policy.message }],
  });
}

const sortedRoles = (roles: readonly Role[]) => JSON.stringify([...new Set(roles)].sort());

/** People of a tenant: email, argon2id password hash, roles (stored server-side), status. */
export function createUsersService(deps: {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  audit: AuditSink;
}) {
  const { storage, clock, tenants, audit } = deps;

  return {
    async create(actor: Actor, tenantId: string, input: CreateUserInput): Promise<User> {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "users:create");
      await tenants.requireActive(tenantId);
      if (input.password !== undefined) {
        const err = await policyError(input.password, input.email);
        if (err) throw err;
      }
      // Hashing is slow: done before the transaction opens.
      const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
      const now = clock.now();
      const row: UserRow = {
        id: newId("user", now),
        tenant_id: tenantId,
        email: input.email,
        password_hash: passwordHash,
        roles: sortedRoles(input.roles),
        status: "active",
        oidc_subject: null,
        locked_until: null,
        created_at: now,
        updated_at: now,
        last_login_at: null,
      };
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        if (await identityStore.userByEmail(tx, tenantId, row.email)) {
          throw new AppError("CONFLICT", "a user with that email exists");
        }
        await identityStore.insertUser(tx, row);
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: "user.created",
            targetIds: [row.id],
            origin: actor.origin,
            details: { roles: input.roles },
          },
          now,
        );
      });
      return toUser(row);
    },

    async list(actor: Actor, tenantId: string, page: { after?: string | undefined; limit: number }) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "users:read");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const rows = await identityStore.listUsers(db, tenantId, page.after ?? "", page.limit + 1);
      const items = rows.slice(0, page.limit).map(toUser);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async get(actor: Actor, tenantId: string, userId: string): Promise<User> {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "users:read");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const row = await identityStore.userById(db, tenantId, userId);
      if (!row) throw new AppError("NOT_FOUND", "user not found");
      return toUser(row);
    },

    /**
     * Signs a person out everywhere: every refresh token revoked and every access token issued
     * before now refused at once (`endUserSessions`), audited with how many sessions were live.
     */
    async endSessions(actor: Actor, tenantId: string, userId: string): Promise<{ ended: number }> {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "users:update");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      return db.transaction(async (tx) => {
        if (!(await identityStore.userById(tx, tenantId, userId)))
          throw new AppError("NOT_FOUND", "user not found");
        const ended = await identityStore.endUserSessions(tx, tenantId, userId, now);
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: "user.sessions_ended",
            targetIds: [userId],
            origin: actor.origin,
            details: { sessions: ended },
          },
          now,
        );
        return { ended };
      });
    },

    /** Changes roles, status or password. Disabling or a new password ends every session at once. */
    async update(actor: Actor, tenantId: string, userId: string, input: UpdateUserInput): Promise<User> {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "users:update");
      await tenants.requireActive(tenantId);
      if (input.password !== undefined) {
        // The policy reads the account's email (a password built from it is refused).
        const current = await identityStore.userById(await storage.tenant(tenantId), tenantId, userId);
        if (!current) throw new AppError("NOT_FOUND", "user not found");
        const err = await policyError(input.password, current.email);
        if (err) throw err;
      }
      if (actor.type === "user" && actor.id === userId && (input.status === "disabled" || input.roles)) {
        throw new AppError("FORBIDDEN", "you cannot disable yourself or change your own roles");
      }
      const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      return db.transaction(async (tx) => {
        const existing = await identityStore.userById(tx, tenantId, userId);
        if (!existing) throw new AppError("NOT_FOUND", "user not found");
        const set: Parameters<typeof identityStore.updateUser>[3] = {};
        if (input.roles) set.roles = sortedRoles(input.roles);
        if (input.status) set.status = input.status;
        if (passwordHash !== undefined) set.password_hash = passwordHash;
        if (input.status === "active" || passwordHash !== undefined) set.locked_until = null;
        await identityStore.updateUser(tx, tenantId, userId, set, now);
        if (input.status === "disabled" || passwordHash !== undefined) {
          await identityStore.endUserSessions(tx, tenantId, userId, now);
        }
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: "user.updated",
            targetIds: [userId],
            origin: actor.origin,
            details: {
              ...(input.roles ? { roles: input.roles } : {}),
              ...(input.status ? { status: input.status } : {}),
              ...(passwordHash !== undefined ? { password_changed: true } : {}),
            },
          },
          now,
        );
        return toUser((await identityStore.userById(tx, tenantId, userId)) as UserRow);
      });
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
