import { readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, release, totalmem } from "node:os";
import { resolve } from "node:path";

const FILE = resolve(import.meta.dirname, "../docs/benchmarks.md");

/** One line describing the machine a figure was measured on. */
export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? "unknown cpu";
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()} ${arch()}, Node ${process.versions.node}, SQLite ${process.versions.sqlite ?? "?"}`;
}

/**
 * Replaces the section `name` of docs/benchmarks.md (between its markers) with `markdown`,
 * appending the section when it is not there yet. Each benchmark owns one section. Tracked files
 * are only rewritten when the run was asked to (`--write`); otherwise the section is only printed.
 */
export function writeSection(name: string, markdown: string): void {
  if (!process.argv.includes("--write")) {
    process.stdout.write(`(docs/benchmarks.md section "${name}" not rewritten: pass --write)\n`);
    return;
  }
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let doc: string;
  try {
    doc = readFileSync(FILE, "utf8");
  } catch {
    doc = "# Benchmarks\n";
  }
  const block = `${start}\n${markdown.trim()}\n\n_Measured ${new Date().toISOString().slice(0, 10)} on ${machineLine()}._\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  doc =
    i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(FILE, doc);
}

/** Percentile of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}
