import { type FileHandle, open } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Flushes what was written to a file before the call, off the event loop.
 *
 * Callers that ask while a flush runs share the next one: that flush may have begun before their
 * write, so it does not cover it, and everyone who asked meanwhile waits for one more. At most one
 * flush runs and one waits, however many callers there are.
 */
export type FileSync = {
  /** Resolves once a flush that began after this call has finished (rejects if it failed). */
  sync(): Promise<void>;
  /** How many flushes ran. */
  flushes(): number;
  close(): Promise<void>;
};

export function sharedFlush(
  flush: () => Promise<void>,
  close: () => Promise<void> = async () => {},
): FileSync {
  let running: Promise<void> | null = null;
  let waiting: Promise<void> | null = null;
  let count = 0;
  const start = (): Promise<void> => {
    count++;
    const p = flush().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };
  return {
    sync() {
      if (!running) return start();
      waiting ??= running
        .catch(() => undefined)
        .then(() => {
          waiting = null;
          return start();
        });
      return waiting;
    },
    flushes: () => count,
    close,
  };
}

/**
 * fsync of one file on libuv's thread pool, through a handle kept open (opened on first use). The
 * first flush also syncs the directory, so a file created since the process began has its name on
 * disk too.
 */
export function fileSync(path: string): FileSync {
  let handle: Promise<FileHandle> | null = null;
  let dirSynced = false;
  return sharedFlush(
    async () => {
      if (!handle) {
        const opening = open(path, "r");
        handle = opening;
        // A failed open is tried again by the next flush.
        opening.catch(() => {
          if (handle === opening) handle = null;
        });
      }
      await (await handle).sync();
      if (!dirSynced) {
        const dir = await open(dirname(path), "r");
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
        dirSynced = true;
      }
    },
    async () => {
      const h = handle;
      handle = null;
      if (h) await (await h.catch(() => null))?.close();
    },
  );
}
