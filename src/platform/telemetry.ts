import type { IncomingHttpHeaders } from "node:http";
import type * as OtelApi from "@opentelemetry/api";
import type { NodeSDK } from "@opentelemetry/sdk-node";
import { ConfigError } from "../lib/config.ts";
import type { EgressGuard } from "../lib/egress/egress-guard.ts";
import { AppError } from "../lib/errors.ts";

/**
 * Tracing and stage timings behind one small facade.
 *
 * Tracing is OpenTelemetry, exported over OTLP/HTTP (protobuf bodies unless `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), and is on only when the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set: `startTracing` then loads the SDK (once per process). Off,
 * nothing of OpenTelemetry is loaded and `span` only times the stage.
 *
 * Span attributes carry ids, codes, counts and timings only: never memory content, queries,
 * credentials or anything a caller wrote. Errors are recorded by their `AppError` code (or the
 * error's class name), never by message.
 */

/** Ids, codes, counts, flags. `tenant` also labels the stage histogram when per-tenant metrics are on. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** Receives every stage timing (the Prometheus histogram). */
export type StageRecorder = (stage: string, tenantId: string | undefined, seconds: number) => void;

export type RequestSpan = {
  /** Adds attributes known later (tenant, error code). */
  set(attrs: SpanAttributes): void;
  /** Ends the span (idempotent). */
  end(attrs?: SpanAttributes): void;
};

export type Telemetry = {
  /**
   * Runs `fn` as the stage `name`: a child span of the active one when tracing is on, and one
   * observation of `hypha_stage_duration_seconds{stage=name}` either way. Returns what `fn` returns.
   *
   * @example
   * const rows = await telemetry.span("recall.search", { tenant: tenantId }, () => store.search(tx, q));
   */
  span<T>(name: string, attrs: SpanAttributes, fn: () => T): T;
  /**
   * Records a stage that already ran, from `startedAt` (a `performance.now()` reading) to now, for
   * a few synchronous lines that a callback would only re-indent.
   */
  mark(name: string, attrs: SpanAttributes, startedAt: number): void;
  /**
   * Opens the span of one HTTP request (its parent taken from an incoming `traceparent`) and calls
   * `next` inside it, so everything the request does is its child.
   */
  request(headers: IncomingHttpHeaders, name: string, attrs: SpanAttributes, next: () => void): RequestSpan;
};

type Tracing = {
  api: typeof OtelApi;
  tracer: OtelApi.Tracer;
  sdk: NodeSDK;
};

let tracing: Tracing | null = null;
let starting: Promise<boolean> | null = null;

/** Whether the environment asks for tracing (the standard OTLP endpoint variable is set). */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof env.OTEL_EXPORTER_OTLP_ENDPOINT === "string" && env.OTEL_EXPORTER_OTLP_ENDPOINT.trim() !== "";
}

/**
 * The OTLP/HTTP encoding the standard variables ask for (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`): protobuf unless `http/json`, as the OTLP specification defaults.
 * Protobuf costs far less CPU per span than JSON (docs/benchmarks.md, "Tracing overhead"); gRPC is
 * not offered and stops the start.
 */
export function otlpProtocol(env: NodeJS.ProcessEnv = process.env): "http/protobuf" | "http/json" {
  const asked = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    "http/protobuf"
  ).trim();
  if (asked === "http/protobuf" || asked === "http/json") return asked;
  throw new ConfigError(
    `OTEL_EXPORTER_OTLP_PROTOCOL=${JSON.stringify(asked.slice(0, 40))} is not supported: use http/protobuf (the default) or http/json`,
  );
}

/**
 * Starts the OpenTelemetry SDK when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (once per process; later
 * calls return the first outcome). The standard `OTEL_*` variables apply (service name, headers,
 * sampler, batch delays); only traces are exported, no metrics or logs, and no auto-instrumentation
 * is loaded: the spans are Hypha's own.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!tracingRequested(env)) return Promise.resolve(false);
  const protocol = otlpProtocol(env);
  starting ??= (async () => {
    const [api, { NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
      import("@opentelemetry/api"),
      import("@opentelemetry/sdk-node"),
      protocol === "http/json"
        ? import("@opentelemetry/exporter-trace-otlp-http")
        : import("@opentelemetry/exporter-trace-otlp-proto"),
    ]);
    const sdk = new NodeSDK({
      ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: "hypha" }),
      traceExporter: new OTLPTraceExporter(),
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
    tracing = { api, sdk, tracer: api.trace.getTracer("hypha") };
    return true;
  })();
  return starting;
}

/** Exports the spans still buffered (tests, benchmarks, before exit). */
export async function flushTracing(): Promise<void> {
  if (!tracing) return;
  const provider = tracing.api.trace.getTracerProvider() as { getDelegate?: () => unknown };
  const delegate = provider.getDelegate?.() as { forceFlush?: () => Promise<void> } | undefined;
  await delegate?.forceFlush?.();
}

/**
 * The active trace and span ids for a log line (pino `mixin`); nothing when tracing is off. A new
 * object each call: pino merges the line's fields into it.
 */
export function traceFields(): { traceId?: string; spanId?: string } {
  if (!tracing) return {};
  const ctx = tracing.api.trace.getActiveSpan()?.spanContext();
  if (!ctx || !tracing.api.isSpanContextValid(ctx)) return {};
  return { traceId: ctx.traceId, spanId: ctx.spanId };
}

function attributes(attrs: SpanAttributes, prefix: string): OtelApi.Attributes {
  const out: OtelApi.Attributes = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[`${prefix}${k}`] = v;
  return out;
}

/** A stable, content-free name for what went wrong. */
export function errorCode(err: unknown): string {
  if (err instanceof AppError) return err.code;
  return err instanceof Error ? err.name : "Error";
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

const NOOP_REQUEST: RequestSpan = { set() {}, end() {} };

/** The facade for one server: spans (when tracing is on) and stage timings into `record`. */
export function createTelemetry(record: StageRecorder = () => {}): Telemetry {
  const timed = <T>(
    name: string,
    tenant: string | undefined,
    fn: () => T,
    settle?: (err?: unknown) => void,
  ): T => {
    const t0 = performance.now();
    const done = (err?: unknown) => {
      record(name, tenant, (performance.now() - t0) / 1000);
      settle?.(err);
    };
    let out: T;
    try {
      out = fn();
    } catch (err) {
      done(err);
      throw err;
    }
    if (!isPromise(out)) {
      done();
      return out;
    }
    return out.then(
      (v) => {
        done();
        return v;
      },
      (err: unknown) => {
        done(err);
        throw err;
      },
    ) as T;
  };

  return {
    span(name, attrs, fn) {
      const tenant = typeof attrs.tenant === "string" ? attrs.tenant : undefined;
      const t = tracing;
      if (!t) return timed(name, tenant, fn);
      return t.tracer.startActiveSpan(name, { attributes: attributes(attrs, "hypha.") }, (span) =>
        timed(name, tenant, fn, (err) => {
          if (err !== undefined) {
            span.setAttribute("error.type", errorCode(err));
            span.setStatus({ code: t.api.SpanStatusCode.ERROR });
          }
          span.end();
        }),
      );
    },

    mark(name, attrs, startedAt) {
      const tenant = typeof attrs.tenant === "string" ? attrs.tenant : undefined;
      record(name, tenant, (performance.now() - startedAt) / 1000);
      tracing?.tracer
        .startSpan(name, { attributes: attributes(attrs, "hypha."), startTime: startedAt })
        .end();
    },

    request(headers, name, attrs, next) {
      const t = tracing;
      if (!t) {
        next();
        return NOOP_REQUEST;
      }
      const { api } = t;
      const parent = api.propagation.extract(api.ROOT_CONTEXT, headers);
      const span = t.tracer.startSpan(
        name,
        { kind: api.SpanKind.SERVER, attributes: attributes(attrs, "") },
        parent,
      );
      let ended = false;
      api.context.with(api.trace.setSpan(parent, span), next);
      return {
        set(more) {
          if (!ended) span.setAttributes(attributes(more, ""));
        },
        end(more) {
          if (ended) return;
          ended = true;
          if (more) span.setAttributes(attributes(more, ""));
          span.end();
        },
      };
    },
  };
}

/** The egress guard with a span (and stage timing) around every outbound call. */
export function tracedEgress(telemetry: Telemetry, guard: EgressGuard, caller: string): EgressGuard {
  return {
    check: (url) => guard.check(url),
    fetch: (url, init) =>
      telemetry.span("egress.fetch", { caller }, async () => {
        const result = await guard.fetch(url, init);
        // Status or refusal reason only; the URL, headers and bodies stay out of the span.
        const active = tracing?.api.trace.getActiveSpan();
        active?.setAttributes(
          result.ok ? { "hypha.status": result.status } : { "hypha.outcome": result.reason },
        );
        return result;
      }),
  };
}
