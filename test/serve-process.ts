import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { after } from "node:test";

export const ROOT = resolve(import.meta.dirname, "..");

export type Served = {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
};

/** Servers still running. A test that fails before it stops its server must not hold its file open. */
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts `hypha serve --port 0` as a child process (through `command`, default the pinned Node on
 * bin/hypha.js) and resolves with its base URL once it logs that it listens.
 */
export function serveProcess(
  env: Record<string, string>,
  command: readonly string[] = ["./node_modules/.bin/node", "bin/hypha.js"],
  cwd = ROOT,
): Promise<Served> {
  const [bin, ...args] = command as [string, ...string[]];
  const child = spawn(bin, [...args, "serve", "--port", "0"], {
    cwd,
    // Event-loop shedding off: these load tests assert which requests fail, not the shedding.
    env: {
      PATH: process.env.PATH ?? "",
      HYPHA_LOG_LEVEL: "info",
      HYPHA_OVERLOAD_EVENT_LOOP_DELAY_MS: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let out = "";
  const exited = new Promise<number | null>((ok) =>
    child.once("exit", (code) => {
      running.delete(child);
      ok(code);
    }),
  );
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout?.on("data", () => {
      const m = /"address":"(https?:\/\/[^"]+)"/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok({ child, url: m[1], output: () => out, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code}: ${out}`));
    });
  });
}
