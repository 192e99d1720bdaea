import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import {
  type CreateConnectorInput,
  iso,
  rotationOf,
  storedConfig,
  toConnectorView,
  toDeliveryView,
  toHealth,
  type UpdateConnectorInput,
} from "./connectors.contracts.ts";
import {
  bodyLimitFor,
  type ConnectorConfig,
  connectorConfigSchema,
  secretEnvAllowed,
} from "./connectors.schemas.ts";
import { type CipherOf, openField, sealField } from "./connectors.sealing.ts";
import { type ConnectorRow, connectorsStore } from "./connectors.store.ts";

/** Splits a parsed config into what is stored as JSON and the inline secret (kept in its own column). */
function split(config: ConnectorConfig): { json: string; secret: string | null } {
  const { secret, ...rest } = config;
  return { json: JSON.stringify(rest), secret: secret ?? null };
}

function validationError(issues: readonly { path: PropertyKey[]; message: string }[]): AppError {
  return new AppError("VALIDATION_FAILED", "invalid connector config", {
    details: issues.slice(0, 20).map((i) => ({
      path: ["body", "config", ...i.path.map(String)].join("."),
      message: i.message,
    })),
  });
}

/**
 * Connector configuration per tenant. The inline signing secret sits in the tenant's vault beside the
 * config, sealed with the tenant cipher (bound to the connector id), and never leaves this service:
 * views show only whether one is configured.
 */
export function createConnectorsService(deps: {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  audit: AuditSink;
  cipher: CipherOf;
  /** `connectorSecretEnvPrefix`: the names `secretEnv` may take (see `secretEnvAllowed`). */
  secretEnvPrefix: string | undefined;
}) {
  const { storage, clock, tenants } = deps;

  /** Refuses (422) a `secretEnv` the connector may not name, before anything is stored. */
  const checkSecretEnv = (config: { secretEnv?: string | undefined }) => {
    if (config.secretEnv === undefined || secretEnvAllowed(config.secretEnv, deps.secretEnvPrefix)) return;
    throw validationError([
      {
        path: ["secretEnv"],
        message:
          deps.secretEnvPrefix === undefined
            ? "a connector may not name the server's own settings (HYPHA_…)"
            : `the operator allows only variables named ${deps.secretEnvPrefix}…`,
      },
    ]);
  };

  const sealSecret = async (tenantId: string, connectorId: string, secret: string | null) =>
    secret === null ? null : sealField(await deps.cipher(tenantId), connectorId, "secret", secret);
  const openSecret = async (row: ConnectorRow) =>
    row.secret === null
      ? null
      : openField(await deps.cipher(row.tenant_id), row.id, "secret", row.secret).toString("utf8");

  /**
   * The previous secret while its grace period runs. Once it has expired it is erased, with an
   * audit event, the first time anyone looks (a delivery or a read), so no sweeper is needed.
   */
  async function previousSecret(row: ConnectorRow): Promise<string | undefined> {
    if (row.previous_secret == null) return undefined;
    const now = clock.now();
    if ((row.previous_secret_expires_at ?? 0) > now) {
      return openField(
        await deps.cipher(row.tenant_id),
        row.id,
        "previous_secret",
        row.previous_secret,
      ).toString("utf8");
    }
    const db = await storage.tenant(row.tenant_id);
    await db.transaction(async (tx) => {
      if (!(await connectorsStore.clearPrevious(tx, row.tenant_id, row.id, now))) return;
      await deps.audit(
        tx,
        {
          tenantId: row.tenant_id,
          actor: { type: "system", id: "connectors" },
          action: "connector.secret_previous_expired",
          targetIds: [row.id],
          details: { expired_at: iso(row.previous_secret_expires_at ?? null) },
        },
        now,
      );
    });
    row.previous_secret = null;
    row.previous_secret_expires_at = null;
    return undefined;
  }

  async function load(tenantId: string, connectorId: string): Promise<ConnectorRow> {
    const db = await storage.tenant(tenantId);
    const row = await connectorsStore.byId(db, tenantId, connectorId);
    if (!row) throw new AppError("NOT_FOUND", "connector not found");
    return row;
  }

  return {
    async create(actor: Actor, tenantId: string, input: CreateConnectorInput) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "connectors:manage");
      await tenants.requireActive(tenantId);
      checkSecretEnv(input.config);
      const now = clock.now();
      const { json, secret } = split(input.config);
      const id = newId("connector", now);
      const row: ConnectorRow = {
        id,
        tenant_id: tenantId,
        name: input.name,
        source: input.config.source,
        config: json,
        secret: await sealSecret(tenantId, id, secret),
        created_at: now,
        updated_at: now,
      };
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        if (await connectorsStore.byName(tx, tenantId, input.name)) {
          throw new AppError("CONFLICT", "a connector with this name exists");
        }
        await connectorsStore.insert(tx, row);
        await deps.audit(
          tx,
          {
            tenantId,
            actor,
            action: "connector.created",
            targetIds: [row.id],
            origin: actor.origin,
            details: { source: row.source, name: row.name, secret_inline: secret !== null },
          },
          now,
        );
      });
      return toConnectorView(row);
    },

    async list(actor: Actor, tenantId: string, page: { after?: string | undefined; limit: number }) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "connectors:read");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const rows = await connectorsStore.list(db, tenantId, page.after ?? "", page.limit + 1);
      const items = rows.slice(0, page.limit).map(toConnectorView);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async get(actor: Actor, tenantId: string, connectorId: string) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "connectors:read");
      await tenants.requireActive(tenantId);
      return toConnectorView(await load(tenantId, connectorId));
    },

    async update(actor: Actor, tenantId: string, connectorId: string, input: UpdateConnectorInput) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "connectors:manage");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      const cipher = await deps.cipher(tenantId);
      const row = await db.transaction(async (tx) => {
        const existing = await connectorsStore.byId(tx, tenantId, connectorId);
        if (!existing) throw new AppError("NOT_FOUND", "connector not found");
        const next: ConnectorRow = { ...existing, name: input.name ?? existing.name, updated_at: now };
        let rotated = false;
        if (input.config !== undefined) {
          const current =
            existing.secret === null
              ? null
              : openField(cipher, existing.id, "secret", existing.secret).toString("utf8");
          const given = input.config as Record<string, unknown> | null;
          const keepSecret =
            typeof given === "object" &&
            given !== null &&
            given.secret === undefined &&
            given.secretEnv === undefined &&
            current !== null;
          const parsed = connectorConfigSchema.safeParse(keepSecret ? { ...given, secret: current } : given);
          if (!parsed.success) throw validationError(parsed.error.issues);
          checkSecretEnv(parsed.data);
          const { json, secret } = split(parsed.data);
          rotated = secret !== current;
          next.config = json;
          next.secret =
            secret === null
              ? null
              : rotated
                ? sealField(cipher, existing.id, "secret", secret)
                : existing.secret;
          next.source = parsed.data.source;
        }
        if (next.name !== existing.name && (await connectorsStore.byName(tx, tenantId, next.name))) {
          throw new AppError("CONFLICT", "a connector with this name exists");
        }
        await connectorsStore.update(tx, next);
        // Replacing the secret outright is a swap: a rotation in progress ends with it.
        const rotationEnded =
          rotated && (await connectorsStore.clearPrevious(tx, tenantId, connectorId, now));
        await deps.audit(
          tx,
          {
            tenantId,
            actor,
            action: "connector.updated",
            targetIds: [connectorId],
            origin: actor.origin,
            details: {
              config_replaced: input.config !== undefined,
              secret_changed: rotated,
              ...(rotationEnded ? { rotation_ended: true } : {}),
            },
          },
          now,
        );
        return next;
      });
      return toConnectorView(row);
    },

    async remove(actor: Actor, tenantId: string, connectorId: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "connectors:manage");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      return db.transaction(async (tx) => {
        const existing = await connectorsStore.byId(tx, tenantId, connectorId);
        if (!existing) throw new AppError("NOT_FOUND", "connector not found");
        await connectorsStore.remove(tx, tenantId, connectorId);
        await deps.audit(
          tx,
          { tenantId, actor, action: "connector.deleted", targetIds: [connectorId], origin: actor.origin },
          now,
        );
        return toConnectorView(existing);
      });
    },

    async health(actor: Actor, tenantId: string, connectorId: string) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "connectors:read");
      await tenants.requireActive(tenantId);
      const row = await load(tenantId, connectorId);
      await previousSecret(row);
      const db = await storage.tenant(tenantId);
      const [h, pending, dead, outcomes] = await Promise.all([
        connectorsStore.health(db, connectorId),
        connectorsStore.countDeliveries(db, connectorId, "pending"),
        connectorsStore.countDeliveries(db, connectorId, "dead"),
        connectorsStore.outcomes(db, connectorId),
      ]);
      return toHealth(connectorId, h, pending, dead, outcomes, rotationOf(row, clock.now()));
    },

    /** A connector's newest deliveries with their outcome and reason (never their payload). */
    async deliveries(actor: Actor, tenantId: string, connectorId: string, q: { limit: number }) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "connectors:read");
      await tenants.requireActive(tenantId);
      await load(tenantId, connectorId);
      const db = await storage.tenant(tenantId);
      const rows = await connectorsStore.recentDeliveries(db, tenantId, connectorId, q.limit);
      return { items: rows.map(toDeliveryView) };
    },

    /**
     * Rolls the signing secret: the given secret becomes current and the one it replaces keeps
     * verifying until the grace period ends, so deliveries the sender signed before it switched are
     * still accepted. Only inline secrets roll (a `secretEnv` secret is rolled where it is set).
     */
    async rotateSecret(
      actor: Actor,
      tenantId: string,
      connectorId: string,
      input: { secret: string; grace_seconds: number },
    ) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "connectors:manage");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      const cipher = await deps.cipher(tenantId);
      const row = await db.transaction(async (tx) => {
        const existing = await connectorsStore.byId(tx, tenantId, connectorId);
        if (!existing) throw new AppError("NOT_FOUND", "connector not found");
        const config = storedConfig(existing, null);
        if (existing.secret === null) {
          throw new AppError(
            "CONFLICT",
            config.secretEnv === undefined
              ? "the connector has no secret to rotate; set one with PATCH"
              : "the secret comes from an environment variable; roll it there",
          );
        }
        const current = openField(cipher, existing.id, "secret", existing.secret).toString("utf8");
        if (current === input.secret) throw new AppError("CONFLICT", "the new secret equals the current one");
        const parsed = connectorConfigSchema.safeParse({ ...config, secret: input.secret });
        if (!parsed.success) throw validationError(parsed.error.issues);
        const expiresAt = now + input.grace_seconds * 1000;
        const replacedRunning = existing.previous_secret != null;
        await connectorsStore.setRotation(tx, tenantId, connectorId, {
          secret: sealField(cipher, existing.id, "secret", input.secret),
          previous: sealField(cipher, existing.id, "previous_secret", current),
          expiresAt,
          at: now,
        });
        await deps.audit(
          tx,
          {
            tenantId,
            actor,
            action: "connector.secret_rotated",
            targetIds: [connectorId],
            origin: actor.origin,
            details: {
              grace_seconds: input.grace_seconds,
              previous_expires_at: new Date(expiresAt).toISOString(),
              ...(replacedRunning ? { replaced_running_rotation: true } : {}),
            },
          },
          now,
        );
        return (await connectorsStore.byId(tx, tenantId, connectorId)) ?? existing;
      });
      return { connector: toConnectorView(row), rotation: rotationOf(row, now) };
    },

    /** Ends a rotation's grace period now: from here on only the current secret verifies. */
    async endRotation(actor: Actor, tenantId: string, connectorId: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "connectors:manage");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      const row = await db.transaction(async (tx) => {
        const existing = await connectorsStore.byId(tx, tenantId, connectorId);
        if (!existing) throw new AppError("NOT_FOUND", "connector not found");
        const ended = await connectorsStore.clearPrevious(tx, tenantId, connectorId, now);
        if (!ended) throw new AppError("CONFLICT", "no rotation is in progress");
        await deps.audit(
          tx,
          {
            tenantId,
            actor,
            action: "connector.secret_rotation_ended",
            targetIds: [connectorId],
            origin: actor.origin,
            details: { early: (existing.previous_secret_expires_at ?? 0) > now },
          },
          now,
        );
        return (await connectorsStore.byId(tx, tenantId, connectorId)) ?? existing;
      });
      return { connector: toConnectorView(row), rotation: rotationOf(row, now) };
    },

    /**
     * For ingestion only (no actor: the signature authenticates). Undefined when the tenant is not an
     * active tenant or has no such connector; never creates a vault for an unknown tenant.
     */
    async resolve(tenantId: string, connectorId: string) {
      try {
        await tenants.requireActive(tenantId);
      } catch {
        return undefined;
      }
      const db = await storage.tenant(tenantId);
      const row = await connectorsStore.byId(db, tenantId, connectorId);
      if (!row) return undefined;
      return {
        row,
        config: storedConfig(row, await openSecret(row)),
        previousSecret: await previousSecret(row),
      };
    },

    /**
     * The body limit of a connector's endpoint (before its body is read, so no secret is opened).
     * Undefined when the tenant or connector is unknown.
     */
    async bodyLimit(tenantId: string, connectorId: string, apiBodyLimit: number) {
      try {
        await tenants.requireActive(tenantId);
      } catch {
        return undefined;
      }
      const row = await connectorsStore.byId(await storage.tenant(tenantId), tenantId, connectorId);
      return row ? bodyLimitFor(storedConfig(row, null), apiBodyLimit) : undefined;
    },

    /** Records that a delivery verified only with the previous secret (the sender has not switched yet). */
    async notePreviousSecretUsed(tenantId: string, connectorId: string) {
      const db = await storage.tenant(tenantId);
      await connectorsStore.bumpHealth(db, connectorId, { previous_secret_verified: 1 });
    },
  };
}

export type ConnectorsService = ReturnType<typeof createConnectorsService>;
