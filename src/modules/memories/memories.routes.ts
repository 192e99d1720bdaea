import { Readable } from "node:stream";
import { z } from "zod";
import type { Action } from "../../platform/auth/actor.ts";
import { actorOf, authErrors, page } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import {
  bulkDeleteBody,
  embeddingStatusResponse,
  exportQuery,
  listQuery,
  memoryIdSchema,
  memorySchema,
  patchBody,
  recallBody,
  recallResponse,
  storeBody,
  storedMemorySchema,
} from "./memories.schemas.ts";
import type { MemoriesService } from "./memories.service.ts";

const idParams = z.object({ id: memoryIdSchema });
/** Memory routes serve agents (keys) and people (user tokens); each names its action. */
const tenantCaller = (action: Action) =>
  ({ auth: { accepts: ["agent_key", "user_token"], action } }) as const;
const deletedSchema = z.object({ deleted: z.number().int() });

export function registerMemoryRoutes(app: TypedApp, memories: MemoriesService): void {
  app.route({
    method: "POST",
    url: "/v1/memories",
    config: tenantCaller("memories:write"),
    schema: {
      operationId: "storeMemory",
      tags: ["memories"],
      summary: "Store a memory, or a batch {memories: [...]} in one transaction",
      body: storeBody,
      response: {
        201: z.union([storedMemorySchema, z.object({ memories: z.array(storedMemorySchema) })]),
        ...authErrors,
      },
    },
    handler: async (req, reply) => {
      const body = req.body;
      if ("memories" in body) {
        return reply.status(201).send({ memories: await memories.store(actorOf(req), body.memories) });
      }
      const stored = await memories.store(actorOf(req), [body]);
      return reply.status(201).send(stored[0] as (typeof stored)[number]);
    },
  });

  app.route({
    method: "GET",
    url: "/v1/memories",
    config: tenantCaller("memories:read"),
    schema: {
      operationId: "listMemories",
      tags: ["memories"],
      summary: "List current memories, newest first, with filters and a cursor",
      querystring: listQuery,
      response: { 200: page(memorySchema), ...authErrors },
    },
    handler: async (req) => memories.list(actorOf(req), req.query),
  });

  app.route({
    method: "DELETE",
    url: "/v1/memories",
    config: tenantCaller("memories:delete"),
    schema: {
      operationId: "bulkDeleteMemories",
      tags: ["memories"],
      summary: "Erase memories by ids, entity or creation range (every version, index entries too)",
      body: bulkDeleteBody,
      response: { 200: deletedSchema, ...authErrors },
    },
    handler: async (req) => memories.bulkDelete(actorOf(req), req.body),
  });

  app.route({
    method: "POST",
    url: "/v1/memories/recall",
    config: tenantCaller("memories:recall"),
    schema: {
      operationId: "recallMemories",
      tags: ["memories"],
      summary: "Recall the memories relevant to a query, with a context block for a model prompt",
      body: recallBody,
      response: { 200: recallResponse, ...authErrors },
    },
    handler: async (req) => memories.recall(actorOf(req), req.body),
  });

  app.route({
    method: "GET",
    url: "/v1/memories/embeddings/status",
    config: tenantCaller("memories:read"),
    schema: {
      operationId: "getEmbeddingStatus",
      tags: ["memories"],
      summary: "Hybrid recall: the active embedder and how many memories have a vector or wait for one",
      response: { 200: embeddingStatusResponse, ...authErrors },
    },
    handler: async (req) => memories.embeddingStatus(actorOf(req)),
  });

  app.route({
    method: "GET",
    url: "/v1/memories/export",
    config: { ...tenantCaller("memories:export"), admission: "heavy" },
    schema: {
      operationId: "exportMemories",
      tags: ["memories"],
      summary: "Stream memories as NDJSON in id order; resume with ?cursor=<last id>",
      querystring: exportQuery,
    },
    handler: async (req, reply) => {
      const lines = await memories.export(actorOf(req), {
        namespace: req.query.namespace,
        cursor: req.query.cursor,
        includeHistory: req.query.include_history === "true",
      });
      reply.header("content-type", "application/x-ndjson; charset=utf-8");
      return reply.send(Readable.from(lines));
    },
  });

  app.route({
    method: "GET",
    url: "/v1/memories/:id",
    config: tenantCaller("memories:read"),
    schema: {
      operationId: "getMemory",
      tags: ["memories"],
      summary: "Read a memory's current version",
      params: idParams,
      response: { 200: memorySchema, ...authErrors },
    },
    handler: async (req) => memories.get(actorOf(req), req.params.id),
  });

  app.route({
    method: "PATCH",
    url: "/v1/memories/:id",
    config: tenantCaller("memories:write"),
    schema: {
      operationId: "updateMemory",
      tags: ["memories"],
      summary: "Write a new version of a memory",
      params: idParams,
      body: patchBody,
      response: { 200: memorySchema, ...authErrors },
    },
    handler: async (req) => memories.update(actorOf(req), req.params.id, req.body),
  });

  app.route({
    method: "GET",
    url: "/v1/memories/:id/history",
    config: tenantCaller("memories:history"),
    schema: {
      operationId: "memoryHistory",
      tags: ["memories"],
      summary: "Every version of a memory, newest first",
      params: idParams,
      response: { 200: z.object({ versions: z.array(memorySchema) }), ...authErrors },
    },
    handler: async (req) => ({ versions: await memories.history(actorOf(req), req.params.id) }),
  });

  app.route({
    method: "DELETE",
    url: "/v1/memories/:id",
    config: tenantCaller("memories:delete"),
    schema: {
      operationId: "deleteMemory",
      tags: ["memories"],
      summary: "Delete a memory and all its versions",
      params: idParams,
      response: { 200: deletedSchema, ...authErrors },
    },
    handler: async (req) => memories.remove(actorOf(req), req.params.id),
  });

  app.route({
    method: "GET",
    url: "/v1/namespaces",
    config: tenantCaller("memories:read"),
    schema: {
      operationId: "listNamespaces",
      tags: ["memories"],
      summary: "The namespaces holding memories this key can see, with counts",
      response: {
        200: z.object({ items: z.array(z.object({ namespace: z.string(), count: z.number().int() })) }),
        ...authErrors,
      },
    },
    handler: async (req) => ({ items: await memories.namespaces(actorOf(req)) }),
  });
}
