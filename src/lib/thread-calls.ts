import { parentPort, Worker } from "node:worker_threads";

/**
 * Calls answered by one worker thread, one at a time in the order they were made. The thread starts
 * on the first call and keeps the process alive only while an answer is awaited; if it dies, what
 * was waiting is rejected and the next call starts a new one. The thread's side is
 * `answerThreadCalls`. Work that would hold the event loop (file copying, syncing, many small file
 * writes) runs there while the serving thread goes on.
 */
export type ThreadCalls<Req, Rep> = {
  /** The thread's answer to `req`; rejects with the thread's error message. */
  call(req: Req): Promise<Rep>;
  /** Resolves once every call made before it has been answered (at once when no thread runs). */
  drain(): Promise<void>;
  /** Stops the thread once the calls made so far have been answered. */
  close(): Promise<void>;
  /** Whether a thread runs (it starts on the first call). */
  running(): boolean;
};

type Message<Req> = { id: number; req?: Req };
type Envelope<Rep> = { id: number; reply?: Rep; error?: string };

export function createThreadCalls<Req, Rep>(url: URL, name: string): ThreadCalls<Req, Rep> {
  let worker: Worker | null = null;
  const waiting = new Map<number, { resolve(r: Envelope<Rep>): void; reject(err: Error): void }>();
  let nextId = 0;

  const start = (): Worker => {
    const w = new Worker(url);
    w.on("message", (answer: Envelope<Rep>) => {
      const pending = waiting.get(answer.id);
      waiting.delete(answer.id);
      if (waiting.size === 0) w.unref();
      pending?.resolve(answer);
    });
    const fail = (err: Error) => {
      if (worker === w) worker = null;
      for (const pending of waiting.values()) pending.reject(err);
      waiting.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`the ${name} thread exited (${code})`)));
    w.unref();
    return w;
  };

  const send = (msg: Omit<Message<Req>, "id">): Promise<Envelope<Rep>> =>
    new Promise((resolve, reject) => {
      worker ??= start();
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id });
    });

  return {
    async call(req) {
      const answer = await send({ req });
      if (answer.error !== undefined) throw new Error(answer.error);
      return answer.reply as Rep;
    },
    async drain() {
      // Messages are answered in order: once this one is, every earlier one has been.
      if (worker) await send({});
    },
    async close() {
      const w = worker;
      if (!w) return;
      await send({}).catch(() => undefined);
      worker = null;
      await w.terminate();
    },
    running: () => worker !== null,
  };
}

/** The thread's side of `createThreadCalls`: each request answered by `handle`, in order. */
export function answerThreadCalls<Req, Rep>(handle: (req: Req) => Rep): void {
  parentPort?.on("message", (msg: Message<Req>) => {
    // A message without a request only marks a point in the order (`drain`, `close`).
    if (msg.req === undefined) return parentPort?.postMessage({ id: msg.id });
    try {
      parentPort?.postMessage({ id: msg.id, reply: handle(msg.req) });
    } catch (err) {
      parentPort?.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
}
