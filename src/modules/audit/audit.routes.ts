import { actorOf, authErrors } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { auditPage, auditQuery, verifyQuery, verifyResponse } from "./audit.schemas.ts";
import type { AuditService } from "./audit.service.ts";

export function registerAuditRoutes(app: TypedApp, audit: AuditService): void {
  app.route({
    method: "GET",
    url: "/v1/audit/events",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "audit:read" } },
    schema: {
      operationId: "listAuditEvents",
      tags: ["audit"],
      summary: "Audit events, newest first, with filters and a seq cursor",
      querystring: auditQuery,
      response: { 200: auditPage, ...authErrors },
    },
    handler: async (req) => audit.events(actorOf(req), req.query),
  });

  app.route({
    method: "GET",
    url: "/v1/audit/verify",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "audit:verify" } },
    schema: {
      operationId: "verifyAuditChain",
      tags: ["audit"],
      summary: "Verify a chain: HMACs, sequence, retention anchor and signed checkpoints",
      querystring: verifyQuery,
      response: { 200: verifyResponse, ...authErrors },
    },
    handler: async (req) => audit.verify(actorOf(req), req.query.tenant_id),
  });
}
