import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { HyphaApp } from "../app.ts";
import { createConnectorBody } from "../modules/connectors/connectors.contracts.ts";
import { CONNECTOR_SOURCES } from "../modules/connectors/connectors.schemas.ts";
import type { Actor } from "../platform/auth/actor.ts";

type Embedded = <T>(opts: { data?: string }, fn: (app: HyphaApp) => Promise<T>) => Promise<void>;

/**
 * `hypha connector create|list|delete|health`, run on the data directory as the instance admin.
 * Prefer `--secret-env` (the secret stays in the server's environment); `--secret-file` reads an
 * inline secret from a file so it never appears in shell history or the process list.
 */
export function registerConnectorCommands(
  program: Command,
  deps: { embedded: Embedded; actor: () => Actor; dataOption: () => import("commander").Option },
): void {
  const connector = program.command("connector").description("manage inbound webhook connectors");
  connector
    .command("create")
    .requiredOption("--tenant <id>", "tenant id")
    .requiredOption("--name <name>", "connector name")
    .requiredOption("--source <source>", CONNECTOR_SOURCES.join("|"))
    .requiredOption("--namespace <ns>", "namespace the memories go to")
    .option("--secret-env <NAME>", "environment variable holding the signing secret")
    .option("--secret-file <path>", "file holding the signing secret")
    .option("--config <path>", "JSON file with the full connector config (overrides the flags above)")
    .addOption(deps.dataOption())
    .action(
      (opts: {
        tenant: string;
        name: string;
        source: string;
        namespace: string;
        secretEnv?: string;
        secretFile?: string;
        config?: string;
        data?: string;
      }) =>
        deps.embedded(opts, async (app) => {
          const config = opts.config
            ? (JSON.parse(readFileSync(opts.config, "utf8")) as unknown)
            : {
                source: opts.source,
                mapping: { namespace: opts.namespace },
                ...(opts.secretEnv ? { secretEnv: opts.secretEnv } : {}),
                ...(opts.secretFile ? { secret: readFileSync(opts.secretFile, "utf8").trim() } : {}),
              };
          const input = createConnectorBody.parse({ name: opts.name, config });
          return app.services.connectors.connectors.create(deps.actor(), opts.tenant, input);
        }),
    );
  connector
    .command("list")
    .requiredOption("--tenant <id>", "tenant id")
    .addOption(deps.dataOption())
    .action((opts: { tenant: string; data?: string }) =>
      deps.embedded(opts, (app) =>
        app.services.connectors.connectors.list(deps.actor(), opts.tenant, { limit: 200 }),
      ),
    );
  connector
    .command("delete <connectorId>")
    .requiredOption("--tenant <id>", "tenant id")
    .addOption(deps.dataOption())
    .action((connectorId: string, opts: { tenant: string; data?: string }) =>
      deps.embedded(opts, (app) =>
        app.services.connectors.connectors.remove(deps.actor(), opts.tenant, connectorId),
      ),
    );
  connector
    .command("health <connectorId>")
    .requiredOption("--tenant <id>", "tenant id")
    .addOption(deps.dataOption())
    .action((connectorId: string, opts: { tenant: string; data?: string }) =>
      deps.embedded(opts, (app) =>
        app.services.connectors.connectors.health(deps.actor(), opts.tenant, connectorId),
      ),
    );
}
