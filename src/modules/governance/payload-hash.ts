import { createHash } from "node:crypto";

/** JSON with object keys sorted at every depth, so equal values always serialise equally. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export type GovernedCall = {
  method: string;
  /** The route pattern (`/v1/memories/:id`), not the raw URL. */
  route: string;
  params: unknown;
  query: unknown;
  body: unknown;
  /** `key:<id>` or `user:<id>`: an approval is bound to the credential that asked for it. */
  requester: string;
};

/**
 * SHA-256 over the canonical form of exactly what would run: method, route, parameters, query,
 * body (as validated, defaults applied) and the requester. An approval holds this hash; a retry
 * whose hash differs is a different action.
 */
export function payloadHash(call: GovernedCall): string {
  return createHash("sha256")
    .update(
      canonicalJson({
        method: call.method.toUpperCase(),
        route: call.route,
        params: call.params ?? null,
        query: call.query ?? null,
        body: call.body ?? null,
        requester: call.requester,
      }),
    )
    .digest("hex");
}
