import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { labelSchema, memoryTypeSchema, namespaceSchema, safeJoin } from "../../lib/names.ts";
import { type Memory, memorySchema, metadataSchema } from "../memories/memories.schemas.ts";

/**
 * The plain-markdown layout of a vault: one `<memory id>.md` per current memory, YAML front matter
 * for every field but the content, and the content as the body. Readable without the runtime.
 */
export function toMarkdown(m: Memory): string {
  const { content, is_current: _current, ...front } = m;
  return `---\n${stringifyYaml(front, { lineWidth: 0 })}---\n${content}\n`;
}

const frontSchema = memorySchema.omit({ content: true, is_current: true }).extend({
  id: z.string().regex(idPattern("memory")),
  version: z.number().int().min(1),
  namespace: namespaceSchema,
  type: memoryTypeSchema,
  tags: z.array(labelSchema).max(32),
  entities: z.array(labelSchema).max(32),
  metadata: metadataSchema,
  importance: z.number().min(0).max(1),
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
  expires_at: z.iso.datetime({ offset: true }).nullable(),
  valid_from: z.iso.datetime({ offset: true }).nullable(),
  valid_to: z.iso.datetime({ offset: true }).nullable(),
  // Files written before quarantine existed have no such field.
  quarantined: z.boolean().default(false),
});

export type MarkdownParse = { ok: true; memory: Memory } | { ok: false; message: string };

export function fromMarkdown(text: string): MarkdownParse {
  const m = /^---\n([\s\S]*?)\n?---\n([\s\S]*)$/.exec(text);
  if (!m) return { ok: false, message: "no YAML front matter" };
  let front: unknown;
  try {
    front = parseYaml(m[1] ?? "");
  } catch {
    return { ok: false, message: "front matter is not YAML" };
  }
  const parsed = frontSchema.safeParse(front);
  if (!parsed.success)
    return { ok: false, message: `front matter: ${parsed.error.issues[0]?.message ?? "invalid"}` };
  const body = m[2] ?? "";
  return {
    ok: true,
    memory: { ...parsed.data, content: body.endsWith("\n") ? body.slice(0, -1) : body, is_current: true },
  };
}

/** Writes `<dir>/<id>.md` atomically (temporary file, then rename): a reader never sees half a file. */
export function writeMarkdownFile(dir: string, m: Memory): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeMarkdownFileIn(dir, m);
}

/** `writeMarkdownFile` into a folder that must exist already (ENOENT otherwise). */
export function writeMarkdownFileIn(dir: string, m: Memory): void {
  const path = safeJoin(dir, `${m.id}.md`);
  const tmp = safeJoin(dir, `.${m.id}.${randomBytes(6).toString("hex")}.tmp`);
  writeFileSync(tmp, toMarkdown(m), { mode: 0o600, flag: "wx" });
  renameSync(tmp, path);
}

export function removeMarkdownFile(dir: string, id: string): void {
  if (!idPattern("memory").test(id)) return;
  rmSync(safeJoin(dir, `${id}.md`), { force: true });
}

/** Every `*.md` file of a directory, parsed; files that do not parse are reported, not thrown. */
export function readMarkdownDir(dir: string): {
  memories: Memory[];
  errors: { file: string; message: string }[];
} {
  const memories: Memory[] = [];
  const errors: { file: string; message: string }[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".md")) continue;
    const parsed = fromMarkdown(readFileSync(safeJoin(dir, file), "utf8"));
    if (parsed.ok) memories.push(parsed.memory);
    else errors.push({ file, message: parsed.message });
  }
  return { memories, errors };
}
