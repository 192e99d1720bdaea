/**
 * A stand-in embedding model for benchmarks: an OpenAI-compatible `/v1/embeddings` on 127.0.0.1
 * serving feature-hashing vectors. Deterministic, cheap and equal for every system it is given to; it
 * knows no synonyms, so retrieval quality with it says nothing about a real model.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const DIM = 256;
export const MODEL = `hash-${DIM}`;

/** FNV-1a, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The stand-in model: word unigrams (weight 1) and bigrams (0.5) hashed into 256 signed buckets,
 * L2-normalised. Deterministic and cheap; it knows no synonyms, so its recall is not a real model's.
 */
export function hashEmbedding(text: string): number[] {
  const v = new Float64Array(DIM);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const add = (feature: string, w: number) => {
    const h = fnv1a(feature);
    v[h % DIM] = (v[h % DIM] ?? 0) + (h & 0x80000000 ? -w : w);
  };
  words.forEach((w, i) => {
    add(w, 1);
    if (i > 0) add(`${words[i - 1]} ${w}`, 0.5);
  });
  let norm = 0;
  for (const x of v) norm += x * x;
  if (norm === 0) {
    v[0] = 1;
    norm = 1;
  }
  const scale = 1 / Math.sqrt(norm);
  return Array.from(v, (x) => Math.round(x * scale * 1e6) / 1e6);
}

/** An OpenAI-compatible `/v1/embeddings` on 127.0.0.1; every other path (a chat call) is counted and refused. */
export async function embeddingsServer() {
  const counts = { requests: 0, texts: 0, other: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/embeddings") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          input: string | string[];
          encoding_format?: string;
        };
        const inputs = typeof body.input === "string" ? [body.input] : body.input;
        counts.requests++;
        counts.texts += inputs.length;
        const data = inputs.map((text, index) => {
          const e = hashEmbedding(text);
          const embedding =
            body.encoding_format === "base64"
              ? Buffer.from(new Float32Array(e).buffer).toString("base64")
              : e;
          return { object: "embedding", index, embedding };
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            object: "list",
            data,
            model: MODEL,
            usage: { prompt_tokens: 0, total_tokens: 0 },
          }),
        );
        return;
      }
      counts.other++;
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "no such model here", type: "invalid_request_error" } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/v1`,
    llmUrl: `${base}/llm/v1`,
    counts,
    /** The config settings that point Hypha's embedder at this server. */
    config: { embeddingsUrl: `${base}/v1`, embeddingsModel: MODEL, egressAllow: ["127.0.0.1"] },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
