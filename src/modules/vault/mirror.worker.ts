import { mkdirSync } from "node:fs";
import { answerThreadCalls } from "../../lib/thread-calls.ts";
import { removeMarkdownFile, writeMarkdownFileIn } from "./markdown.ts";
import type { MirrorChange } from "./vault.ts";

/**
 * The markdown mirror's thread (see vault.ts): it writes and removes a markdown tenant's files in
 * the order the changes were sent, with synchronous file calls that never hold the event loop of
 * the thread serving requests. Creating a small file costs a few hundred microseconds of system
 * time on a common file system, so a batch of 50 would otherwise stall every other request.
 */
answerThreadCalls<MirrorChange, number>((change) => {
  // The folder is made only inside the tenant's own, which exists while the tenant does: once the
  // tenant is deleted (its folder removed), nothing is written and no folder is made again.
  let done = 0;
  try {
    if (change.op === "write") {
      mkdirSync(change.dir, { mode: 0o700 });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return 0;
    if (code !== "EEXIST") throw err;
  }
  try {
    if (change.op === "write")
      for (const m of change.memories) {
        writeMarkdownFileIn(change.dir, m);
        done++;
      }
    else
      for (const id of change.ids) {
        removeMarkdownFile(change.dir, id);
        done++;
      }
  } catch (err) {
    // Removed under the writes (the tenant deleted meanwhile): what is left is not written.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return done;
    throw err;
  }
  return done;
});
