import type { Registry } from "prom-client";
import { escapeHtml } from "../../lib/html.ts";
import type { TypedApp } from "./server.ts";

type OpenApiDoc = {
  info: { title: string; version: string };
  paths?: Record<string, Record<string, { operationId?: string; summary?: string; tags?: string[] }>>;
};

const DOCS_READERS = {
  accepts: ["admin_key", "agent_key", "metrics_token", "user_token"],
  action: "platform:docs",
  rateLimited: false,
} as const;

/**
 * /openapi.json, a readable /docs page built from it, and /metrics (which needs credentials).
 * The API reference describes a public contract and holds no data, so it is served without
 * credentials unless `docsRequireAuth` (HYPHA_DOCS_REQUIRE_AUTH) asks for any valid credential.
 */
export function registerPlatformRoutes(
  app: TypedApp,
  registry: Registry,
  opts: { docsRequireAuth: boolean } = { docsRequireAuth: false },
): void {
  const docsAuth = opts.docsRequireAuth ? DOCS_READERS : ({ public: true } as const);
  app.route({
    method: "GET",
    url: "/openapi.json",
    config: { auth: docsAuth },
    schema: { hide: true },
    handler: async () => app.swagger(),
  });

  app.route({
    method: "GET",
    url: "/docs",
    config: { auth: docsAuth },
    schema: { hide: true },
    handler: async (_req, reply) => {
      const doc = app.swagger() as unknown as OpenApiDoc;
      const rows = Object.entries(doc.paths ?? {}).flatMap(([path, ops]) =>
        Object.entries(ops).map(
          ([method, op]) =>
            `<tr><td><code>${escapeHtml(method.toUpperCase())}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.operationId ?? "")}</td><td>${escapeHtml(op.summary ?? "")}</td></tr>`,
        ),
      );
      reply.header("content-type", "text/html; charset=utf-8");
      reply.header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'");
      return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)}</title>
<style>body{font:14px system-ui;margin:2rem}td{padding:.25rem .75rem;border-bottom:1px solid #ddd}</style></head>
<body><h1>${escapeHtml(doc.info.title)} v${escapeHtml(doc.info.version)}</h1>
<p>The machine-readable contract is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Operation</th><th>Summary</th></tr></thead><tbody>${rows.join("")}</tbody></table></body></html>`;
    },
  });

  app.route({
    method: "GET",
    url: "/metrics",
    config: { auth: { accepts: ["admin_key", "metrics_token"], action: "metrics:read", rateLimited: false } },
    schema: { hide: true },
    handler: async (_req, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    },
  });
}
