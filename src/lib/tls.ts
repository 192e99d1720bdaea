import { readFileSync } from "node:fs";
import { createSecureContext, getCACertificates, setDefaultCACertificates } from "node:tls";
import { type Config, ConfigError } from "./config.ts";

export type TlsFiles = { cert: string; key: string };

function readPem(path: string, setting: string, env: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read the ${what} ${path} (${setting}, ${env}): ${(err as NodeJS.ErrnoException).code ?? "error"}; check the path and that this user may read it`,
    );
  }
  if (!text.includes("-----BEGIN ")) {
    throw new ConfigError(`${path} (${setting}, ${env}) is not a PEM file: give the ${what} in PEM form`);
  }
  return text;
}

/**
 * The certificate chain and key named by `tlsCertFile` / `tlsKeyFile`, checked to form a usable pair;
 * null when TLS is not configured. Every problem is a ConfigError naming the setting.
 */
export function readTlsFiles(config: Pick<Config, "tlsCertFile" | "tlsKeyFile">): TlsFiles | null {
  if (!config.tlsCertFile || !config.tlsKeyFile) return null;
  const cert = readPem(config.tlsCertFile, "tlsCertFile", "HYPHA_TLS_CERT_FILE", "certificate chain");
  const key = readPem(config.tlsKeyFile, "tlsKeyFile", "HYPHA_TLS_KEY_FILE", "private key");
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ConfigError(
      `the certificate (HYPHA_TLS_CERT_FILE) and key (HYPHA_TLS_KEY_FILE) do not form a usable pair: ${why}; give the key that belongs to the certificate`,
    );
  }
  return { cert, key };
}

/**
 * Adds the certificate authorities in `extraCaFile` to the ones every outbound TLS connection of this
 * process trusts (the egress guard's dispatcher, OIDC discovery, the judge), beside the bundled roots.
 * Certificates are always verified; this only widens whom they may be issued by.
 */
export function trustExtraCertificateAuthorities(config: Pick<Config, "extraCaFile">): number {
  if (!config.extraCaFile) return 0;
  const pem = readPem(config.extraCaFile, "extraCaFile", "HYPHA_EXTRA_CA_FILE", "CA bundle");
  const extra = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (extra.length === 0) {
    throw new ConfigError(
      `${config.extraCaFile} (extraCaFile, HYPHA_EXTRA_CA_FILE) holds no certificate: give a PEM bundle of CA certificates`,
    );
  }
  try {
    setDefaultCACertificates([...getCACertificates("default"), ...extra]);
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ConfigError(
      `${config.extraCaFile} (extraCaFile, HYPHA_EXTRA_CA_FILE) is not a usable CA bundle: ${why}`,
    );
  }
  return extra.length;
}
