import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import type { Actor } from "../auth/actor.ts";

/** The authenticated caller of a route whose policy requires credentials. */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw new AppError("UNAUTHENTICATED", "credentials required");
  return req.actor;
}

export const errorEnvelope = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    verdict: z.unknown().optional(),
    /** On 429 RATE_LIMITED: which limit refused (`key_rate_plan`, `anomaly_cap`, `sign_in_per_address`). */
    limit: z
      .object({
        name: z.enum(["key_rate_plan", "anomaly_cap", "sign_in_per_address"]),
        limit: z.number().int(),
        window_seconds: z.number().int(),
      })
      .optional(),
  }),
});

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_.:-]+$/)
    .optional(),
});

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const authErrors = {
  401: errorEnvelope,
  403: errorEnvelope,
  404: errorEnvelope,
  422: errorEnvelope,
  429: errorEnvelope,
} as const;
