#!/usr/bin/env node
// The CLI is TypeScript run by Node's built-in type stripping (Node 24+).
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  process.stderr.write(
    `hypha needs Node.js 24 or newer (found ${process.versions.node}); run it through npm (npm start, npm exec hypha) to use the pinned Node.\n`,
  );
  process.exit(1);
}
await import("../src/cli/main.ts");
