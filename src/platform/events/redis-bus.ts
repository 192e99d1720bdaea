import { randomUUID } from "node:crypto";
import type { Logger } from "../../lib/logger.ts";
import type { SharedRedis } from "../shared/redis.ts";
import {
  type BusEvent,
  type BusEventType,
  committingHooks,
  type EventBus,
  type Listener,
  type PublishOptions,
  type Replay,
} from "./bus.ts";

/**
 * Appends the event to the tenant's stream under the next sequence number (the stream id is
 * `<seq>-0`, so `Last-Event-ID` means the same on every gateway) and announces it, atomically:
 * two gateways publishing at once can neither reorder nor share a number.
 */
const PUBLISH = `
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'e', ARGV[2])
redis.call('PUBLISH', KEYS[3], seq .. '\\n' .. ARGV[2])
return seq
`;

type Wire = { o: string; t: string; y: BusEventType; a: number; d: Record<string, unknown> };

/**
 * The event bus shared by every gateway: one Redis Stream per tenant (`<prefix>ev:<tenant>`, capped
 * at about `maxLen` entries) holds the replay window, and a pub/sub channel carries each new event
 * to every gateway's live subscribers. `subscribeAll` (outbound webhooks) hears only the events this
 * gateway published, so each event is queued for delivery once in the cluster.
 *
 * When Redis fails: `publish` still reaches this gateway's `subscribeAll` listeners (sequence 0) and
 * the live stream misses the event (logged); when the subscription comes back, each tenant with live
 * listeners is caught up from the stream, so a client that stayed connected misses nothing that was
 * stored. `since` and `lastSeq` answer "nothing" while Redis is down.
 */
export function createRedisEventBus(deps: {
  redis: SharedRedis;
  clock: { now(): number };
  logger: Logger;
  maxLen?: number;
  onListenerError?: (err: unknown, event: BusEvent) => void;
}): EventBus {
  const { redis, logger } = deps;
  const maxLen = deps.maxLen ?? 1000;
  const origin = randomUUID();
  const channel = `${redis.prefix}events`;
  const seqKey = (t: string) => `${redis.prefix}evseq:${t}`;
  const streamKey = (t: string) => `${redis.prefix}ev:${t}`;
  const tenants = new Map<string, { listeners: Set<Listener>; delivered: number }>();
  const global = new Set<Listener>();

  const deliver = (listener: Listener, event: BusEvent) => {
    try {
      listener(event);
    } catch (err) {
      deps.onListenerError?.(err, event);
    }
  };
  const toEvent = (seq: number, raw: string): BusEvent | null => {
    try {
      const w = JSON.parse(raw) as Wire;
      return { seq, tenantId: w.t, type: w.y, at: w.a, data: w.d };
    } catch {
      return null;
    }
  };
  /** Live delivery in sequence order, each event once, whatever path it came by. */
  const fanOut = (event: BusEvent) => {
    const c = tenants.get(event.tenantId);
    if (!c || event.seq <= c.delivered) return;
    c.delivered = event.seq;
    for (const l of [...c.listeners]) deliver(l, event);
  };

  const range = async (tenantId: string, after: number): Promise<BusEvent[]> => {
    const rows = await redis.client.xrange(streamKey(tenantId), `${after + 1}-0`, "+");
    const out: BusEvent[] = [];
    for (const [id, fields] of rows) {
      const event = toEvent(Number(id.split("-")[0]), fields[1] ?? "");
      if (event) out.push(event);
    }
    return out;
  };

  redis.subscriber.on("message", (ch: string, message: string) => {
    if (ch !== channel) return;
    const nl = message.indexOf("\n");
    const event = toEvent(Number(message.slice(0, nl)), message.slice(nl + 1));
    if (event) fanOut(event);
  });
  let lost = false;
  redis.subscriber.on("close", () => {
    lost = true;
  });
  redis.subscriber.on("ready", () => {
    if (!lost) return;
    lost = false;
    // Catch live listeners up on what was published while this gateway was not subscribed.
    for (const [tenantId, c] of tenants) {
      range(tenantId, c.delivered).then(
        (events) => {
          for (const e of events) fanOut(e);
        },
        (err: unknown) => logger.warn({ err, tenantId }, "could not catch the live stream up"),
      );
    }
  });
  void redis.subscriber.subscribe(channel).catch((err: unknown) => {
    logger.warn({ err }, "event subscription failed; retrying on reconnect");
  });

  const publish = (
    tenantId: string,
    type: BusEventType,
    data: Record<string, unknown>,
    opts?: PublishOptions,
  ): void => {
    const at = deps.clock.now();
    const wire: Wire = { o: origin, t: tenantId, y: type, a: at, d: data };
    (
      redis.client.eval(
        PUBLISH,
        3,
        seqKey(tenantId),
        streamKey(tenantId),
        channel,
        maxLen,
        JSON.stringify(wire),
      ) as Promise<number>
    ).then(
      (seq) => {
        const event: BusEvent = { seq: Number(seq), tenantId, type, at, data, ...opts };
        for (const l of [...global]) deliver(l, event);
      },
      (err: unknown) => {
        logger.error({ err, tenantId, type }, "event not shared (redis unavailable); live streams miss it");
        const event: BusEvent = { seq: 0, tenantId, type, at, data, ...opts };
        for (const l of [...global]) deliver(l, event);
      },
    );
  };

  return {
    publish,
    ...committingHooks(deps.clock, publish),
    subscribe(tenantId, listener) {
      let c = tenants.get(tenantId);
      if (!c) {
        c = { listeners: new Set(), delivered: 0 };
        tenants.set(tenantId, c);
        const fresh = c;
        // Live delivery starts after the newest event at subscription time.
        redis.client.get(seqKey(tenantId)).then(
          (v) => {
            if (fresh.delivered === 0) fresh.delivered = Number(v ?? 0);
          },
          () => {},
        );
      }
      c.listeners.add(listener);
      const channelOf = c;
      return () => {
        channelOf.listeners.delete(listener);
        if (channelOf.listeners.size === 0) tenants.delete(tenantId);
      };
    },
    subscribeAll(listener) {
      global.add(listener);
      return () => global.delete(listener);
    },
    async since(tenantId, lastSeq): Promise<Replay> {
      try {
        const first = await redis.client.xrange(streamKey(tenantId), "-", "+", "COUNT", 1);
        const head = first[0];
        if (!head) return { ok: true, events: [] };
        const oldest = Number(head[0].split("-")[0]);
        if (lastSeq < oldest - 1) return { ok: false, reason: "TOO_OLD", oldest };
        return { ok: true, events: await range(tenantId, lastSeq) };
      } catch (err) {
        logger.warn({ err, tenantId }, "event replay unavailable (redis)");
        return { ok: true, events: [] };
      }
    },
    async lastSeq(tenantId) {
      try {
        return Number((await redis.client.get(seqKey(tenantId))) ?? 0);
      } catch {
        return 0;
      }
    },
    async close() {
      tenants.clear();
      global.clear();
    },
  };
}
