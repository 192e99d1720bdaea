import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { actorOf, authErrors, page } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { keyIdSchema } from "../keys/keys.schemas.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import {
  approvalIdSchema,
  approvalListQuery,
  approvalSchema,
  decisionBody,
  freezeSchema,
  overrideBody,
  pauseSchema,
  policyBody,
  policyResponse,
} from "./governance.schemas.ts";
import { type GovernanceService, SELF_ADMITTED_OPERATIONS } from "./governance.service.ts";

/** The header an agent repeats its request with once a person approved it. */
export const APPROVAL_HEADER = "x-approval-id";
const APPROVAL_ID_RE = /^apr_[0-9A-HJKMNP-TV-Z]{26}$/;

const tenantParams = z.object({ tenant_id: tenantIdSchema });
const approvalParams = z.object({ id: approvalIdSchema });

function operationOf(req: FastifyRequest): string {
  return (req.routeOptions.schema as { operationId?: string } | undefined)?.operationId ?? "unknown";
}

/**
 * Hooks every route: approvals for governed calls of tenant callers (after validation, so the
 * payload hashed is the one that would run), and the anomaly detector's view of agent traffic.
 */
export function registerGovernanceHooks(app: TypedApp, governance: GovernanceService): void {
  app.addHook("preHandler", async (req, reply) => {
    const actor = req.actor;
    if (!actor || actor.type === "instance_admin") return;
    const policy = req.routeOptions.config.auth;
    if (!policy || "public" in policy) return;
    if (SELF_ADMITTED_OPERATIONS.has(operationOf(req))) return;
    const header = req.headers[APPROVAL_HEADER];
    const approvalId = typeof header === "string" && APPROVAL_ID_RE.test(header) ? header : undefined;
    if (header !== undefined && approvalId === undefined) {
      return reply.status(422).send({
        error: {
          code: "VALIDATION_FAILED",
          message: "X-Approval-Id is not an approval id",
          requestId: req.id,
        },
      });
    }
    const decision = await governance.admit(
      actor,
      {
        operation: operationOf(req),
        action: policy.action,
        method: req.method,
        route: req.routeOptions.url ?? req.url,
        params: req.params,
        query: req.query,
        body: req.body,
      },
      approvalId,
    );
    if (!decision.run)
      return reply.status(202).send({ status: "approval_required", approval: decision.approval });
  });

  // A hijacked reply skips onSend: /mcp records each request's outcome itself (mcp.routes.ts).
  app.addHook("onSend", async (req, reply, payload) => {
    const actor = req.actor;
    // Before the answer leaves, so the caller's next request already meets a pause.
    if (actor?.type === "agent") {
      try {
        await governance.recordOutcome(actor, reply.statusCode);
      } catch (err) {
        req.log.error({ err }, "anomaly detector failed");
      }
    }
    return payload;
  });
}

export function registerGovernanceRoutes(app: TypedApp, governance: GovernanceService): void {
  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/policy",
    config: { auth: { accepts: ["admin_key", "user_token"], action: "policy:read" } },
    schema: {
      operationId: "getTenantPolicy",
      tags: ["governance"],
      summary: "The tenant's governance policy: risk tiers, approvals, anomaly thresholds, guardrails",
      params: tenantParams,
      response: { 200: policyResponse, ...authErrors },
    },
    handler: async (req) => governance.getPolicy(actorOf(req), req.params.tenant_id),
  });

  app.route({
    method: "PUT",
    url: "/v1/tenants/:tenant_id/policy",
    config: { auth: { accepts: ["admin_key", "user_token"], action: "policy:write" } },
    schema: {
      operationId: "putTenantPolicy",
      tags: ["governance"],
      summary: "Replace the tenant's governance policy (omitted fields take their defaults)",
      params: tenantParams,
      body: policyBody,
      response: { 200: policyResponse, ...authErrors },
    },
    handler: async (req) => governance.putPolicy(actorOf(req), req.params.tenant_id, req.body),
  });

  app.route({
    method: "GET",
    url: "/v1/approvals",
    config: { auth: { accepts: ["agent_key", "user_token"], action: "approvals:read" } },
    schema: {
      operationId: "listApprovals",
      tags: ["governance"],
      summary: "Approvals of the tenant (an agent key sees only its own requests)",
      querystring: approvalListQuery,
      response: { 200: page(approvalSchema), ...authErrors },
    },
    handler: async (req) => governance.list(actorOf(req), req.query),
  });

  app.route({
    method: "GET",
    url: "/v1/approvals/:id",
    config: { auth: { accepts: ["agent_key", "user_token"], action: "approvals:read" } },
    schema: {
      operationId: "getApproval",
      tags: ["governance"],
      summary: "One approval and its status",
      params: approvalParams,
      response: { 200: approvalSchema, ...authErrors },
    },
    handler: async (req) => governance.get(actorOf(req), req.params.id),
  });

  for (const decision of ["approve", "reject"] as const) {
    app.route({
      method: "POST",
      url: `/v1/approvals/:id/${decision}`,
      config: { auth: { accepts: ["user_token"], action: "approvals:decide" } },
      schema: {
        operationId: decision === "approve" ? "approveApproval" : "rejectApproval",
        tags: ["governance"],
        summary: `${decision === "approve" ? "Approve" : "Reject"} a pending action (DEVELOPER or ADMIN; one vote per person)`,
        params: approvalParams,
        body: decisionBody,
        response: { 200: approvalSchema, ...authErrors, 409: authErrors[401] },
      },
      handler: async (req) => governance.decide(actorOf(req), req.params.id, decision, req.body?.comment),
    });
  }

  app.route({
    method: "GET",
    url: "/admin/override",
    config: { auth: { accepts: ["admin_key", "user_token"], action: "governance:override" } },
    schema: {
      operationId: "getOverrides",
      tags: ["governance"],
      summary: "Active freezes (an ADMIN sees the global ones and its tenant's)",
      response: { 200: z.object({ items: z.array(freezeSchema) }), ...authErrors },
    },
    handler: async (req) => governance.listOverrides(actorOf(req)),
  });

  app.route({
    method: "PUT",
    url: "/admin/override",
    config: { auth: { accepts: ["admin_key", "user_token"], action: "governance:override" } },
    schema: {
      operationId: "setOverride",
      tags: ["governance"],
      summary:
        "Freeze or unfreeze agent work globally (instance admin), for a tenant, a key or an agent name",
      body: overrideBody,
      response: {
        200: z.object({ frozen: z.boolean(), override: freezeSchema, cancelled_approvals: z.number().int() }),
        ...authErrors,
      },
    },
    handler: async (req) => governance.setOverride(actorOf(req), req.body),
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/keys/:key_id/resume",
    config: { auth: { accepts: ["admin_key", "user_token"], action: "keys:resume" } },
    schema: {
      operationId: "resumeKey",
      tags: ["governance"],
      summary: "Resume a key the anomaly detector paused (DEVELOPER or ADMIN)",
      params: tenantParams.extend({ key_id: keyIdSchema }),
      response: {
        200: pauseSchema.pick({ key_id: true, paused: true }).extend({ resumed: z.boolean() }),
        ...authErrors,
      },
    },
    handler: async (req) => governance.resume(actorOf(req), req.params.tenant_id, req.params.key_id),
  });
}
