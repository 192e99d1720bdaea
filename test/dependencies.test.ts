import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** The package an import specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

test("every runtime dependency in package.json is imported by the product (src/ or bin/)", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  const imported = new Set<string>();
  // `require.resolve` counts: the console serves htmx's file from its installed package.
  const IMPORT_RE = /(?:from\s+|import\s*\(\s*|import\s+|require(?:\.resolve)?\(\s*)["']([^"'./][^"']*)["']/g;
  for (const file of [...sources("src"), ...sources("bin")]) {
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
      if (m[1] && !m[1].startsWith("node:")) imported.add(packageOf(m[1]));
    }
  }
  const unused = Object.keys(pkg.dependencies).filter((name) => !imported.has(name));
  assert.deepEqual(unused, []);
});

test("every runtime dependency is pinned to an exact version", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const loose = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
    ([, v]) => !/^\d+\.\d+\.\d+$/.test(v),
  );
  assert.deepEqual(loose, []);
});
