import {
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
  ErrorCode as RpcCode,
} from "@modelcontextprotocol/sdk/types.js";
import { ERROR_STATUS, type ErrorCode } from "../../lib/errors.ts";

/** The HTTP status a REST route answers where MCP answers with a JSON-RPC error code. */
const RPC_STATUS: Partial<Record<number, number>> = {
  [RpcCode.ParseError]: 400,
  [RpcCode.InvalidRequest]: 400,
  [RpcCode.MethodNotFound]: 404,
  [RpcCode.InvalidParams]: 422,
  [RpcCode.InternalError]: 500,
};

/** The SDK reports its own refusals of a tool call (unknown tool, invalid arguments) as tool errors like this. */
const SDK_TOOL_ERROR = /^MCP error (-?\d+):/;

const rpcStatus = (code: number) => RPC_STATUS[code] ?? 400;

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_STATUS, code);
}

/** The status of a tool result: 200, or the status of the error code it carries (our tools always name one). */
function toolStatus(answer: Record<string, unknown>): number {
  const result = answer as { isError?: unknown; structuredContent?: unknown; content?: unknown };
  if (result.isError !== true) return 200;
  const code = (result.structuredContent as { error?: { code?: unknown } } | undefined)?.error?.code;
  if (isErrorCode(code)) return ERROR_STATUS[code];
  const first = Array.isArray(result.content)
    ? (result.content[0] as { text?: unknown } | undefined)
    : undefined;
  const sdk = typeof first?.text === "string" ? SDK_TOOL_ERROR.exec(first.text) : null;
  return sdk?.[1] ? rpcStatus(Number(sdk[1])) : 500;
}

/**
 * The outcome of an MCP request as the status a REST request would have had, read from the message
 * that answers it: a tool error carrying NOT_FOUND is a 404, APPROVAL_REQUIRED a 403, a success 200.
 * `undefined` when `message` is not the answer to request `id` (notifications carry no id).
 */
export function answerStatus(message: JSONRPCMessage, id: RequestId | undefined): number | undefined {
  if (id === undefined) return undefined;
  if (isJSONRPCErrorResponse(message)) return message.id === id ? rpcStatus(message.error.code) : undefined;
  if (isJSONRPCResultResponse(message)) return message.id === id ? toolStatus(message.result) : undefined;
  return undefined;
}
