/**
 * Writes src/operations.ts (and the Python client's operations.py) from an OpenAPI document: one entry per operation with its method, path,
 * path parameters, query, body and answer as TypeScript types. The SDK's types are read from it, and a
 * test regenerates it from a live server's /openapi.json and fails when the committed file differs.
 *
 *   node packages/client/scripts/operations.ts openapi.json   (or --from-server)
 */
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  additionalProperties?: Schema | boolean;
};
type Operation = {
  operationId?: string;
  summary?: string;
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
};
export type OpenApiDocument = { paths: Record<string, Record<string, Operation>> };

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (name: string) => (IDENT.test(name) ? name : JSON.stringify(name));
const pad = (depth: number) => "  ".repeat(depth);

function typeOf(s: Schema | undefined, depth: number): string {
  if (!s || Object.keys(s).length === 0) return "unknown";
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = s.anyOf ?? s.oneOf;
  if (union) return [...new Set(union.map((u) => typeOf(u, depth)))].map(paren).join(" | ");
  if (Array.isArray(s.type)) return s.type.map((t) => typeOf({ ...s, type: t }, depth)).join(" | ");
  switch (s.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return `${paren(typeOf(s.items, depth))}[]`;
    case "object":
      return objectOf(s, depth);
    default:
      return "unknown";
  }
}

function paren(t: string): string {
  return /^[\w".[\]]+$/.test(t) || t.startsWith("{") ? t : `(${t})`;
}

function objectOf(s: Schema, depth: number): string {
  const props = Object.entries(s.properties ?? {});
  const required = new Set(s.required ?? []);
  const lines = props.map(
    ([name, p]) => `${pad(depth + 1)}${key(name)}${required.has(name) ? "" : "?"}: ${typeOf(p, depth + 1)};`,
  );
  const extra = s.additionalProperties;
  if (extra !== undefined && extra !== false)
    lines.push(`${pad(depth + 1)}[key: string]: ${extra === true ? "unknown" : typeOf(extra, depth + 1)};`);
  return lines.length === 0 ? "Record<string, never>" : `{\n${lines.join("\n")}\n${pad(depth)}}`;
}

/** The TypeScript source of src/operations.ts for `doc`. */
export function renderOperations(doc: OpenApiDocument): string {
  const entries: [string, string][] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.operationId) continue;
      const d = 2;
      const params = op.parameters ?? [];
      const group = (where: string) => {
        const ps = params.filter((p) => p.in === where);
        if (ps.length === 0) return "never";
        return objectOf(
          {
            type: "object",
            properties: Object.fromEntries(ps.map((p) => [p.name, p.schema ?? {}])),
            required: ps.filter((p) => p.required).map((p) => p.name),
          },
          d,
        );
      };
      const body = op.requestBody?.content?.["application/json"]?.schema;
      const answers = Object.entries(op.responses ?? {})
        .filter(([code]) => /^2\d\d$/.test(code))
        .map(([, r]) => r.content?.["application/json"]?.schema)
        .map((schema) => (schema ? typeOf(schema, d) : "undefined"));
      const lines = [
        `${pad(d)}method: ${JSON.stringify(method.toUpperCase())};`,
        `${pad(d)}path: ${JSON.stringify(path)};`,
        `${pad(d)}params: ${group("path")};`,
        `${pad(d)}query: ${group("query")};`,
        `${pad(d)}body: ${body ? typeOf(body, d) : "never"};`,
        `${pad(d)}response: ${answers.length ? [...new Set(answers)].map(paren).join(" | ") : "undefined"};`,
      ];
      const doc = op.summary ? `${pad(1)}/** ${op.summary.replaceAll("*/", "* /")} */\n` : "";
      entries.push([op.operationId, `${doc}${pad(1)}${op.operationId}: {\n${lines.join("\n")}\n${pad(1)}};`]);
    }
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    "// Generated from /openapi.json by scripts/operations.ts: do not edit. A test fails when they differ.",
    "/* biome-ignore-all format: generated */",
    "export interface Operations {",
    ...entries.map(([, text]) => text),
    "}",
    "",
    "export type OperationId = keyof Operations;",
    "",
  ].join("\n");
}

const snake = (id: string) => id.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The Python source of clients/python/hypha_client/operations.py for `doc`: one method per operation. */
export function renderPythonOperations(doc: OpenApiDocument): string {
  const methods: [string, string][] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.operationId) continue;
      const params = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
      const hasQuery = (op.parameters ?? []).some((p) => p.in === "query");
      const hasBody = op.requestBody !== undefined;
      const args = [
        "self",
        ...params.map((p) => `${p}: str`),
        ...(hasBody ? [`body: ${op.requestBody?.required ? "JSON" : "Optional[JSON] = None"}`] : []),
        ...(hasQuery ? ["query: Optional[Query] = None"] : []),
      ];
      const call = [
        JSON.stringify(method.toUpperCase()),
        JSON.stringify(path),
        ...(params.length ? [`params={${params.map((p) => `${JSON.stringify(p)}: ${p}`).join(", ")}}`] : []),
        ...(hasBody ? ["body=body"] : []),
        ...(hasQuery ? ["query=query"] : []),
      ];
      const summary = (op.summary ?? op.operationId).replaceAll('"""', "'");
      methods.push([
        op.operationId,
        [
          `    def ${snake(op.operationId)}(${args.join(", ")}) -> Any:`,
          `        """${summary} (${op.operationId})."""`,
          `        return self._request(${call.join(", ")})`,
        ].join("\n"),
      ]);
    }
  }
  methods.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    "# Generated from /openapi.json by packages/client/scripts/operations.ts: do not edit.",
    "# A test fails when the two differ.",
    "from typing import Any, Dict, Mapping, Optional, Union",
    "",
    "JSON = Any",
    "Query = Mapping[str, Union[str, int, float, bool, None]]",
    "",
    "OPERATION_IDS = (",
    ...methods.map(([id]) => `    ${JSON.stringify(id)},`),
    ")",
    "",
    "",
    "class Operations:",
    '    """One method per operation of the Hypha REST API, named by its operationId in snake_case."""',
    "",
    "    def _request(",
    "        self,",
    "        method: str,",
    "        path: str,",
    "        params: Optional[Dict[str, str]] = None,",
    "        body: JSON = None,",
    "        query: Optional[Query] = None,",
    "    ) -> Any:",
    "        raise NotImplementedError",
    "",
    methods.map(([, text]) => text).join("\n\n"),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  const source = process.argv[2];
  if (!source) throw new Error("usage: operations.ts <openapi.json>");
  const doc = JSON.parse(readFileSync(source, "utf8")) as OpenApiDocument;
  writeFileSync(resolve(import.meta.dirname, "../src/operations.ts"), renderOperations(doc));
  writeFileSync(
    resolve(import.meta.dirname, "../../../clients/python/hypha_client/operations.py"),
    renderPythonOperations(doc),
  );
}
