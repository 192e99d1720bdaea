/**
 * The channel between `hypha serve` and `hypha proxy`: HTTP over a unix socket that only the owner
 * may connect to (the socket is 0600 inside a 0700 directory), and a shared token on every call,
 * compared in constant time. The serving process sends a sealed credential and its binding; the proxy
 * opens it, makes the call and answers with the scrubbed response. Credential values never cross it
 * towards the serving process.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { dirname } from "node:path";
import { AppError } from "../../lib/errors.ts";
import { constantTimeEqual } from "../../lib/secrets.ts";
import type { BrokerCore } from "./broker-core.ts";

export const PROXY_TOKEN_HEADER = "x-hypha-proxy-token";
const OPS = ["seal", "execute", "exchange", "refresh", "revoke"] as const;
type Op = (typeof OPS)[number];
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Serves a broker core on a unix socket. Returns the server (close it to stop). */
export async function serveBrokerChannel(opts: {
  core: BrokerCore;
  socketPath: string;
  token: string;
  onError?: (err: unknown) => void;
}): Promise<Server> {
  const dir = dirname(opts.socketPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(opts.socketPath)) rmSync(opts.socketPath);
  const server = createServer((req, res) => {
    const answer = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const op = (req.url ?? "").slice(1) as Op;
    const token = req.headers[PROXY_TOKEN_HEADER];
    if (req.method !== "POST" || typeof token !== "string" || !constantTimeEqual(token, opts.token)) {
      answer(401, { error: "unauthenticated" });
      req.resume();
      return;
    }
    if (!OPS.includes(op)) {
      answer(404, { error: "unknown operation" });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_MESSAGE_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on("end", () => {
      let input: never;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString("utf8")) as never;
      } catch {
        answer(400, { error: "malformed" });
        return;
      }
      const fn = opts.core[op] as (i: never) => Promise<unknown>;
      fn(input).then(
        (out) => answer(200, out),
        (err: unknown) => {
          opts.onError?.(err);
          answer(500, { error: "internal" });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socketPath, () => resolve());
  });
  chmodSync(opts.socketPath, 0o600);
  return server;
}

/**
 * A broker core reached over the channel. Any failure to reach the proxy (not running, socket gone,
 * refused token, no answer in time) is 503 PROXY_UNAVAILABLE; nothing else in the server depends on it.
 */
export function brokerChannelClient(opts: {
  socketPath: string;
  token: string;
  timeoutMs: number;
}): BrokerCore {
  const call = (op: Op, input: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const unavailable = (why: string) =>
        reject(new AppError("PROXY_UNAVAILABLE", `the credential proxy is unavailable (${why})`));
      const body = Buffer.from(JSON.stringify(input));
      const req = request(
        {
          socketPath: opts.socketPath,
          path: `/${op}`,
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": body.length,
            [PROXY_TOKEN_HEADER]: opts.token,
          },
          timeout: opts.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", () => unavailable("answer interrupted"));
          res.on("end", () => {
            if (res.statusCode !== 200) {
              unavailable(`status ${res.statusCode ?? 0}`);
              return;
            }
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
            } catch {
              unavailable("malformed answer");
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err: NodeJS.ErrnoException) => unavailable(err.code ?? "error"));
      req.end(body);
    });
  return {
    seal: (i) => call("seal", i) as ReturnType<BrokerCore["seal"]>,
    execute: (i) => call("execute", i) as ReturnType<BrokerCore["execute"]>,
    exchange: (i) => call("exchange", i) as ReturnType<BrokerCore["exchange"]>,
    refresh: (i) => call("refresh", i) as ReturnType<BrokerCore["refresh"]>,
    revoke: (i) => call("revoke", i) as ReturnType<BrokerCore["revoke"]>,
  };
}
