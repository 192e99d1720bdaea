import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from "jose";
import type { Clock } from "../../lib/clock.ts";
import type { ConnectorConfig } from "./connectors.schemas.ts";
import {
  type InboundHeaders,
  type JwtKeySource,
  type VerifyResult,
  verifyBearer,
  verifyGenericHmac,
  verifyGithub,
  verifyJwt,
  verifySlack,
  verifyStandardWebhooks,
  verifyStripe,
} from "./signatures.ts";

/** The fetch jose uses for remote key sets; inject the egress-guarded client here. */
export type JwksFetch = (url: string, init: RequestInit) => Promise<Response>;

export type InboundVerifierDeps = {
  clock: Clock;
  /** Used for `jwksUrl` key sets. Should be the SSRF-guarded client; defaults to global fetch. */
  fetchJwks?: JwksFetch;
};

export type InboundRequest = {
  config: ConnectorConfig;
  /** The resolved secret (`resolveConnectorSecret`); `undefined` means none configured. */
  secret: string | undefined;
  headers: InboundHeaders;
  /** Raw request bytes, before any parsing. */
  body: Buffer;
};

/**
 * Verifies an inbound delivery according to its connector's scheme. Remote JWKS sets are cached per
 * URL (jose handles refresh and cooldown), so a flood of bad tokens does not become a flood of fetches.
 */
export function createInboundVerifier(deps: InboundVerifierDeps) {
  const remoteSets = new Map<string, JWTVerifyGetKey>();
  const localSets = new WeakMap<object, JWTVerifyGetKey>();

  function remoteSet(url: string): JWTVerifyGetKey {
    let set = remoteSets.get(url);
    if (set === undefined) {
      set = createRemoteJWKSet(new URL(url), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        cacheMaxAge: 600_000,
        ...(deps.fetchJwks === undefined ? {} : { [customFetch]: deps.fetchJwks }),
      });
      remoteSets.set(url, set);
    }
    return set;
  }

  function localSet(jwks: { keys: Record<string, unknown>[] }): JWTVerifyGetKey {
    let set = localSets.get(jwks);
    if (set === undefined) {
      set = createLocalJWKSet(jwks as JSONWebKeySet);
      localSets.set(jwks, set);
    }
    return set;
  }

  function jwtKey(
    config: Extract<ConnectorConfig, { source: "jwt" }>,
    secret: string | undefined,
  ): JwtKeySource {
    const { options } = config;
    const algorithms = options.algorithms ?? ["RS256", "ES256"];
    if (options.jwksUrl !== undefined) {
      return { kind: "jwks", keys: remoteSet(options.jwksUrl), algorithms, remote: true };
    }
    if (options.jwks !== undefined) {
      return { kind: "jwks", keys: localSet(options.jwks), algorithms, remote: false };
    }
    return { kind: "secret", secret };
  }

  return {
    async verify(req: InboundRequest): Promise<VerifyResult> {
      const { config, secret, headers, body } = req;
      const nowMs = deps.clock.now();
      switch (config.source) {
        case "github":
          return verifyGithub({ secret, headers, body });
        case "slack":
          return verifySlack({ secret, headers, body, nowMs, toleranceSec: config.options.toleranceSec });
        case "stripe":
          return verifyStripe({ secret, headers, body, nowMs, toleranceSec: config.options.toleranceSec });
        case "standard":
          return verifyStandardWebhooks({
            secret,
            headers,
            body,
            nowMs,
            toleranceSec: config.options.toleranceSec,
          });
        case "generic_hmac":
          return verifyGenericHmac({ secret, headers, body, nowMs, options: config.options });
        case "jwt":
          return verifyJwt({ headers, body, nowMs, key: jwtKey(config, secret), options: config.options });
        case "bearer":
          return verifyBearer({ secret, headers, options: config.options });
      }
    },
  };
}

export type InboundVerifier = ReturnType<typeof createInboundVerifier>;
