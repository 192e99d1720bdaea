import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { RISK_TIERS } from "../governance/governance.schemas.ts";

/** A credential name is one capability segment, so `credentials.use.<name>` names it exactly. */
export const credentialNameSchema = z
  .string()
  .regex(/^[a-z0-9_-]{1,64}$/, "lower-case letters, digits, _ or - (at most 64)");
export const credentialIdSchema = z.string().regex(idPattern("credential"), "a credential id (crd_…)");

/**
 * Where a credential may be sent: `[http://|https://]host[:port|:*]`, `host` optionally `*.` for
 * every subdomain (never the bare domain). Without a scheme only https; without a port only the
 * scheme's default port. Plain http must be written out (a local service), since it exposes the secret.
 */
export const HOST_PATTERN_RE =
  /^(?:(https?):\/\/)?(\*\.)?([a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9](?:[a-z0-9-]{0,62}))*|\[[0-9a-f:]{2,39}\])(?::(\*|[1-9][0-9]{0,4}))?$/;
export const hostPatternSchema = z
  .string()
  .max(300)
  .toLowerCase()
  .regex(HOST_PATTERN_RE, "a host pattern such as api.github.com, *.slack.com or http://127.0.0.1:8080");

const headerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, "an HTTP header name")
  .refine((n) => !["host", "content-length", "transfer-encoding", "connection"].includes(n.toLowerCase()), {
    message: "this header cannot carry a credential",
  });

export const PATH_PLACEHOLDER = "{{credential}}";

/** How the secret is put into the request. */
export const injectionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("bearer") }).strict(),
  z
    .object({ type: z.literal("header"), name: headerNameSchema, prefix: z.string().max(50).optional() })
    .strict(),
  z
    .object({
      type: z.literal("basic"),
      username: z
        .string()
        .min(1)
        .max(200)
        .regex(/^[^:\r\n]+$/),
    })
    .strict(),
  z.object({ type: z.literal("query"), param: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/) }).strict(),
  z.object({ type: z.literal("path") }).strict(),
]);
export type Injection = z.infer<typeof injectionSchema>;

const httpsUrl = z.url({ protocol: /^https?$/ }).max(2000);

/** The non-secret part of an OAuth 2.0 (authorization code + PKCE) credential. */
export const oauthConfigSchema = z
  .object({
    authorize_url: httpsUrl,
    token_url: httpsUrl,
    revoke_url: httpsUrl.optional(),
    client_id: z.string().min(1).max(500),
    scopes: z
      .array(z.string().regex(/^[\x21-\x7e]{1,200}$/))
      .max(50)
      .default([]),
    redirect_uri: httpsUrl,
  })
  .strict();
export type OAuthConfig = z.infer<typeof oauthConfigSchema>;

const secretValue = z
  .string()
  .min(8, "at least 8 characters")
  .max(8192)
  .regex(/^[^\s\p{Cc}]+$/u, "printable characters without spaces");

export const createCredentialBody = z
  .object({
    name: credentialNameSchema,
    service: z.string().regex(/^[a-z0-9_.-]{1,64}$/, "a service name such as github"),
    label: z.string().max(200).optional(),
    allowed_hosts: z.array(hostPatternSchema).min(1).max(20),
    injection: injectionSchema,
    risk_tier: z.enum(RISK_TIERS).default("medium"),
    expires_at: z.iso.datetime().optional(),
    /** The secret (static credentials); sealed at once, never returned. */
    secret: secretValue.optional(),
    /** OAuth credentials: the provider and the client secret (sealed); tokens come from a grant. */
    oauth: oauthConfigSchema.extend({ client_secret: secretValue.optional() }).strict().optional(),
  })
  .strict()
  .refine((c) => (c.secret === undefined) !== (c.oauth === undefined), {
    message: "give exactly one of secret (a static credential) or oauth (an OAuth 2.0 credential)",
    path: ["secret"],
  })
  .refine((c) => c.oauth === undefined || c.injection.type === "bearer" || c.injection.type === "header", {
    message: "an OAuth credential is injected as a bearer token or a named header",
    path: ["injection"],
  });
export type CreateCredentialInput = z.infer<typeof createCredentialBody>;

export const rotateCredentialBody = z.object({ secret: secretValue }).strict();

export const credentialSchema = z.object({
  id: z.string(),
  name: z.string(),
  service: z.string(),
  label: z.string().nullable(),
  kind: z.enum(["static", "oauth2"]),
  allowed_hosts: z.array(z.string()),
  injection: injectionSchema,
  risk_tier: z.enum(RISK_TIERS),
  created_at: z.string(),
  rotated_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  oauth: z
    .object({
      connected: z.boolean(),
      token_expires_at: z.string().nullable(),
      scopes: z.array(z.string()),
      provider: z.string(),
    })
    .nullable(),
});
export type Credential = z.infer<typeof credentialSchema>;

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;
/** Largest request body an agent may send through the proxy, in bytes of UTF-8. */
export const MAX_PROXY_BODY_BYTES = 256 * 1024;

export const proxyRequestBody = z
  .object({
    credential: credentialNameSchema,
    method: z.enum(HTTP_METHODS),
    url: z.string().min(1).max(4000),
    headers: z
      .record(
        z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/),
        z
          .string()
          .max(8000)
          .regex(/^[^\r\n\0]*$/),
      )
      .refine((h) => Object.keys(h).length <= 50, "at most 50 headers")
      .optional(),
    body: z
      .string()
      .refine((b) => Buffer.byteLength(b) <= MAX_PROXY_BODY_BYTES, `at most ${MAX_PROXY_BODY_BYTES} bytes`)
      .optional(),
  })
  .strict();
export type ProxyRequest = z.infer<typeof proxyRequestBody>;

export const proxyResponseSchema = z.object({
  status: z.number().int(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
  body_encoding: z.enum(["utf8", "base64"]),
});
export type ProxyResponse = z.infer<typeof proxyResponseSchema>;

export const oauthStartResponse = z.object({ authorize_url: z.string(), expires_at: z.string() });
export const oauthCallbackBody = z
  .object({
    code: z.string().min(1).max(2000),
    state: z.string().min(1).max(1000),
  })
  .strict();
