import { randomUUID } from "node:crypto";
import type { Logger } from "../../lib/logger.ts";
import type { SharedRedis } from "./redis.ts";

/**
 * Cache invalidation across gateways. A module that caches something derived from the database
 * (a tenant policy, a data key, a row codec, an OIDC verifier) subscribes to a topic and drops the
 * entry when told; the module that changes the source updates its own cache as before and publishes
 * after its transaction commits, which tells every OTHER gateway (never the publisher itself).
 *
 * Embedded mode: there is no other gateway, so publishing does nothing. With Redis: every other
 * gateway hears it through Redis pub/sub (well within a second). While the subscription is
 * down `reliable()` is false, and revocation-sensitive caches read through to the database instead
 * of trusting entries that a missed message might have invalidated; when it comes back every
 * subscriber is told to drop everything (`key` null), since messages sent meanwhile are lost.
 */
export type InvalidationTopic = "tenant.deleted" | "governance.policy" | "credentials.prints";

/** `key` is the id to drop (usually a tenant id); null drops everything the subscriber holds. */
export type InvalidationListener = (key: string | null) => void;

export type Invalidation = {
  publish(topic: InvalidationTopic, key: string): void;
  subscribe(topic: InvalidationTopic, listener: InvalidationListener): () => void;
  /** False while messages from other gateways may be missed: caches must not be trusted then. */
  reliable(): boolean;
};

function localBus(logger: Logger) {
  const listeners = new Map<InvalidationTopic, Set<InvalidationListener>>();
  const deliver = (topic: InvalidationTopic, key: string | null) => {
    for (const l of [...(listeners.get(topic) ?? [])]) {
      try {
        l(key);
      } catch (err) {
        logger.error({ err, topic }, "invalidation listener failed");
      }
    }
  };
  return {
    listeners,
    deliver,
    subscribe(topic: InvalidationTopic, listener: InvalidationListener) {
      let set = listeners.get(topic);
      if (!set) {
        set = new Set();
        listeners.set(topic, set);
      }
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}

export function createLocalInvalidation(logger: Logger): Invalidation {
  const bus = localBus(logger);
  return {
    publish: () => {},
    subscribe: bus.subscribe,
    reliable: () => true,
  };
}

export function createRedisInvalidation(redis: SharedRedis, logger: Logger): Invalidation {
  const bus = localBus(logger);
  const origin = randomUUID();
  const channel = `${redis.prefix}invalidate`;
  let subscribed = false;
  let lostSinceSubscribed = false;
  redis.subscriber.on("message", (ch: string, message: string) => {
    if (ch !== channel) return;
    try {
      const m = JSON.parse(message) as { o: string; t: InvalidationTopic; k: string };
      if (m.o !== origin) bus.deliver(m.t, m.k);
    } catch (err) {
      logger.warn({ err }, "malformed invalidation message ignored");
    }
  });
  const subscribe = () => {
    redis.subscriber.subscribe(channel).then(
      () => {
        subscribed = true;
        if (lostSinceSubscribed) {
          lostSinceSubscribed = false;
          for (const topic of bus.listeners.keys()) bus.deliver(topic, null);
        }
      },
      (err: unknown) => logger.warn({ err }, "invalidation subscription failed; retrying on reconnect"),
    );
  };
  redis.subscriber.on("close", () => {
    subscribed = false;
    lostSinceSubscribed = true;
  });
  // ioredis re-subscribes by itself on reconnect; "ready" tells us when that happened.
  redis.subscriber.on("ready", () => {
    if (!subscribed) subscribe();
  });
  subscribe();
  return {
    publish(topic, key) {
      redis.client.publish(channel, JSON.stringify({ o: origin, t: topic, k: key })).catch((err: unknown) => {
        // Other gateways miss it; they read through while their own subscription is down, and a
        // gateway whose subscription stayed up cannot be reached by anyone either: log it loudly.
        logger.error({ err, topic }, "invalidation not published to other gateways");
      });
    },
    subscribe: bus.subscribe,
    reliable: () => subscribed && redis.subscriber.status === "ready",
  };
}
