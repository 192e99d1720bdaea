import { type Config, ConfigError } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { serveBrokerChannel } from "./broker-channel.ts";
import { createBrokerCore } from "./broker-core.ts";
import { loadCredentialKeyring } from "./credential-key.ts";

/**
 * `hypha proxy`: the broker core alone, holding the credential key (from HYPHA_CREDENTIAL_KEY, its
 * file, or `<data>/secrets/credential.key`), listening on HYPHA_PROXY_SOCKET for `hypha serve`. It has
 * no database and no memory master key; it only seals, opens and makes outbound calls.
 */
export async function startCredentialProxy(config: Config) {
  if (!config.proxySocket)
    throw new ConfigError("HYPHA_PROXY_SOCKET (or --socket) is required: the unix socket to listen on");
  if (!config.proxyToken) {
    throw new ConfigError(
      "HYPHA_PROXY_TOKEN is required: a random secret shared with hypha serve (openssl rand -base64 32)",
    );
  }
  const loaded = loadCredentialKeyring({
    dataDir: config.dataDir,
    key: config.credentialKey,
    keyFile: config.credentialKeyFile,
    allowGenerate: true,
  });
  if (!loaded.ok) throw new ConfigError(`credential key: ${loaded.message}`);
  const logger = createLogger(config.logLevel);
  const core = createBrokerCore({
    ring: loaded.ring,
    egressAllow: config.egressAllow,
    timeoutMs: config.proxyTimeoutMs,
    maxResponseBytes: config.proxyMaxResponseBytes,
  });
  const server = await serveBrokerChannel({
    core,
    socketPath: config.proxySocket,
    token: config.proxyToken,
    onError: (err) => logger.error({ err }, "credential proxy call failed"),
  });
  logger.info({ socket: config.proxySocket, keySource: loaded.source }, "hypha proxy listening");
  return {
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
