/**
 * `npm run bundle`: one tarball that runs Hypha on a machine without network access —
 * the application (bin/, src/ without tests), its production node_modules, the pinned Node runtime
 * and the `hypha` start script. Prints the tarball's path.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { arch, platform } from "node:os";
import { join, resolve } from "node:path";
import * as tar from "tar";

const ROOT = resolve(import.meta.dirname, "..");
const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const name = `hypha-${version}-${platform()}-${arch()}`;
const outDir = join(ROOT, "build");
const stage = join(outDir, name);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

cpSync(join(ROOT, "bin"), join(stage, "bin"), { recursive: true });
cpSync(join(ROOT, "src"), join(stage, "src"), {
  recursive: true,
  filter: (from) => !from.endsWith(".test.ts"),
});
// The typed client the CLI and the MCP bridge use lives in its workspace package (source only).
cpSync(join(ROOT, "packages", "client", "src"), join(stage, "packages", "client", "src"), {
  recursive: true,
  filter: (from) => !from.endsWith(".test.ts"),
});
copyFileSync(
  join(ROOT, "packages", "client", "package.json"),
  join(stage, "packages", "client", "package.json"),
);
for (const file of ["package.json", "package-lock.json", "README.md", "SECURITY.md", "LICENSE"]) {
  if (existsSync(join(ROOT, file))) copyFileSync(join(ROOT, file), join(stage, file));
}
cpSync(join(ROOT, "docs"), join(stage, "docs"), { recursive: true });
cpSync(join(ROOT, "scripts", "hypha"), join(stage, "hypha"));
chmodSync(join(stage, "hypha"), 0o755);

// Production dependencies only, from the installed tree (no registry access needed).
cpSync(join(ROOT, "node_modules"), join(stage, "node_modules"), { recursive: true, verbatimSymlinks: true });
execFileSync("npm", ["prune", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--offline"], {
  cwd: stage,
  stdio: "inherit",
});

// The pinned runtime: the binary the `node` devDependency installed.
mkdirSync(join(stage, "runtime"));
copyFileSync(join(ROOT, "node_modules", "node", "bin", "node"), join(stage, "runtime", "node"));
chmodSync(join(stage, "runtime", "node"), 0o755);
writeFileSync(
  join(stage, "BUNDLE"),
  `${JSON.stringify({ name, version, node: process.versions.node, built_at: new Date().toISOString() }, null, 2)}\n`,
);

const tarball = join(outDir, `${name}.tar.gz`);
await tar.c({ gzip: true, file: tarball, cwd: outDir, portable: true }, [name]);
rmSync(stage, { recursive: true, force: true });
process.stdout.write(`${tarball}\n`);
