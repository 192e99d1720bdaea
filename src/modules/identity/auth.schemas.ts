import { z } from "zod";
import { ROLES } from "../../platform/auth/actor.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import { roleClaimSchema } from "./oidc.ts";
import { MAX_JWS_LENGTH } from "./tokens.ts";
import { emailSchema } from "./users.schemas.ts";

export const loginBody = z
  .object({ tenant_id: tenantIdSchema, email: emailSchema, password: z.string().min(1).max(1024) })
  .strict();
export type LoginInput = z.infer<typeof loginBody>;

export const oidcLoginBody = z
  .object({ tenant_id: tenantIdSchema, id_token: z.string().min(16).max(MAX_JWS_LENGTH) })
  .strict();

/** A session: the access token in the body, the refresh token only in its HttpOnly cookie. */
export const sessionSchema = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
  /** Send it back as X-CSRF-Token with refresh and logout (also in the hypha_csrf cookie). */
  csrf_token: z.string().optional(),
  user: z.object({ id: z.string(), email: z.string(), roles: z.array(z.enum(ROLES)) }),
});
export type Session = z.infer<typeof sessionSchema>;

/** A tenant's OIDC configuration as the API takes and shows it. */
export const oidcConfigBody = z
  .object({
    issuer: z.url().max(512),
    /**
     * Where the signing keys are. Unset: the discovery document's `jwks_uri`, which must then be on
     * the issuer's origin. Set it for a provider that publishes keys elsewhere (Google).
     */
    jwks_uri: z
      .url({ protocol: /^https?$/ })
      .max(512)
      .optional(),
    client_id: z.string().min(1).max(256),
    /**
     * Where the console redeems its sign-in codes. Unset: the discovery document's
     * `token_endpoint`, which must then be on the issuer's origin. Set it for a provider whose token
     * endpoint is elsewhere (Google: `https://oauth2.googleapis.com/token`).
     */
    token_endpoint: z
      .url({ protocol: /^https?$/ })
      .max(512)
      .optional(),
    /**
     * The client's secret, for a provider that redeems codes only for confidential clients (Google's
     * web clients). Write-only: stored sealed, never returned (`client_secret_configured` says
     * whether one is set). Omitted on a later PUT for the same issuer and client: the stored one is
     * kept; `null` removes it.
     */
    client_secret: z.string().min(8).max(512).nullable().optional(),
    audience: z.string().min(1).max(256).optional(),
    role_mapping: z
      .object({
        claim: roleClaimSchema,
        map: z
          .record(z.string().min(1).max(256), z.enum(ROLES))
          .refine((m) => Object.keys(m).length <= 100, "at most 100 mapped values"),
      })
      .strict(),
    default_role: z.enum(ROLES).nullable().optional(),
    /** Create users on first sign-in (true) or only sign in users that exist (false). */
    auto_provision: z.boolean().default(true),
  })
  .strict();
export type OidcConfigInput = z.infer<typeof oidcConfigBody>;
export const oidcConfigSchema = oidcConfigBody
  .omit({ client_secret: true })
  .extend({ client_secret_configured: z.boolean(), updated_at: z.string() });
export type OidcConfigView = z.infer<typeof oidcConfigSchema>;

export const jwtRotatedSchema = z.object({ version: z.string(), rotated_at: z.string() });
