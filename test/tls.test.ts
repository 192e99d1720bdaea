import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type PeerCertificate, connect as tlsConnect } from "node:tls";
import { createEgressGuard } from "../src/lib/egress/egress-guard.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { trustExtraCertificateAuthorities } from "../src/lib/tls.ts";
import { ROOT, serveProcess } from "./serve-process.ts";

const dir = mkdtempSync(join(tmpdir(), "hypha-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A local CA, and a leaf for localhost/127.0.0.1 signed by it; returns the leaf's file names. */
openssl(
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-days",
  "2",
  "-subj",
  "/CN=Hypha Test CA",
  "-keyout",
  "ca.key",
  "-out",
  "ca.pem",
);
function leaf(name: string): { cert: string; key: string } {
  writeFileSync(at(`${name}.ext`), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  );
  openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  );
  return { cert: at(`${name}.pem`), key: at(`${name}.key`) };
}
const first = leaf("first");
const second = leaf("second");
const ca = readFileSync(at("ca.pem"));
// The server reads the files named by the settings; rotation replaces their content in place.
const live = { cert: at("live.pem"), key: at("live.key") };
writeFileSync(live.cert, readFileSync(first.cert));
writeFileSync(live.key, readFileSync(first.key));

function get(url: string, agent?: HttpsAgent) {
  return new Promise<{ status: number; headers: Record<string, unknown>; cn: string; body: string }>(
    (ok, fail) => {
      const req = httpsRequest(url, { ca, ...(agent ? { agent } : {}) }, (res) => {
        const cert = (
          res.socket as unknown as { getPeerCertificate(): PeerCertificate }
        ).getPeerCertificate();
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () =>
          ok({ status: res.statusCode ?? 0, headers: res.headers, cn: String(cert.subject.CN), body }),
        );
      });
      req.on("error", fail);
      req.end();
    },
  );
}

test("HTTPS: TLS 1.3 is served with HSTS, a TLS 1.2-only client is refused, SIGHUP serves a rotated certificate while an open connection keeps working", async () => {
  const env = {
    HYPHA_DATA_DIR: join(dir, "data"),
    HYPHA_ADMIN_KEY: generateSecret(KEY_PREFIX.admin),
    HYPHA_TLS_CERT_FILE: live.cert,
    HYPHA_TLS_KEY_FILE: live.key,
  };
  const served = await serveProcess(env);
  try {
    assert.match(served.url, /^https:\/\//);
    const url = `${served.url}/health/ready`;

    const keepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca });
    const before = await get(url, keepAlive);
    assert.equal(before.status, 200);
    assert.equal(before.cn, "first");
    assert.match(
      String(before.headers["strict-transport-security"]),
      /^max-age=31536000; includeSubDomains$/,
    );

    const { port } = new URL(served.url);
    const tls12 = await new Promise<string>((ok) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: Number(port),
        ca,
        servername: "localhost",
        maxVersion: "TLSv1.2",
      });
      s.on("secureConnect", () => {
        s.destroy();
        ok("connected");
      });
      s.on("error", (err: NodeJS.ErrnoException) => ok(err.code ?? err.message));
    });
    assert.notEqual(tls12, "connected");
    assert.match(tls12, /PROTOCOL|VERSION|ALERT/);

    const tls13 = await new Promise<string>((ok, fail) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: Number(port),
        ca,
        servername: "localhost",
        minVersion: "TLSv1.3",
      });
      s.on("secureConnect", () => {
        const v = s.getProtocol() ?? "";
        s.destroy();
        ok(v);
      });
      s.on("error", fail);
    });
    assert.equal(tls13, "TLSv1.3");

    writeFileSync(live.cert, readFileSync(second.cert));
    writeFileSync(live.key, readFileSync(second.key));
    served.child.kill("SIGHUP");
    for (let i = 0; i < 50 && !served.output().includes("tls certificate reloaded"); i++) {
      await new Promise((ok) => setTimeout(ok, 100));
    }
    // The connection opened before the reload is still served, on its original handshake.
    const reused = await get(url, keepAlive);
    assert.equal(reused.status, 200);
    assert.equal(reused.cn, "first");
    keepAlive.destroy();
    const after = await get(url);
    assert.equal(after.cn, "second");
    assert.equal(served.child.exitCode, null, "SIGHUP did not stop the server");
  } finally {
    served.child.kill("SIGKILL");
  }
});

test("a TLS file that cannot be read stops the start with one hypha: line naming the setting", () => {
  for (const [name, extra] of [
    ["HYPHA_TLS_CERT_FILE", { HYPHA_TLS_CERT_FILE: at("missing.pem"), HYPHA_TLS_KEY_FILE: live.key }],
    ["HYPHA_TLS_KEY_FILE", { HYPHA_TLS_CERT_FILE: live.cert, HYPHA_TLS_KEY_FILE: at("missing.key") }],
    ["HYPHA_TLS_KEY_FILE", { HYPHA_TLS_CERT_FILE: live.cert }],
    ["HYPHA_TLS_KEY_FILE", { HYPHA_TLS_CERT_FILE: first.cert, HYPHA_TLS_KEY_FILE: second.key }],
    ["HYPHA_EXTRA_CA_FILE", { HYPHA_EXTRA_CA_FILE: at("missing-ca.pem") }],
  ] as const) {
    const r = spawnSync("./node_modules/.bin/node", ["bin/hypha.js", "serve", "--port", "0"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HYPHA_DATA_DIR: join(dir, "never"), ...extra },
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? "", /^hypha: /);
    assert.ok(lines[0]?.includes(name), `${lines[0]} names ${name}`);
  }
});

test("outbound calls verify certificates; HYPHA_EXTRA_CA_FILE makes a private CA trusted by the egress guard", async () => {
  const server = createHttpsServer(
    { cert: readFileSync(first.cert), key: readFileSync(first.key) },
    (_req, res) => res.end("private"),
  );
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  try {
    const guard = createEgressGuard({
      allow: { hosts: ["localhost"] },
      resolver: async () => [{ address: "127.0.0.1", family: 4 }],
      timeoutMs: 5000,
      maxResponseBytes: 1024,
    });
    const untrusted = await guard.fetch(`https://localhost:${port}/`);
    assert.equal(untrusted.ok, false, "a certificate from an unknown CA is refused");
    assert.equal(trustExtraCertificateAuthorities({ extraCaFile: at("ca.pem") }), 1);
    const trusted = await guard.fetch(`https://localhost:${port}/`);
    assert.equal(trusted.ok, true, JSON.stringify(trusted));
    if (trusted.ok) assert.equal(trusted.body.toString(), "private");
    assert.equal(untrusted.ok ? "" : untrusted.reason, "REQUEST_FAILED");
  } finally {
    server.close();
  }
});
