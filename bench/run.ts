/**
 * Runs every benchmark (or the ones named: `node bench/run.ts core mcp`) one after another. Each
 * prints its section; only with `--write` does it replace its section of docs/benchmarks.md.
 */
const suites: Record<string, () => Promise<unknown>> = {
  "audit-crypto": async () => (await import("./audit-crypto.ts")).run(),
  core: async () => (await import("./core.ts")).run(),
  guardrails: async () => (await import("./guardrails.ts")).run(),
  ingest: async () => (await import("./ingest.ts")).run(),
  mcp: async () => (await import("./mcp.ts")).run(),
  recall: async () => (await import("./recall.ts")).run(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("--"));
for (const name of wanted) {
  if (!suites[name]) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(suites).join(", ")}\n`);
    process.exit(2);
  }
}
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stdout.write(`\n=== bench: ${name}\n`);
  await run();
}
