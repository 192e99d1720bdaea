import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { TestServer } from "./harness.ts";

type Vector = { secret: string; body: string; timestamp?: string; expected_header: Record<string, string> };

const vectors = (
  JSON.parse(
    readFileSync(
      resolve(import.meta.dirname, "../..", "shared/data/webhooks/webhook-signature-vectors.json"),
      "utf8",
    ),
  ) as { vectors: (Vector & { id: string })[] }
).vectors;

/** One published webhook signature vector (../shared/data/webhooks), by id. */
export function signatureVector(id: string): Vector {
  const v = vectors.find((x) => x.id === id);
  assert.ok(v, id);
  return v;
}

/**
 * Creates connectors in the tenant and posts raw deliveries to their ingest routes, unauthenticated
 * (server and tenant read when called: they are set up in `before`).
 */
export function connectorClient(server: () => TestServer, tenantId: () => string) {
  return {
    async connector(name: string, config: Record<string, unknown>) {
      const res = await server().request("POST", `/v1/tenants/${tenantId()}/connectors`, {
        body: { name, config },
      });
      assert.equal(res.status, 201, res.text);
      return res.body as { id: string; ingest_path: string };
    },
    post: (path: string, body: string, headers: Record<string, string>, type = "application/json") =>
      server().request("POST", path, {
        key: null,
        rawBody: body,
        headers: { "content-type": type, ...headers },
      }),
  };
}
