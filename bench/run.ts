/**
 * Runs every benchmark (or the ones named: `node bench/run.ts core mcp`) one after another. Each
 * prints its section; only with `--write` does it replace its section of docs/benchmarks.md.
 */
const suites: Record<string, () => Promise<unknown>> = {
  "audit-crypto": async () => (await import("./audit-crypto.ts")).run(),
  core: async () => (await import("./core.ts")).run(),
  guardrails: async () => (await import("./guardrails.ts")).run(),
  hardening: async () => (await import("./hardening.ts")).run(),
  ingest: async () => (await import("./ingest.ts")).run(),
  "ingest-corpus": async () => (await import("./ingest-corpus.ts")).run(),
  mcp: async () => (await import("./mcp.ts")).run(),
  proxy: async () => (await import("./proxy.ts")).run(),
  erasure: async () => (await import("./erasure.ts")).run(),
  gateways: async () => (await import("./gateways.ts")).run(),
  storage: async () => (await import("./storage.ts")).run(),
  recall: async () => (await import("./recall.ts")).run(),
  tracing: async () => (await import("./tracing.ts")).run(),
  writes: async () => (await import("./writes.ts")).run(),
};

/**
 * Long runs, only when named (`node bench/run.ts soak`); `mem0` also installs mem0 OSS from the npm
 * registry into a scratch directory. Flags such as `--write` are read by each benchmark.
 */
const onDemand: Record<string, () => Promise<unknown>> = {
  mem0: async () => (await import("./mem0.ts")).run(),
  "recall-ab": async () => (await import("./recall-ab.ts")).run(),
  soak: async () => (await import("./soak.ts")).run(),
  "wal-pages": async () => (await import("./wal-pages.ts")).run(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("--"));
for (const name of wanted) {
  if (!suites[name] && !onDemand[name]) {
    process.stderr.write(
      `unknown benchmark ${name}; known: ${[...Object.keys(suites), ...Object.keys(onDemand)].join(", ")}\n`,
    );
    process.exit(2);
  }
}
for (const [name, run] of Object.entries({ ...suites, ...onDemand })) {
  if (wanted.length > 0 ? !wanted.includes(name) : name in onDemand) continue;
  process.stdout.write(`\n=== bench: ${name}\n`);
  await run();
}
