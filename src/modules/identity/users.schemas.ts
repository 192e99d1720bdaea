import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { ROLES, type Role } from "../../platform/auth/actor.ts";
import { PASSWORD_MAX_LENGTH } from "./passwords.ts";

export const userIdSchema = z.string().regex(idPattern("user"), "a user id (usr_…)");
export const emailSchema = z
  .string()
  .min(3)
  .max(254)
  .regex(/^[^\s@<>"]{1,64}@[^\s@<>"]{1,189}\.[^\s@<>"]{1,63}$/, "an email address")
  .transform((e) => e.toLowerCase());
const roleList = z.array(z.enum(ROLES)).min(1).max(ROLES.length);
/** Checked against the policy (length, not one repeated character) by the service. */
const passwordSchema = z
  .string()
  .min(1)
  .max(PASSWORD_MAX_LENGTH * 4);

export const createUserBody = z
  .object({ email: emailSchema, password: passwordSchema.optional(), roles: roleList })
  .strict();
export type CreateUserInput = z.infer<typeof createUserBody>;

export const updateUserBody = z
  .object({
    roles: roleList.optional(),
    status: z.enum(["active", "disabled"]).optional(),
    password: passwordSchema.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "nothing to change");
export type UpdateUserInput = z.infer<typeof updateUserBody>;

/** What the API shows of a user: never the password hash. */
export const userSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  email: z.string(),
  roles: z.array(z.enum(ROLES)),
  status: z.enum(["active", "disabled"]),
  sign_in: z.enum(["password", "oidc", "password+oidc", "none"]),
  locked_until: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  last_login_at: z.string().nullable(),
});
export type User = z.infer<typeof userSchema>;

export type UserRow = {
  id: string;
  tenant_id: string;
  email: string;
  password_hash: string | null;
  roles: string;
  status: "active" | "disabled";
  oidc_subject: string | null;
  locked_until: number | null;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
  /** When the person's sessions were last ended, to the second (access tokens issued before are refused). */
  sessions_ended_at?: number | null;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const rolesOf = (row: UserRow): Role[] =>
  (JSON.parse(row.roles) as string[]).filter((r): r is Role => (ROLES as readonly string[]).includes(r));

export const toUser = (row: UserRow): User => ({
  id: row.id,
  tenant_id: row.tenant_id,
  email: row.email,
  roles: rolesOf(row),
  status: row.status,
  sign_in:
    row.password_hash && row.oidc_subject
      ? "password+oidc"
      : row.password_hash
        ? "password"
        : row.oidc_subject
          ? "oidc"
          : "none",
  locked_until: iso(row.locked_until),
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
  last_login_at: iso(row.last_login_at),
});
