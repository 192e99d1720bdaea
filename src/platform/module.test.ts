import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TypedApp } from "./http/server.ts";
import {
  assembleVocabulary,
  type BuiltModule,
  composeModules,
  type HyphaModule,
  type ModuleContext,
  type Platform,
} from "./module.ts";

// The composer only hands the platform through; these tests never touch it.
const platform = {} as Platform;
type LooseModule = Omit<HyphaModule, "name" | "create"> & {
  name: string;
  create(ctx: ModuleContext): BuiltModule<unknown>;
};
const mod = (m: LooseModule) => m as unknown as HyphaModule;

describe("module composition", () => {
  test("a module listed twice, or an action, event or migration declared twice, is refused", () => {
    const a = mod({ name: "a", create: () => ({ api: {} }) });
    assert.throws(() => assembleVocabulary([a, a]), /listed twice/);
    const rule = { level: "read" as const, capability: "x.read", roles: [] };
    const withAction = (name: string) =>
      mod({ name, actions: { "x:read": rule }, create: () => ({ api: {} }) });
    assert.throws(() => assembleVocabulary([withAction("a"), withAction("b")]), /x:read is declared twice/);
    const withEvent = (name: string) => mod({ name, events: ["x.done"], create: () => ({ api: {} }) });
    assert.throws(() => assembleVocabulary([withEvent("a"), withEvent("b")]), /x.done is declared twice/);
    const migration = { id: "x.001", sqlite: "SELECT 1" };
    const withMigration = (name: string) =>
      mod({ name, migrations: { tenant: [migration] }, create: () => ({ api: {} }) });
    assert.throws(
      () => assembleVocabulary([withMigration("a"), withMigration("b")]),
      /x.001 is declared twice/,
    );
    const stray = mod({ name: "a", events: ["x.done"], suspicious: ["y.done"], create: () => ({ api: {} }) });
    assert.throws(() => assembleVocabulary([stray]), /y.done is not an event/);
  });

  test("the vocabulary is assembled from the modules in list order", () => {
    const v = assembleVocabulary([
      mod({
        name: "a",
        migrations: { control: [{ id: "a.001", sqlite: "" }] },
        events: ["a.x"],
        create: () => ({ api: {} }),
      }),
      mod({
        name: "b",
        migrations: { control: [{ id: "b.001", sqlite: "" }] },
        events: ["b.x"],
        create: () => ({ api: {} }),
      }),
    ]);
    assert.deepEqual(
      v.migrations.control.map((m) => m.id),
      ["a.001", "b.001"],
    );
    assert.deepEqual([...v.events], ["a.x", "b.x"]);
  });

  test("a module uses the APIs of modules listed before it, never after", async () => {
    const first = mod({ name: "first", create: () => ({ api: { value: 1 } }) });
    const second = mod({
      name: "second",
      create: (ctx) => ({ api: { value: (ctx.use("first" as never) as { value: number }).value + 1 } }),
    });
    const composed = await composeModules(platform, [first, second]);
    assert.deepEqual((composed.apis as Record<string, unknown>).second, { value: 2 });
    await assert.rejects(composeModules(platform, [second, first]), /used before it is built/);
  });

  test("hooks of every module are registered before any route; workers stop in reverse order", async () => {
    const calls: string[] = [];
    const m = (name: string) =>
      mod({
        name,
        create: () => ({
          api: {},
          hooks: () => calls.push(`${name}.hooks`),
          routes: () => calls.push(`${name}.routes`),
          workers: [
            {
              name: `${name}.worker`,
              start: () => calls.push(`${name}.start`),
              stop: async () => {
                calls.push(`${name}.stop`);
              },
            },
          ],
          close: async () => {
            calls.push(`${name}.close`);
          },
        }),
      });
    const composed = await composeModules(platform, [m("a"), m("b")]);
    composed.mount({} as TypedApp);
    composed.startWorkers();
    composed.startWorkers();
    await composed.close();
    assert.deepEqual(calls, [
      "a.hooks",
      "b.hooks",
      "a.routes",
      "b.routes",
      "a.start",
      "b.start",
      "b.stop",
      "a.stop",
      "b.close",
      "a.close",
    ]);
  });
});
