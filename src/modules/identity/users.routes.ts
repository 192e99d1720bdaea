import { z } from "zod";
import { actorOf, authErrors, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import { createUserBody, updateUserBody, userIdSchema, userSchema } from "./users.schemas.ts";
import type { UsersService } from "./users.service.ts";

const tenantParams = z.object({ tenant_id: tenantIdSchema });
const userParams = tenantParams.extend({ user_id: userIdSchema });
const ACCEPTS = ["admin_key", "agent_key", "user_token"] as const;

export function registerUserRoutes(app: TypedApp, users: UsersService): void {
  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/users",
    config: { auth: { accepts: ACCEPTS, action: "users:create" } },
    schema: {
      operationId: "createUser",
      tags: ["users"],
      summary: "Create a user (a person) with roles and, optionally, a password",
      params: tenantParams,
      body: createUserBody,
      response: { 201: userSchema, ...authErrors, 409: authErrors[401] },
    },
    handler: async (req, reply) =>
      reply.status(201).send(await users.create(actorOf(req), req.params.tenant_id, req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/users",
    config: { auth: { accepts: ACCEPTS, action: "users:read" } },
    schema: {
      operationId: "listUsers",
      tags: ["users"],
      summary: "List a tenant's users",
      params: tenantParams,
      querystring: pageQuery,
      response: { 200: page(userSchema), ...authErrors },
    },
    handler: async (req) =>
      users.list(actorOf(req), req.params.tenant_id, { after: req.query.cursor, limit: req.query.limit }),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/users/:user_id",
    config: { auth: { accepts: ACCEPTS, action: "users:read" } },
    schema: {
      operationId: "getUser",
      tags: ["users"],
      summary: "Read a user",
      params: userParams,
      response: { 200: userSchema, ...authErrors },
    },
    handler: async (req) => users.get(actorOf(req), req.params.tenant_id, req.params.user_id),
  });

  app.route({
    method: "PATCH",
    url: "/v1/tenants/:tenant_id/users/:user_id",
    config: { auth: { accepts: ACCEPTS, action: "users:update" } },
    schema: {
      operationId: "updateUser",
      tags: ["users"],
      summary: "Change a user's roles, status (disabling ends their sessions) or password",
      params: userParams,
      body: updateUserBody,
      response: { 200: userSchema, ...authErrors },
    },
    handler: async (req) => users.update(actorOf(req), req.params.tenant_id, req.params.user_id, req.body),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/users/:user_id/sessions",
    config: { auth: { accepts: ACCEPTS, action: "users:update" } },
    schema: {
      operationId: "endUserSessions",
      tags: ["users"],
      summary:
        "Sign a user out everywhere: refresh tokens revoked, access tokens issued before now refused at once",
      params: userParams,
      response: { 200: z.object({ ended: z.number().int() }), ...authErrors },
    },
    handler: async (req) => users.endSessions(actorOf(req), req.params.tenant_id, req.params.user_id),
  });
}
