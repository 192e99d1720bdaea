import type { TransactionExecutor } from "../storage/port.ts";

/**
 * The in-process event bus behind the live stream (`GET /admin/stream/{tenant_id}`) and outbound
 * webhooks. Modules publish after their transaction commits (`publish`), or as part of it
 * (`publishIn`: committing listeners such as the outbound notice queue write inside the transaction,
 * the rest hear the event after the commit), so a subscriber never hears of a change that was rolled
 * back. Each tenant has its own sequence and a bounded ring buffer of recent events,
 * which is what `Last-Event-ID` resumes from.
 *
 * Delivery to subscribers is synchronous and best effort: a subscriber that throws is logged and
 * skipped, never allowed to fail the publisher.
 */

/**
 * Event names (`<object>.<verb>`), declared by the modules that publish them:
 *
 * @example
 * declare module "../../platform/events/bus.ts" {
 *   interface BusEventRegistry extends Record<"memory.created" | "memory.deleted", true> {}
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module.
export interface BusEventRegistry {}
export type BusEventType = Extract<keyof BusEventRegistry, string>;

export type BusEvent = {
  /** Per-tenant sequence, strictly increasing from 1; the SSE `id`. */
  seq: number;
  tenantId: string;
  type: BusEventType;
  /** Epoch milliseconds from the injected clock. */
  at: number;
  /** Ids, counts, codes and timings only: never content or secrets. */
  data: Record<string, unknown>;
  /** Published with `publishIn`: its committing listeners already ran, in the change's transaction. */
  queued?: true;
};

/** An event published inside a transaction, before it has a sequence number. */
export type StagedEvent = Omit<BusEvent, "seq" | "queued">;

/**
 * Runs inside the transaction of every change published with `publishIn`: what it writes commits or
 * rolls back with the change, and an error from it rolls the change back.
 */
export type CommittingListener = (tx: TransactionExecutor, event: StagedEvent) => Promise<void>;

export type PublishOptions = { queued?: true };

export type Listener = (event: BusEvent) => void;

export type Replay = { ok: true; events: BusEvent[] } | { ok: false; reason: "TOO_OLD"; oldest: number };

/**
 * The bus every module sees. In process (`createEventBus`) or shared by every gateway through Redis
 * Streams (`createRedisEventBus`); `since` and `lastSeq` may answer asynchronously.
 */
export type EventBus = {
  /** Fire and forget: publishing never fails the publisher. */
  publish(tenantId: string, type: BusEventType, data: Record<string, unknown>, opts?: PublishOptions): void;
  /**
   * Publishes as part of the transaction `tx`: the committing listeners run now, inside it (outbound
   * notices are queued that way, so a gateway dying right after the commit loses none), and every
   * other listener hears the event once `tx` has committed (never when it rolls back).
   */
  publishIn(
    tx: TransactionExecutor,
    tenantId: string,
    type: BusEventType,
    data: Record<string, unknown>,
  ): Promise<void>;
  /** Adds a committing listener; returns the function that removes it. */
  onCommitting(listener: CommittingListener): () => void;
  /** Listens to one tenant's events; returns the unsubscribe function. */
  subscribe(tenantId: string, listener: Listener): () => void;
  /** Listens to every tenant (outbound webhooks). */
  subscribeAll(listener: Listener): () => void;
  /**
   * Events after `lastSeq` still in the ring buffer. `TOO_OLD` when some were already evicted, so the
   * caller can tell the client it missed events instead of silently skipping them.
   */
  since(tenantId: string, lastSeq: number): Replay | Promise<Replay>;
  /** The last sequence number issued for a tenant (0 when none). */
  lastSeq(tenantId: string): number | Promise<number>;
  close?(): Promise<void>;
};

/** `publishIn` and `onCommitting` over a bus's own `publish`: the part every bus shares. */
export function committingHooks(
  clock: { now(): number },
  publish: EventBus["publish"],
): Pick<EventBus, "publishIn" | "onCommitting"> {
  const listeners = new Set<CommittingListener>();
  return {
    async publishIn(tx, tenantId, type, data) {
      const event: StagedEvent = { tenantId, type, at: clock.now(), data };
      for (const listener of [...listeners]) await listener(tx, event);
      tx.afterCommit(() => publish(tenantId, type, data, { queued: true }));
    },
    onCommitting(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The in-process bus: `publish` returns the event with its sequence number. */
export type LocalEventBus = EventBus & {
  publish(
    tenantId: string,
    type: BusEventType,
    data: Record<string, unknown>,
    opts?: PublishOptions,
  ): BusEvent;
  since(tenantId: string, lastSeq: number): Replay;
  lastSeq(tenantId: string): number;
};

type TenantChannel = { seq: number; ring: BusEvent[]; listeners: Set<Listener> };

export function createEventBus(deps: {
  clock: { now(): number };
  ringSize?: number;
  onListenerError?: (err: unknown, event: BusEvent) => void;
}): LocalEventBus {
  const ringSize = deps.ringSize ?? 1000;
  const channels = new Map<string, TenantChannel>();
  const global = new Set<Listener>();

  const channel = (tenantId: string): TenantChannel => {
    let c = channels.get(tenantId);
    if (!c) {
      c = { seq: 0, ring: [], listeners: new Set() };
      channels.set(tenantId, c);
    }
    return c;
  };

  const deliver = (listener: Listener, event: BusEvent) => {
    try {
      listener(event);
    } catch (err) {
      deps.onListenerError?.(err, event);
    }
  };

  const publish = (
    tenantId: string,
    type: BusEventType,
    data: Record<string, unknown>,
    opts?: PublishOptions,
  ): BusEvent => {
    const c = channel(tenantId);
    c.seq += 1;
    const event: BusEvent = { seq: c.seq, tenantId, type, at: deps.clock.now(), data, ...opts };
    c.ring.push(event);
    if (c.ring.length > ringSize) c.ring.splice(0, c.ring.length - ringSize);
    for (const l of [...c.listeners]) deliver(l, event);
    for (const l of [...global]) deliver(l, event);
    return event;
  };

  return {
    publish,
    ...committingHooks(deps.clock, publish),
    subscribe(tenantId, listener) {
      const c = channel(tenantId);
      c.listeners.add(listener);
      return () => c.listeners.delete(listener);
    },
    subscribeAll(listener) {
      global.add(listener);
      return () => global.delete(listener);
    },
    since(tenantId, lastSeq) {
      const c = channels.get(tenantId);
      if (!c || c.ring.length === 0) return { ok: true, events: [] };
      const oldest = c.ring[0]?.seq ?? 1;
      if (lastSeq < oldest - 1) return { ok: false, reason: "TOO_OLD", oldest };
      return { ok: true, events: c.ring.filter((e) => e.seq > lastSeq) };
    },
    lastSeq(tenantId) {
      return channels.get(tenantId)?.seq ?? 0;
    },
  };
}
