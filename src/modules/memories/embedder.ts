import { z } from "zod";
import { type EgressGuard, guardedPost } from "../../lib/egress/egress-guard.ts";

/**
 * The Embedder port: text in, one vector per text out. `id` names the vector space (model and
 * dimension), and every stored vector carries the id it was made with, so vectors of two models
 * are never compared. Hybrid recall and the embedding worker see only this port.
 */
export type Embedder = {
  /** False for the `off` adapter: no vector is computed, stored or searched. */
  readonly enabled: boolean;
  /** `<adapter>:<model>`: the id without the dimension (null for `off`). */
  readonly name: string | null;
  /**
   * `<adapter>:<model>:<dimension>`, known once the dimension is: from the start for the embedded
   * model, once an answer has fixed it for an API (null before the first successful call of this
   * process), and always null for `off`.
   */
  readonly id: string | null;
  /** One vector per text, in order; rejects with EmbedderError, never returns a partial or invalid answer. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Releases what the adapter holds (the embedded model's thread); calls after it fail. */
  close?(): Promise<void>;
};

export type EmbedderFailure =
  | "TIMEOUT"
  | "EGRESS_BLOCKED"
  | "NETWORK_ERROR"
  | "HTTP_ERROR"
  | "BAD_RESPONSE"
  | "DIMENSION_CHANGED"
  /** The embedded model's queue is full: the call was refused at once. */
  | "BUSY"
  /** The embedded model could not be loaded, or its thread died. */
  | "UNAVAILABLE"
  | "OFF";

/** An embeddings call that failed; `reason` is a code, the message never holds the key or the texts. */
export class EmbedderError extends Error {
  override name = "EmbedderError";
  readonly reason: EmbedderFailure;
  constructor(reason: EmbedderFailure) {
    super(`embeddings call failed: ${reason}`);
    this.reason = reason;
  }
}

/** The default adapter: embeddings are off, recall is lexical. */
export const offEmbedder: Embedder = {
  enabled: false,
  name: null,
  id: null,
  embed: () => Promise.reject(new EmbedderError("OFF")),
};

/** Texts beyond this many characters are cut before they are sent (model context and cost bound). */
export const EMBED_MAX_CHARS = 8192;
/** Largest dimension accepted from a model (the biggest public models use 4,096). */
export const MAX_DIMENSION = 8192;

/** How an embeddings request leaves the process (the egress guard in the server, a stub in unit tests). */
export type EmbeddingsTransport = (
  url: string,
  init: { headers: Record<string, string>; body: string },
) => Promise<{ ok: true; status: number; body: string } | { ok: false; reason: EmbedderFailure }>;

/** A transport through the egress guard: the address is checked, the connection pinned, the deadline kept. */
export function guardedEmbeddingsTransport(guard: EgressGuard): EmbeddingsTransport {
  return guardedPost(guard);
}

const answerSchema = z.object({
  data: z
    .array(z.object({ index: z.number().int().min(0).optional(), embedding: z.array(z.number()) }))
    .max(10_000),
});

/**
 * Checks an embeddings answer: one vector per text (ordered by `index` when given), every vector of
 * the same dimension (and of the dimension already seen, if any), finite numbers, not all zero.
 * Returns the vectors, or null for a garbage answer (which is never stored).
 */
export function validateAnswer(
  payload: unknown,
  count: number,
  dimension: number | null,
): Float32Array[] | null {
  const parsed = answerSchema.safeParse(payload);
  if (!parsed.success || parsed.data.data.length !== count) return null;
  const items = [...parsed.data.data];
  if (items.every((d) => d.index !== undefined)) {
    items.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (items.some((d, i) => d.index !== i)) return null;
  }
  const dim = dimension ?? items[0]?.embedding.length ?? 0;
  if (dim < 1 || dim > MAX_DIMENSION) return null;
  const out: Float32Array[] = [];
  for (const { embedding } of items) {
    if (embedding.length !== dim) return null;
    const v = Float32Array.from(embedding);
    let norm = 0;
    for (const x of v) {
      if (!Number.isFinite(x)) return null;
      norm += x * x;
    }
    if (!(norm > 0) || !Number.isFinite(norm)) return null;
    out.push(v);
  }
  return out;
}

export type OpenAiEmbedderConfig = {
  /** `…/v1`; the adapter posts to `{baseUrl}/embeddings`. */
  baseUrl: string;
  model: string;
  apiKey?: string | undefined;
};

/**
 * Any OpenAI-compatible embeddings API (`POST {baseUrl}/embeddings` with `{model, input}` →
 * `data[].embedding`): OpenAI, Ollama (`http://127.0.0.1:11434/v1`), vLLM, llama.cpp, LM Studio.
 * The first valid answer fixes the dimension for the process; a later answer of another dimension
 * is refused (DIMENSION_CHANGED) rather than mixed in.
 *
 * @example
 * const embedder = createOpenAiEmbedder({ baseUrl: "http://127.0.0.1:11434/v1", model: "nomic-embed-text" }, transport);
 * const [v] = await embedder.embed(["The quarterly offsite is in Lisbon"]);
 */
export function createOpenAiEmbedder(config: OpenAiEmbedderConfig, transport: EmbeddingsTransport): Embedder {
  const url = `${config.baseUrl.replace(/\/+$/, "")}/embeddings`;
  let dimension: number | null = null;
  return {
    enabled: true,
    name: `openai:${config.model}`,
    get id() {
      return dimension === null ? null : `openai:${config.model}:${dimension}`;
    },
    async embed(texts) {
      if (texts.length === 0) return [];
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
      const body = JSON.stringify({
        model: config.model,
        input: texts.map((t) => t.slice(0, EMBED_MAX_CHARS)),
      });
      const res = await transport(url, { headers, body });
      if (!res.ok) throw new EmbedderError(res.reason);
      if (res.status < 200 || res.status >= 300) throw new EmbedderError("HTTP_ERROR");
      let payload: unknown;
      try {
        payload = JSON.parse(res.body);
      } catch {
        throw new EmbedderError("BAD_RESPONSE");
      }
      const vectors = validateAnswer(payload, texts.length, null);
      if (!vectors) throw new EmbedderError("BAD_RESPONSE");
      const dim = vectors[0]?.length ?? 0;
      if (dimension !== null && dim !== dimension) throw new EmbedderError("DIMENSION_CHANGED");
      dimension = dim;
      return vectors;
    },
  };
}

/** Vectors are stored as little-endian float32 (the stored bytes are the same on every platform). */
export function encodeVector(v: Float32Array): Buffer {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i] ?? 0, i * 4);
  return buf;
}

export function decodeVector(bytes: Uint8Array): Float32Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(buf.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
