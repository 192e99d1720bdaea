import type { Clock } from "../../lib/clock.ts";
import { newId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/logger.ts";
import type { EventBus } from "../../platform/events/bus.ts";
import type { Storage } from "../../platform/storage/port.ts";
import { replayWindowSecFor, resolveConnectorSecret } from "./connectors.schemas.ts";
import { type CipherOf, sealField } from "./connectors.sealing.ts";
import type { ConnectorsService } from "./connectors.service.ts";
import { connectorsStore, sqlReplayStore } from "./connectors.store.ts";
import type { InboundVerifier } from "./inbound.ts";
import { parseDeliveryBody, slackChallenge } from "./mappings.ts";
import { createReplayGuard, deliveryIdFor } from "./replay.ts";
import type { InboundHeaders } from "./signatures.ts";

export type IngestOutcome =
  | { kind: "rejected" }
  | { kind: "unidentified" }
  | { kind: "challenge"; challenge: string }
  | { kind: "duplicate" }
  /** `bare`: the sender wants a plain 200 with no body (Slack slash commands and interactivity). */
  | { kind: "accepted"; id: string; bare: boolean };

/** Headers kept with a delivery for mapping and for the dead-letter view. Never credentials. */
const KEPT_HEADERS = [
  "content-type",
  "user-agent",
  "x-github-event",
  "x-github-delivery",
  "x-github-hook-id",
  "webhook-id",
  "x-slack-request-timestamp",
] as const;

function keptHeaders(headers: InboundHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = headers[name];
    if (typeof v === "string") out[name] = v.slice(0, 512);
  }
  return out;
}

/**
 * Verified webhook ingestion. The order is fixed: raw body, secret, signature check, and only then
 * JSON parsing, delivery id, replay check (on keys from signed data only, see `replay.ts`). A verified delivery is committed to the tenant's inbox (with
 * its replay record, in one transaction) before it is acknowledged; turning it into memories is the
 * worker's job. The raw payload is kept sealed with the tenant cipher.
 */
export function createIngestService(deps: {
  storage: Storage;
  clock: Clock;
  connectors: ConnectorsService;
  verifier: InboundVerifier;
  events: EventBus;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  /** `connectorSecretEnvPrefix` (see `secretEnvAllowed`): a stored name outside it verifies nothing. */
  secretEnvPrefix: string | undefined;
  /** The tenant cipher that seals each raw payload in the inbox. */
  cipher: CipherOf;
  /** Called after a delivery is committed (wakes the worker). */
  onAccepted?: (tenantId: string) => void;
}) {
  const { storage, clock, connectors, verifier, events, logger } = deps;

  return {
    /**
     * The largest body to read for this endpoint: the connector's limit, or the API body limit when
     * the tenant or connector is unknown (such a request is refused with 401 once read).
     */
    async bodyLimit(tenantId: string, connectorId: string, apiBodyLimit: number): Promise<number> {
      return (await connectors.bodyLimit(tenantId, connectorId, apiBodyLimit)) ?? apiBodyLimit;
    },

    async ingest(input: {
      tenantId: string;
      connectorId: string;
      headers: InboundHeaders;
      body: Buffer;
      /** Monotonic start of the request (process.hrtime.bigint), for the latency figure. */
      startedAt: bigint;
    }): Promise<IngestOutcome> {
      const { tenantId, connectorId, headers, body } = input;
      const resolved = await connectors.resolve(tenantId, connectorId);
      if (!resolved) return { kind: "rejected" };
      const { config } = resolved;
      const secret = resolveConnectorSecret(config, deps.env, deps.secretEnvPrefix);
      let verified = await verifier.verify({ config, secret, headers, body });
      // While a rotation's grace period runs, a delivery the sender signed with the secret being
      // replaced still verifies; only a signature mismatch is worth a second try.
      if (!verified.ok && verified.reason === "SIGNATURE_MISMATCH" && resolved.previousSecret !== undefined) {
        const withPrevious = await verifier.verify({
          config,
          secret: resolved.previousSecret,
          headers,
          body,
        });
        if (withPrevious.ok) {
          verified = withPrevious;
          await connectors.notePreviousSecretUsed(tenantId, connectorId);
        }
      }
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      if (!verified.ok) {
        await connectorsStore.bumpHealth(db, connectorId, { signature_failures: 1, last_rejected_at: now });
        events.publish(tenantId, "ingest.rejected", { connector_id: connectorId, reason: verified.reason });
        logger.warn({ tenantId, connectorId, reason: verified.reason }, "webhook delivery rejected");
        return { kind: "rejected" };
      }

      const contentType = typeof headers["content-type"] === "string" ? headers["content-type"] : undefined;
      const payload = parseDeliveryBody(body, contentType);
      const challenge = config.source === "slack" ? slackChallenge(payload) : undefined;
      if (challenge !== undefined) return { kind: "challenge", challenge };

      const id = deliveryIdFor({ source: config.source, verified, body, payload });
      if (!id.ok) return { kind: "unidentified" };

      const deliveryRowId = newId("delivery", now);
      const sealedBody = sealField(await deps.cipher(tenantId), deliveryRowId, "payload", body);
      const latencyMs = Number(process.hrtime.bigint() - input.startedAt) / 1e6;
      const accepted = await db.transaction(async (tx) => {
        const guard = createReplayGuard({ store: sqlReplayStore(tx, now), clock });
        const replay = await guard.checkAll(tenantId, connectorId, id.replayKeys, replayWindowSecFor(config));
        const inserted =
          replay.ok &&
          (await connectorsStore.insertDelivery(tx, {
            id: deliveryRowId,
            tenant_id: tenantId,
            connector_id: connectorId,
            delivery_id: id.deliveryId,
            status: "pending",
            headers: JSON.stringify(keptHeaders(headers)),
            body: sealedBody,
            attempts: 0,
            next_attempt_at: now,
            last_error: null,
            memory_ids: null,
            received_at: now,
            processed_at: null,
            dead_at: null,
          }));
        await connectorsStore.bumpHealth(
          tx,
          connectorId,
          inserted
            ? { accepted: 1, last_delivery_at: now, latency_ms: latencyMs }
            : { duplicates: 1, last_delivery_at: now },
        );
        return inserted;
      });
      if (!accepted) return { kind: "duplicate" };
      events.publish(tenantId, "ingest.accepted", {
        connector_id: connectorId,
        delivery: deliveryRowId,
        bytes: body.length,
        latency_ms: Math.round(latencyMs * 100) / 100,
      });
      deps.onAccepted?.(tenantId);
      // Slack shows a slash command's or interaction's response body to the user: answer with nothing.
      const bare =
        config.source === "slack" && contentType?.startsWith("application/x-www-form-urlencoded") === true;
      return { kind: "accepted", id: deliveryRowId, bare };
    },
  };
}

export type IngestService = ReturnType<typeof createIngestService>;
