import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: string };

/**
 * A local HTTP receiver (the edge a proxied call reaches). By default it echoes the request it got
 * (method, URL, headers, body) as JSON, which is exactly what a leaky service would do with a secret.
 */
export async function startReceiver(
  handle?: (seen: Seen, res: import("node:http").ServerResponse) => void,
): Promise<{ url: string; port: number; seen: Seen[]; close: () => Promise<void>; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const s: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      seen.push(s);
      if (handle) return handle(s, res);
      res.writeHead(200, {
        "content-type": "application/json",
        "x-echo-auth": String(req.headers.authorization ?? ""),
      });
      res.end(JSON.stringify(s));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A random credential value shaped like a provider token (it must not appear anywhere it should not). */
export function tokenValue(prefix = "tok"): string {
  return `${prefix}_${randomBytes(24).toString("base64url")}`;
}

export const LOCAL = "http://127.0.0.1:*";
