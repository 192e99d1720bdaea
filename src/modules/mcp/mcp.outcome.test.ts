import assert from "node:assert/strict";
import { test } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { answerStatus } from "./mcp.outcome.ts";

const toolError = (code: string): JSONRPCMessage => ({
  jsonrpc: "2.0",
  id: 7,
  result: {
    content: [{ type: "text", text: JSON.stringify({ error: { code, message: "x" } }) }],
    structuredContent: { error: { code, message: "x" } },
    isError: true,
  },
});

test("a tool error counts as the status its REST operation would have had", () => {
  assert.equal(answerStatus(toolError("NOT_FOUND"), 7), 404);
  assert.equal(answerStatus(toolError("INSUFFICIENT_SCOPE"), 7), 403);
  assert.equal(answerStatus(toolError("APPROVAL_REQUIRED"), 7), 403);
  assert.equal(answerStatus(toolError("GUARDRAIL_BLOCKED"), 7), 422);
  assert.equal(answerStatus(toolError("AGENT_FROZEN"), 7), 423);
  assert.equal(answerStatus(toolError("INTERNAL"), 7), 500);
});

test("a successful tool result or protocol answer counts as 200", () => {
  const ok: JSONRPCMessage = {
    jsonrpc: "2.0",
    id: "a",
    result: { content: [{ type: "text", text: "{}" }], structuredContent: {} },
  };
  assert.equal(answerStatus(ok, "a"), 200);
  assert.equal(answerStatus({ jsonrpc: "2.0", id: 1, result: { tools: [] } }, 1), 200);
});

test("the SDK's own refusals of a tool call count as their REST equivalents (invalid arguments 422)", () => {
  const invalid: JSONRPCMessage = {
    jsonrpc: "2.0",
    id: 1,
    result: {
      content: [{ type: "text", text: "MCP error -32602: Input validation error: Invalid arguments" }],
      isError: true,
    },
  };
  assert.equal(answerStatus(invalid, 1), 422);
  const unexplained: JSONRPCMessage = {
    jsonrpc: "2.0",
    id: 1,
    result: { content: [{ type: "text", text: "boom" }], isError: true },
  };
  assert.equal(answerStatus(unexplained, 1), 500, "a tool error with no reason is a server failure");
  const inherited = toolError("toString");
  assert.equal(answerStatus(inherited, 7), 500, "only our own codes are read as codes");
});

test("JSON-RPC errors map to HTTP statuses", () => {
  const err = (code: number): JSONRPCMessage => ({ jsonrpc: "2.0", id: 1, error: { code, message: "x" } });
  assert.equal(answerStatus(err(-32601), 1), 404);
  assert.equal(answerStatus(err(-32602), 1), 422);
  assert.equal(answerStatus(err(-32600), 1), 400);
  assert.equal(answerStatus(err(-32603), 1), 500);
  assert.equal(answerStatus(err(-32000), 1), 400);
});

test("only the answer to the request itself is an outcome: other ids and notifications are not", () => {
  assert.equal(answerStatus(toolError("NOT_FOUND"), 8), undefined);
  assert.equal(answerStatus(toolError("NOT_FOUND"), undefined), undefined);
  assert.equal(answerStatus({ jsonrpc: "2.0", method: "notifications/message", params: {} }, 7), undefined);
});
