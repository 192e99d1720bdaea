import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { answerThreadCalls } from "../../lib/thread-calls.ts";
import { removeMarkdownFile, writeMarkdownFile } from "./markdown.ts";
import type { MirrorChange } from "./vault.ts";

/**
 * The markdown mirror's thread (see vault.ts): it writes and removes a markdown tenant's files in
 * the order the changes were sent, with synchronous file calls that never hold the event loop of
 * the thread serving requests. Creating a small file costs a few hundred microseconds of system
 * time on a common file system, so a batch of 50 would otherwise stall every other request.
 */
answerThreadCalls<MirrorChange, number>((change) => {
  // The tenant's folder is gone (the tenant was deleted meanwhile): nothing is written into a new one.
  if (!existsSync(dirname(change.dir))) return 0;
  if (change.op === "write") for (const m of change.memories) writeMarkdownFile(change.dir, m);
  else for (const id of change.ids) removeMarkdownFile(change.dir, id);
  return change.op === "write" ? change.memories.length : change.ids.length;
});
