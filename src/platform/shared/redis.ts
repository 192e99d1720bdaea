import { Redis } from "ioredis";
import type { Logger } from "../../lib/logger.ts";

/**
 * The Redis every gateway shares (`HYPHA_REDIS_URL`): one connection for commands and one for
 * subscriptions (a subscribed connection takes no other command). Commands are not queued while
 * disconnected: they fail at once, so each caller applies its own fallback (local rate limits,
 * read-through caches) instead of waiting. Both connections retry forever with a capped backoff.
 */
export type SharedRedis = {
  readonly client: Redis;
  readonly subscriber: Redis;
  /** Prefix of every key and channel (`HYPHA_REDIS_PREFIX`). */
  readonly prefix: string;
  /** True while the command connection is up. */
  ready(): boolean;
  /** A round trip (`PING`) within `timeoutMs`; false when Redis does not answer. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
};

export function connectRedis(url: string, prefix: string, logger: Logger): SharedRedis {
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
    lazyConnect: false,
  };
  // Named per process, so an operator (or a test) can tell the connections apart in CLIENT LIST.
  const name = `${prefix.replace(/[^a-z0-9_:-]/g, "")}${process.pid}`;
  const client = new Redis(url, { ...options, connectionName: `${name}:cmd` });
  // The subscriber queues its SUBSCRIBE until connected (and ioredis re-subscribes on reconnect).
  const subscriber = new Redis(url, {
    ...options,
    connectionName: `${name}:sub`,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
  });
  let warned = false;
  const onError = (err: Error) => {
    // Connection errors repeat every retry: log the first of each outage only. The URL (and so any
    // password) is never part of the message.
    if (warned) return;
    warned = true;
    logger.warn({ code: (err as NodeJS.ErrnoException).code ?? "REDIS" }, "redis unavailable; falling back");
  };
  client.on("error", onError);
  subscriber.on("error", onError);
  client.on("ready", () => {
    if (warned) logger.info("redis available again");
    warned = false;
  });
  return {
    client,
    subscriber,
    prefix,
    ready: () => client.status === "ready",
    async ping(timeoutMs = 1000) {
      if (client.status !== "ready") return false;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          client.ping().then((r) => r === "PONG"),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs);
          }),
        ]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
