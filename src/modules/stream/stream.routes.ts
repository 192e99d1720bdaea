import type { ServerResponse } from "node:http";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { BusEvent, EventBus } from "../../platform/events/bus.ts";
import { actorOf, authErrors } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import type { StandingCheck } from "./standing.ts";

const SEQ_RE = /^\d{1,15}$/;

function frame(e: BusEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ type: e.type, at: new Date(e.at).toISOString(), ...e.data })}\n\n`;
}

/** Events after which a stream asks at once whether its caller is still admitted (freeze, pause). */
const STANDING_EVENTS = new Set<BusEvent["type"]>(["killswitch.changed", "agent.paused"]);

/** Bytes a client may leave unread in the server's buffer before it is dropped. */
export const STREAM_MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * `GET /admin/stream/{tenant_id}`: a tenant's events as Server-Sent Events, as they happen
 * (ingestion, rejections, dead letters, memory writes, approvals, kill switch). A reconnecting client
 * sends `Last-Event-ID` and receives what it missed from the tenant's ring buffer; when that is already
 * evicted it gets a `reset` event first. `?follow=false` returns the buffered events and ends.
 *
 * Backpressure: events are published synchronously to every subscriber, so a client that stops
 * reading would make the server buffer without limit. Once a client's unsent bytes pass
 * `maxBufferedBytes` it is dropped; it reconnects with `Last-Event-ID` like after any break.
 *
 * Standing: the chokepoint admits a stream once; the stream then asks `standing` again every
 * `standingCheckMs` and at once after a freeze or pause event, and ends with an `ended` event naming
 * the refusal (AGENT_FROZEN, AGENT_PAUSED, CREDENTIALS_REVOKED, FORBIDDEN…) when its caller is no
 * longer admitted. A reconnect then meets the same refusal at the chokepoint.
 */
export function registerStreamRoutes(
  app: TypedApp,
  deps: {
    events: EventBus;
    tenants: TenantLookup;
    standing: StandingCheck;
    standingCheckMs: number;
    heartbeatMs?: number;
    maxBufferedBytes?: number;
  },
): void {
  const open = new Set<ServerResponse>();
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const maxBufferedBytes = deps.maxBufferedBytes ?? STREAM_MAX_BUFFERED_BYTES;

  app.addHook("preClose", async () => {
    for (const res of open) res.end();
    open.clear();
  });

  async function authorizeStream(actor: Actor, tenantId: string) {
    authorizeTenantPath(actor, tenantId, "read");
    authorize(actor, "stream:read");
    await deps.tenants.requireActive(tenantId);
  }

  app.route({
    method: "GET",
    url: "/admin/stream/:tenant_id",
    config: {
      auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "stream:read" },
      admission: "long",
    },
    schema: {
      operationId: "streamTenantEvents",
      tags: ["stream"],
      summary: "Live tenant events (Server-Sent Events); resume with Last-Event-ID",
      params: z.object({ tenant_id: tenantIdSchema }),
      querystring: z.object({
        follow: z.enum(["true", "false"]).default("true"),
        last_event_id: z.string().regex(SEQ_RE).optional(),
      }),
      response: { ...authErrors },
    },
    handler: async (req, reply) => {
      const tenantId = req.params.tenant_id;
      await authorizeStream(actorOf(req), tenantId);
      const follow = req.query.follow === "true";
      const header = req.headers["last-event-id"];
      const given = typeof header === "string" && SEQ_RE.test(header) ? header : req.query.last_event_id;
      const from = given === undefined ? (follow ? await deps.events.lastSeq(tenantId) : 0) : Number(given);

      // Listen before reading the backlog, so nothing published in between falls through the gap;
      // whatever the backlog already holds is not sent twice.
      let sentUpTo = from;
      let live = false;
      const early: BusEvent[] = [];
      let push: (e: BusEvent) => void = () => {};
      let recheck = () => {};
      const unsubscribe = follow
        ? deps.events.subscribe(tenantId, (e) => {
            if (!live) early.push(e);
            else if (e.seq > sentUpTo) {
              sentUpTo = e.seq;
              push(e);
            }
            if (STANDING_EVENTS.has(e.type)) recheck();
          })
        : () => {};

      let backlog = "";
      const replay = await deps.events.since(tenantId, from);
      let replayed: BusEvent[] = [];
      if (replay.ok) {
        replayed = replay.events;
      } else {
        backlog = `event: reset\ndata: ${JSON.stringify({ reason: "events before this point were dropped", oldest: replay.oldest })}\n\n`;
        const rest = await deps.events.since(tenantId, replay.oldest - 1);
        if (rest.ok) replayed = rest.events;
      }
      for (const e of [...replayed, ...early]) {
        if (e.seq <= sentUpTo) continue;
        sentUpTo = e.seq;
        backlog += frame(e);
      }

      const headers = {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        "x-request-id": req.id,
      };
      reply.hijack();
      const res = reply.raw;
      if (!follow) {
        unsubscribe();
        res.writeHead(200, headers);
        res.end(`retry: 2000\n\n${backlog}`);
        return;
      }
      res.writeHead(200, { ...headers, connection: "keep-alive" });
      res.write(`retry: 2000\n: connected\n\n${backlog}`);
      open.add(res);
      const send = (chunk: string) => {
        if (res.destroyed) return;
        res.write(chunk);
        if (res.writableLength > maxBufferedBytes) {
          req.log.warn({ tenantId, bufferedBytes: res.writableLength }, "stream client fell behind; dropped");
          res.destroy();
        }
      };
      push = (e) => send(frame(e));
      live = true;

      // Asks whether the caller is still admitted; checks never overlap, and one asked for while
      // another runs follows it (so a check starts after the event that asked for it committed).
      let ended = false;
      let checking = false;
      let again = false;
      const refusalOf = async (): Promise<AppError | null> => {
        const standing = await deps.standing(req);
        if (!standing.ok) return standing.error;
        try {
          await authorizeStream(standing.actor, tenantId);
          return null;
        } catch (err) {
          if (err instanceof AppError) return err;
          throw err;
        }
      };
      recheck = () => {
        if (ended) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        void (async () => {
          do {
            again = false;
            let refusal: AppError | null;
            try {
              refusal = await refusalOf();
            } catch (err) {
              // A check that fails for any reason ends the stream; the client reconnects.
              req.log.error({ err }, "stream standing check failed");
              refusal = new AppError("INTERNAL", "internal error");
            }
            if (refusal && !ended && !res.destroyed) {
              ended = true;
              res.end(
                `event: ended\ndata: ${JSON.stringify({ code: refusal.code, message: refusal.message })}\n\n`,
              );
            }
          } while (again && !ended);
          checking = false;
        })();
      };
      const beat = setInterval(() => send(": heartbeat\n\n"), heartbeatMs);
      beat.unref();
      const standingTimer = setInterval(recheck, deps.standingCheckMs);
      standingTimer.unref();
      // Whatever happened between the chokepoint's check and now.
      recheck();
      const cleanup = () => {
        ended = true;
        clearInterval(beat);
        clearInterval(standingTimer);
        unsubscribe();
        open.delete(res);
      };
      res.on("close", cleanup);
      req.raw.on("close", cleanup);
    },
  });
}
