import type { Clock } from "../lib/clock.ts";
import type { Config } from "../lib/config.ts";
import type { Logger } from "../lib/logger.ts";
import { type ActionRule, installActions } from "./auth/actor.ts";
import type { AdminKeyState } from "./bootstrap.ts";
import type { EventBus } from "./events/bus.ts";
import type { Admission } from "./http/admission.ts";
import type { Metrics } from "./http/metrics.ts";
import type { RateLimiter } from "./http/rate-limit.ts";
import type { TypedApp } from "./http/server.ts";
import type { Leases } from "./leases.ts";
import type { Invalidation } from "./shared/invalidation.ts";
import type { SharedRedis } from "./shared/redis.ts";
import type { Migration, MigrationSet, Storage } from "./storage/port.ts";
import type { Telemetry } from "./telemetry.ts";

/**
 * What every module may use: the platform, built before any module and owned by none.
 */
export type Platform = {
  /** This process among the gateways that share a store (random per start). */
  readonly gatewayId: string;
  /** Named leases in the control store: periodic work runs on one gateway at a time. */
  readonly leases: Leases;
  readonly config: Config;
  /** `<dataDir>/secrets` (0700): key files that never enter a database. */
  readonly secretsDir: string;
  /** The instance admin credential (its hash only). */
  readonly adminKey: AdminKeyState;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly storage: Storage;
  readonly metrics: Metrics;
  /** Spans (when tracing is on) and stage timings: `telemetry.span(stage, ids, fn)`. */
  readonly telemetry: Telemetry;
  readonly events: EventBus;
  readonly rateLimiter: RateLimiter;
  /** The Redis shared by every gateway (`HYPHA_REDIS_URL`), or null in the embedded mode. */
  readonly redis: SharedRedis | null;
  /** Cache invalidation reaching every gateway (local only without Redis). */
  readonly invalidation: Invalidation;
  /** Load shedding: in-flight bounds per process and per tenant (readiness reports overload). */
  readonly admission: Admission;
};

/**
 * The APIs modules offer each other, filled by each module through declaration merging:
 *
 * @example
 * declare module "../../platform/module.ts" {
 *   interface ModuleApis { grants: GrantsApi }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module.
export interface ModuleApis {}
export type ModuleName = Extract<keyof ModuleApis, string>;

/** A background job: started once the server listens, stopped before the store closes. */
export type Worker = {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
};

/** What a module's `create` returns: its API for later modules, and what it mounts. */
export type BuiltModule<Api> = {
  readonly api: Api;
  /** Request hooks (`app.addHook`), registered for every module before any route. */
  hooks?(app: TypedApp): void;
  /** The module's routes; each declares its auth policy and zod contract. */
  routes?(app: TypedApp): void;
  readonly workers?: readonly Worker[];
  /** Flushes and releases what the module holds (after workers stop, before the store closes). */
  close?(): Promise<void>;
};

export type ModuleContext = Platform & {
  /** Migrations, actions and audit events assembled from the module list. */
  readonly vocabulary: Vocabulary;
  /**
   * The API of a module listed earlier. Resolving a later module throws while modules are being
   * built; a closure may call `use` afterwards (e.g. inside a request handler).
   */
  use<N extends ModuleName>(name: N): ModuleApis[N];
};

/**
 * A feature described by itself: its schema changes per dialect, the actions it adds to the
 * authorization vocabulary, the audit event types it writes, and how it is built. The composition
 * root is an ordered list of these; nothing else enumerates migrations, actions or events.
 */
export type HyphaModule<N extends ModuleName = ModuleName> = {
  readonly name: N;
  readonly migrations?: Partial<MigrationSet>;
  readonly actions?: Readonly<Record<string, ActionRule>>;
  /** Audit event types this module writes (`<object>.<verb in past tense>`). */
  readonly events?: readonly string[];
  /** Of those, the ones an auditor's "suspicious" filter shows. */
  readonly suspicious?: readonly string[];
  create(ctx: ModuleContext): BuiltModule<ModuleApis[N]> | Promise<BuiltModule<ModuleApis[N]>>;
};

/** Identity helper that keeps a module literal's name and API types tied together. */
export function defineModule<N extends ModuleName>(module: HyphaModule<N>): HyphaModule<N> {
  return module;
}

/** The vocabularies assembled from a module list; duplicates are refused. */
export type Vocabulary = {
  migrations: MigrationSet;
  actions: ReadonlyMap<string, ActionRule>;
  events: ReadonlySet<string>;
  suspicious: ReadonlySet<string>;
};

export function assembleVocabulary(modules: readonly HyphaModule[]): Vocabulary {
  const control: Migration[] = [];
  const tenant: Migration[] = [];
  const actions = new Map<string, ActionRule>();
  const events = new Set<string>();
  const suspicious = new Set<string>();
  const names = new Set<string>();
  for (const m of modules) {
    if (names.has(m.name)) throw new Error(`module ${m.name} is listed twice`);
    names.add(m.name);
    control.push(...(m.migrations?.control ?? []));
    tenant.push(...(m.migrations?.tenant ?? []));
    for (const [name, rule] of Object.entries(m.actions ?? {})) {
      if (actions.has(name)) throw new Error(`action ${name} is declared twice (module ${m.name})`);
      actions.set(name, rule);
    }
    for (const e of m.events ?? []) {
      if (events.has(e)) throw new Error(`audit event ${e} is declared twice (module ${m.name})`);
      events.add(e);
    }
    for (const e of m.suspicious ?? []) {
      if (!events.has(e)) throw new Error(`suspicious event ${e} is not an event of module ${m.name}`);
      suspicious.add(e);
    }
  }
  for (const set of [control, tenant]) {
    const ids = new Set<string>();
    for (const { id } of set) {
      if (ids.has(id)) throw new Error(`migration ${id} is declared twice`);
      ids.add(id);
    }
  }
  return { migrations: { control, tenant }, actions, events, suspicious };
}

/** Installs a module list's actions as the authorization vocabulary (once per process). */
export function installVocabulary(modules: readonly HyphaModule[]): Vocabulary {
  const vocabulary = assembleVocabulary(modules);
  installActions(vocabulary.actions);
  return vocabulary;
}

export type ComposedModules = {
  readonly apis: Partial<ModuleApis>;
  /** Registers every module's hooks, then every module's routes, in list order. */
  mount(app: TypedApp): void;
  readonly workers: readonly Worker[];
  startWorkers(): void;
  /** Stops workers (reverse order), then closes modules (reverse order). */
  close(): Promise<void>;
};

/** Builds each module in list order, handing it the platform and the APIs of the modules before it. */
export async function composeModules(
  platform: Platform,
  modules: readonly HyphaModule[],
  vocabulary: Vocabulary = assembleVocabulary(modules),
): Promise<ComposedModules> {
  const apis: Partial<ModuleApis> = {};
  const built: BuiltModule<unknown>[] = [];
  let building = true;
  const ctx: ModuleContext = {
    ...platform,
    vocabulary,
    use(name) {
      const api = apis[name];
      if (api === undefined) {
        throw new Error(
          building
            ? `module ${name} is used before it is built: list it earlier`
            : `module ${name} is not listed`,
        );
      }
      return api as ModuleApis[typeof name];
    },
  };
  for (const m of modules) {
    const b = (await m.create(ctx)) as BuiltModule<unknown>;
    (apis as Record<string, unknown>)[m.name] = b.api;
    built.push(b);
  }
  building = false;
  const workers = built.flatMap((b) => b.workers ?? []);
  let started = false;
  return {
    apis,
    workers,
    mount(app) {
      for (const b of built) b.hooks?.(app);
      for (const b of built) b.routes?.(app);
    },
    startWorkers() {
      if (started) return;
      started = true;
      for (const w of workers) w.start();
    },
    async close() {
      if (started) for (const w of [...workers].reverse()) await w.stop();
      started = false;
      for (const b of [...built].reverse()) await b.close?.();
    },
  };
}
