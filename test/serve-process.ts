import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { after } from "node:test";

export const ROOT = resolve(import.meta.dirname, "..");
/** The pinned Node and the CLI, as the README runs them. */
export const HYPHA: readonly string[] = [
  join(ROOT, "node_modules", ".bin", "node"),
  join(ROOT, "bin", "hypha.js"),
];
/** The line `hypha serve` logs once it listens; its first group is the base URL. */
export const LISTENING = /"address":"(https?:\/\/[^"]+)"/;

/** A `hypha` child process: `ready` resolves with the first match of its output. */
export type HyphaProcess = {
  child: ChildProcess;
  ready: Promise<RegExpExecArray>;
  /** Its standard output and error so far, interleaved. */
  output: () => string;
  /** Its standard error alone so far. */
  errors: () => string;
  exited: Promise<number | null>;
};

export type Served = {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
};

/** Processes still running. A test that fails before it stops its process must not hold its file open. */
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts `hypha <args>` (through `command`, default the pinned Node on bin/hypha.js) with exactly
 * `env`; `ready` resolves once its output matches `until`, and rejects if it exits first or has not
 * matched within 30 s. Whatever is still running when the test file ends is killed.
 */
export function startHypha(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  until: RegExp = LISTENING,
  { command = HYPHA, cwd = ROOT }: { command?: readonly string[]; cwd?: string } = {},
): HyphaProcess {
  const [bin, ...pre] = command as [string, ...string[]];
  const child = spawn(bin, [...pre, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((ok) =>
    child.once("exit", (code) => {
      running.delete(child);
      ok(code);
    }),
  );
  const ready = new Promise<RegExpExecArray>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`hypha ${args.join(" ")} did not start:\n${out}`)), 30_000);
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      const m = until.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m);
      }
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`hypha ${args.join(" ")} exited with ${code}:\n${out}`));
    });
  });
  // A test that never awaits `ready` (it stops the process first) leaves no unhandled rejection.
  ready.catch(() => undefined);
  return { child, ready, output: () => out, errors: () => err, exited };
}

/** Sends `signal` and waits for the process to exit (at once when it already has). */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    child.once("exit", () => ok());
    child.kill(signal);
  });
}

/**
 * Starts `hypha serve --port 0` as a child process (through `command`, default the pinned Node on
 * bin/hypha.js) and resolves with its base URL once it logs that it listens.
 */
export async function serveProcess(
  env: Record<string, string>,
  command: readonly string[] = HYPHA,
  cwd = ROOT,
): Promise<Served> {
  const p = startHypha(
    ["serve", "--port", "0"],
    // Event-loop shedding off: these load tests assert which requests fail, not the shedding.
    {
      PATH: process.env.PATH ?? "",
      HYPHA_LOG_LEVEL: "info",
      HYPHA_OVERLOAD_EVENT_LOOP_DELAY_MS: "0",
      ...env,
    },
    LISTENING,
    { command, cwd },
  );
  const m = await p.ready;
  return { child: p.child, url: m[1] ?? "", output: p.output, exited: p.exited };
}
