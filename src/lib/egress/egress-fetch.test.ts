/**
 * The guard's fetch against servers this test starts on loopback. All traffic goes to 127.0.0.1 or
 * 127.0.0.2; names are answered by injected resolvers, never by DNS.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { after, describe, test } from "node:test";
import { Agent, request } from "undici";
import { createEgressGuard, type Resolver } from "./egress-guard.ts";

type Seen = {
  host: string | undefined;
  url: string | undefined;
  localAddress: string | undefined;
  body: string;
};

type Local = { port: number; seen: Seen[]; connections: () => number; close: () => Promise<void> };

const open: Local[] = [];
after(async () => {
  await Promise.all(open.map((s) => s.close()));
});

function listen(server: Server | TcpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
}

async function startHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = "127.0.0.1",
  port = 0,
): Promise<Local> {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        host: req.headers.host,
        url: req.url,
        localAddress: req.socket.localAddress,
        body: Buffer.concat(chunks).toString(),
      });
      handler(req, res);
    });
  });
  server.on("connection", () => {
    connections += 1;
  });
  const bound = await listen(server, host, port);
  const local: Local = {
    port: bound,
    seen,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(local);
  return local;
}

/** Two servers on one port: "checked" on 127.0.0.2, "rebound" on 127.0.0.1 (retried if the port is taken). */
async function startPair(): Promise<{ checked: Local; rebound: Local }> {
  for (let attempt = 0; ; attempt += 1) {
    const checked = await startHttp((_req, res) => res.end("checked"), "127.0.0.2");
    try {
      const rebound = await startHttp((_req, res) => res.end("rebound"), "127.0.0.1", checked.port);
      return { checked, rebound };
    } catch (err) {
      await checked.close();
      if (attempt >= 4) throw err;
    }
  }
}

/** Always answers the same table; records the names asked. */
function fixedResolver(addresses: string[]) {
  let queries = 0;
  const resolver: Resolver = async () => {
    queries += 1;
    return addresses.map((address) => ({ address }));
  };
  return { resolver, queries: () => queries };
}

describe("fetch: connection pinned to the checked address (DNS rebinding)", () => {
  test("a name that rebinds from an allowed address to 127.0.0.1 is still fetched from the address that was checked", async () => {
    // The "good" server is on 127.0.0.2 (the only allowlisted address); an "attacker target" listens on
    // 127.0.0.1 at the same port. The checked answer stands in for a public address: the test may only
    // send traffic to loopback.
    const { checked, rebound } = await startPair();
    let queries = 0;
    const rebinding: Resolver = async () => {
      queries += 1;
      return [{ address: queries === 1 ? "127.0.0.2" : "127.0.0.1" }];
    };
    const guard = createEgressGuard({
      allow: { cidrs: ["127.0.0.2/32"] },
      resolver: rebinding,
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });

    const url = `http://rebind.test:${checked.port}/hook`;
    const result = await guard.fetch(url, { headers: { Host: "evil.example" } });

    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.body.toString(), "checked");
    assert.equal(result.address, "127.0.0.2");
    assert.deepEqual(checked.seen, [
      { host: `rebind.test:${checked.port}`, url: "/hook", localAddress: "127.0.0.2", body: "" },
    ]);
    assert.equal(rebound.connections(), 0);
    assert.equal(queries, 1, "the name was resolved once, for the check");

    // Control: a client that resolves again at connect time lands on the rebound address.
    const unpinned = new Agent({
      connect: {
        lookup: (_h, _o, cb) => {
          rebinding("rebind.test").then(
            (answers) => cb(null, [{ address: answers[0]?.address ?? "", family: 4 }]),
            (err: NodeJS.ErrnoException) => cb(err, []),
          );
        },
      },
    });
    const control = await request(url, { dispatcher: unpinned });
    assert.equal(await control.body.text(), "rebound");
    await unpinned.close();
  });

  test("a name with one private answer among allowed ones is refused before any connection", async () => {
    const server = await startHttp((_req, res) => res.end("should not be reached"));
    const { resolver } = fixedResolver(["127.0.0.1", "10.0.0.1"]);
    const guard = createEgressGuard({
      allow: { cidrs: ["127.0.0.1/32"] },
      resolver,
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
    const result = await guard.fetch(`http://multi.test:${server.port}/`);
    assert.deepEqual(result, {
      ok: false,
      reason: "ADDRESS_BLOCKED",
      host: "multi.test",
      address: "10.0.0.1",
      range: "private",
    });
    assert.equal(server.connections(), 0);
  });

  test("a loopback URL is refused without an allowance and no connection is made", async () => {
    const server = await startHttp((_req, res) => res.end("should not be reached"));
    const guard = createEgressGuard({ timeoutMs: 5_000, maxResponseBytes: 1024 });
    for (const host of ["127.0.0.1", "2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"]) {
      const result = await guard.fetch(`http://${host}:${server.port}/`);
      assert.equal(result.ok ? "ok" : result.reason, "ADDRESS_BLOCKED", host);
    }
    assert.equal(server.connections(), 0);
  });

  test("https keeps the URL host name as SNI while connecting to the checked address", async () => {
    // A bare TCP listener reads the TLS ClientHello and hangs up: enough to see where the connection
    // went and which server name it asked for, without a certificate.
    const sni: string[] = [];
    const tcp = createTcpServer((socket) => {
      let data = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const name = serverNameFromClientHello(data);
        if (name !== undefined) {
          sni.push(`${name}@${socket.localAddress}`);
          socket.destroy();
        }
      });
      socket.on("error", () => {});
    });
    const port = await listen(tcp, "127.0.0.1", 0);
    const guard = createEgressGuard({
      allow: { cidrs: ["127.0.0.1/32"] },
      resolver: fixedResolver(["127.0.0.1"]).resolver,
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
    const result = await guard.fetch(`https://secure.test:${port}/`);
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    assert.equal(result.ok ? "ok" : result.reason, "REQUEST_FAILED");
    assert.deepEqual(sni, ["secure.test@127.0.0.1"]);
  });
});

describe("fetch: IPv6", () => {
  test("an allowlisted IPv6 literal is fetched from that address", async () => {
    const server = await startHttp((_req, res) => res.end("v6"), "::1");
    const guard = createEgressGuard({
      allow: { cidrs: ["::1/128"] },
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
    const result = await guard.fetch(`http://[::1]:${server.port}/`);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.address, "::1");
    assert.equal(server.seen[0]?.host, `[::1]:${server.port}`);
  });

  test("a name resolving to an allowlisted IPv6 address is fetched through the pinned lookup", async () => {
    const server = await startHttp((_req, res) => res.end("v6"), "::1");
    const guard = createEgressGuard({
      allow: { cidrs: ["::1/128"] },
      resolver: fixedResolver(["::1"]).resolver,
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
    const result = await guard.fetch(`http://six.test:${server.port}/`);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.address, "::1");
  });
});

describe("fetch: redirects", () => {
  test("a 302 is returned as REDIRECT_NOT_FOLLOWED and its target is never requested", async () => {
    const server = await startHttp((req, res) => {
      if (req.url === "/start") {
        res.writeHead(302, { location: "/next" }).end();
      } else {
        res.end("followed");
      }
    });
    const guard = createEgressGuard({
      allow: { cidrs: ["127.0.0.1/32"] },
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
    const result = await guard.fetch(`http://127.0.0.1:${server.port}/start`);
    assert.deepEqual(result, {
      ok: false,
      reason: "REDIRECT_NOT_FOLLOWED",
      host: "127.0.0.1",
      status: 302,
      location: "/next",
    });
    assert.deepEqual(
      server.seen.map((s) => s.url),
      ["/start"],
    );
  });

  test("every redirect status is refused, including 307 and 308 that would replay a POST", async () => {
    let status = 301;
    const server = await startHttp((_req, res) => {
      res.writeHead(status, { location: "http://169.254.169.254/latest/meta-data/" }).end();
    });
    const guard = createEgressGuard({
      allow: { cidrs: ["127.0.0.1/32"] },
      timeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
    for (status of [301, 302, 303, 307, 308]) {
      const result = await guard.fetch(`http://127.0.0.1:${server.port}/`, { method: "POST", body: "{}" });
      assert.equal(result.ok ? "ok" : result.reason, "REDIRECT_NOT_FOLLOWED", String(status));
    }
    assert.equal(server.seen.length, 5);
  });
});

describe("fetch: size and time caps", () => {
  const allowLoopback = { cidrs: ["127.0.0.1/32"] };

  test("a body of exactly the limit is returned whole, with the request body delivered", async () => {
    const server = await startHttp((req, res) => {
      res.end(`${req.method}:`.padEnd(64, "x"));
    });
    const guard = createEgressGuard({ allow: allowLoopback, timeoutMs: 5_000, maxResponseBytes: 64 });
    const result = await guard.fetch(`http://127.0.0.1:${server.port}/in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"event":"test"}',
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.status, 200);
    assert.equal(result.body.length, 64);
    assert.ok(result.body.toString().startsWith("POST:"));
    assert.equal(server.seen[0]?.body, '{"event":"test"}');
  });

  test("a streamed body past the limit is aborted with RESPONSE_TOO_LARGE", async () => {
    let written = 0;
    const server = await startHttp((_req, res) => {
      // Chunked, no content-length; stops by itself after 8 MiB if nobody aborts.
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = () => {
        while (written < 8 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      res.on("close", () => {
        written = Number.POSITIVE_INFINITY;
      });
      pump();
    });
    const guard = createEgressGuard({ allow: allowLoopback, timeoutMs: 5_000, maxResponseBytes: 100_000 });
    const result = await guard.fetch(`http://127.0.0.1:${server.port}/big`);
    assert.deepEqual(result, {
      ok: false,
      reason: "RESPONSE_TOO_LARGE",
      host: "127.0.0.1",
      limitBytes: 100_000,
    });
  });

  test("a declared content-length past the limit is refused before reading the body", async () => {
    const server = await startHttp((_req, res) => {
      res.writeHead(200, { "content-length": "1000000" });
      res.write("a");
    });
    const guard = createEgressGuard({ allow: allowLoopback, timeoutMs: 5_000, maxResponseBytes: 1000 });
    const result = await guard.fetch(`http://127.0.0.1:${server.port}/declared`);
    assert.equal(result.ok ? "ok" : result.reason, "RESPONSE_TOO_LARGE");
  });

  test("a server that never answers ends in TIMEOUT", async () => {
    const server = await startHttp(() => {});
    const guard = createEgressGuard({ allow: allowLoopback, timeoutMs: 150, maxResponseBytes: 1000 });
    const result = await guard.fetch(`http://127.0.0.1:${server.port}/hang`);
    assert.deepEqual(result, { ok: false, reason: "TIMEOUT", host: "127.0.0.1" });
    assert.equal(server.seen.length, 1);
  });

  test("a server that sends headers then trickles the body forever ends in TIMEOUT", async () => {
    const timers: NodeJS.Timeout[] = [];
    const server = await startHttp((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write("."), 20);
      timers.push(t);
      res.on("close", () => clearInterval(t));
    });
    const guard = createEgressGuard({ allow: allowLoopback, timeoutMs: 200, maxResponseBytes: 1_000_000 });
    const result = await guard.fetch(`http://127.0.0.1:${server.port}/slow`);
    for (const t of timers) clearInterval(t);
    assert.deepEqual(result, { ok: false, reason: "TIMEOUT", host: "127.0.0.1" });
  });

  test("a refused connection is REQUEST_FAILED, not an exception", async () => {
    const server = await startHttp(() => {});
    const port = server.port;
    await server.close();
    const guard = createEgressGuard({ allow: allowLoopback, timeoutMs: 2_000, maxResponseBytes: 1000 });
    const result = await guard.fetch(`http://127.0.0.1:${port}/`);
    assert.equal(result.ok ? "ok" : result.reason, "REQUEST_FAILED");
  });
});

/** The server_name from a TLS ClientHello, once the whole first record has arrived; "" if it has none. */
function serverNameFromClientHello(data: Buffer): string | undefined {
  if (data.length < 5) return undefined;
  const recordEnd = 5 + data.readUInt16BE(3);
  if (data.length < recordEnd) return undefined;
  let i = 5 + 4 + 2 + 32; // record header, handshake header, client_version, random
  i += 1 + data.readUInt8(i); // session id
  i += 2 + data.readUInt16BE(i); // cipher suites
  i += 1 + data.readUInt8(i); // compression methods
  const extensionsEnd = i + 2 + data.readUInt16BE(i);
  i += 2;
  while (i + 4 <= extensionsEnd) {
    const type = data.readUInt16BE(i);
    const length = data.readUInt16BE(i + 2);
    if (type === 0) {
      const nameLength = data.readUInt16BE(i + 4 + 3);
      return data.subarray(i + 4 + 5, i + 4 + 5 + nameLength).toString("ascii");
    }
    i += 4 + length;
  }
  return "";
}
