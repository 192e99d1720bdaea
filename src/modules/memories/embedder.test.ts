import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createOpenAiEmbedder,
  decodeVector,
  EmbedderError,
  type EmbeddingsTransport,
  encodeVector,
  offEmbedder,
  validateAnswer,
} from "./embedder.ts";

const answer = (vectors: number[][]) => ({ data: vectors.map((embedding, index) => ({ index, embedding })) });

test("an embeddings answer is accepted only with one finite, non-zero vector per text, all of one dimension", () => {
  assert.deepEqual(
    validateAnswer(
      answer([
        [1, 0],
        [0, 2],
      ]),
      2,
      null,
    )?.map((v) => [...v]),
    [
      [1, 0],
      [0, 2],
    ],
  );
  assert.equal(validateAnswer(answer([[1, 0]]), 2, null), null, "too few vectors");
  assert.equal(
    validateAnswer(
      answer([
        [1, 0],
        [1, 0, 0],
      ]),
      2,
      null,
    ),
    null,
    "unequal dimensions",
  );
  assert.equal(validateAnswer(answer([[1, 0]]), 1, 3), null, "not the dimension already seen");
  assert.equal(validateAnswer(answer([[Number.POSITIVE_INFINITY, 0]]), 1, null), null, "not finite");
  assert.equal(validateAnswer(answer([[0, 0]]), 1, null), null, "all zero: no direction to compare");
  assert.equal(validateAnswer({ data: [{ embedding: ["1"] }] }, 1, null), null, "not numbers");
  assert.equal(validateAnswer({ nope: true }, 1, null), null);
  // Ordered by index when the server gives them out of order.
  const swapped = {
    data: [
      { index: 1, embedding: [0, 1] },
      { index: 0, embedding: [1, 0] },
    ],
  };
  assert.deepEqual(
    validateAnswer(swapped, 2, null)?.map((v) => [...v]),
    [
      [1, 0],
      [0, 1],
    ],
  );
});

test("vectors are stored as little-endian float32 and read back exactly", () => {
  const v = Float32Array.from([0.5, -1.25, 3e-8, 1]);
  const bytes = encodeVector(v);
  assert.equal(bytes.length, 16);
  assert.equal(bytes.readFloatLE(4), -1.25);
  assert.deepEqual([...decodeVector(bytes)], [...v]);
});

test("the OpenAI-compatible adapter posts {model, input} with the bearer key, names its space model:dimension, refuses garbage and a changed dimension", async () => {
  const sent: { url: string; headers: Record<string, string>; body: string }[] = [];
  let reply = JSON.stringify(answer([[1, 2, 3]]));
  const transport: EmbeddingsTransport = async (url, init) => {
    sent.push({ url, ...init });
    return { ok: true, status: 200, body: reply };
  };
  const e = createOpenAiEmbedder(
    { baseUrl: "http://127.0.0.1:11434/v1/", model: "nomic", apiKey: "sk-x" },
    transport,
  );
  assert.equal(e.id, null, "no dimension before the first answer");
  assert.deepEqual([...((await e.embed(["hello"]))[0] ?? [])], [1, 2, 3]);
  assert.equal(e.id, "openai:nomic:3");
  assert.equal(sent[0]?.url, "http://127.0.0.1:11434/v1/embeddings");
  assert.equal(sent[0]?.headers.authorization, "Bearer sk-x");
  assert.deepEqual(JSON.parse(sent[0]?.body ?? ""), { model: "nomic", input: ["hello"] });

  reply = JSON.stringify(answer([[1, 2]]));
  await assert.rejects(
    e.embed(["hi"]),
    (err) => err instanceof EmbedderError && err.reason === "DIMENSION_CHANGED",
  );
  reply = "{not json";
  await assert.rejects(
    e.embed(["hi"]),
    (err) => err instanceof EmbedderError && err.reason === "BAD_RESPONSE",
  );
  reply = '{"data":[{"embedding":[NaN,1,1]}]}';
  await assert.rejects(
    e.embed(["hi"]),
    (err) => err instanceof EmbedderError && !err.message.includes("sk-x"),
  );
  assert.equal(e.id, "openai:nomic:3", "a refused answer changes nothing");

  const failing = createOpenAiEmbedder({ baseUrl: "http://x/v1", model: "m" }, async () => ({
    ok: false,
    reason: "TIMEOUT",
  }));
  await assert.rejects(
    failing.embed(["a"]),
    (err) => err instanceof EmbedderError && err.reason === "TIMEOUT",
  );
  await assert.rejects(
    offEmbedder.embed(["a"]),
    (err) => err instanceof EmbedderError && err.reason === "OFF",
  );
});
