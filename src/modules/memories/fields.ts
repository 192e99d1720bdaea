/**
 * A memory's tags, entities and metadata strings as texts for the guardrails, and back. Each string
 * is inspected as a `name: value` line (`tag: …`, `entity: …`, `<metadata key>: …` for a metadata
 * value or list item), so a secret whose shape is only recognisable by its name (`password`,
 * `aws_secret_access_key`) is found as it is in content. A metadata number is inspected as its
 * decimal text too (`card: 4111111111111111` is a card number however it is typed) and stays the
 * number it was unless the inspection rewrites it (then the masked text takes its place). Booleans
 * and null are not text: kept as given, never inspected.
 */

/** What a memory carries besides its content. */
export type MemoryFields = {
  tags: readonly string[];
  entities: readonly string[];
  metadata: Record<string, unknown>;
};

/** One string of a memory's fields, where it sits, and the line it is inspected as. */
export type FieldLeaf = {
  kind: "tag" | "entity" | "metadata";
  /** The metadata key (for tags and entities, their kind). */
  key: string;
  /** The position in `tags`/`entities`, in a metadata list; null for a metadata scalar. */
  index: number | null;
  value: string;
  /** Where a refusal points (`body.tags.0`, `body.metadata.note`, `body.metadata.list.1`). */
  path: string;
  /** What the value is inspected after (`tag: `, `note: `). */
  prefix: string;
  /** The metadata number `value` spells, kept as a number unless its text is rewritten. */
  number?: number;
};

const LINE_BREAK = /[\r\n\u2028\u2029\u0085]/;

/** Every string of `f`, tags first, then entities, then metadata values and list items. */
export function fieldLeaves(f: MemoryFields, path = ""): FieldLeaf[] {
  const at = (...parts: (string | number)[]) => [path, ...parts].filter((p) => p !== "").join(".");
  const out: FieldLeaf[] = [];
  f.tags.forEach((value, index) => {
    out.push({ kind: "tag", key: "tag", index, value, path: at("tags", index), prefix: "tag: " });
  });
  f.entities.forEach((value, index) => {
    const leaf = { kind: "entity", key: "entity", index, value, path: at("entities", index) } as const;
    out.push({ ...leaf, prefix: "entity: " });
  });
  /** A metadata string, or a finite number as its decimal text; anything else is not inspected. */
  const text = (v: unknown): { value: string; number?: number } | null =>
    typeof v === "string"
      ? { value: v }
      : typeof v === "number" && Number.isFinite(v)
        ? { value: String(v), number: v }
        : null;
  for (const [key, value] of Object.entries(f.metadata)) {
    const prefix = `${key}: `;
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        const t = text(item);
        if (t) out.push({ kind: "metadata", key, index, ...t, path: at("metadata", key, index), prefix });
      });
    } else {
      const t = text(value);
      if (t) out.push({ kind: "metadata", key, index: null, ...t, path: at("metadata", key), prefix });
    }
  }
  return out;
}

/**
 * The leaves as texts to inspect: the ones without line breaks joined as lines of one text (one
 * inspection, one judge call per memory), each one with a line break as a text of its own. `locate`
 * names the leaf at an offset of a group's text (the path a refusal points to).
 */
export function fieldGroups(leaves: readonly FieldLeaf[]): FieldGroup[] {
  const lines = leaves.filter((l) => !LINE_BREAK.test(l.value));
  const alone = leaves.filter((l) => LINE_BREAK.test(l.value));
  const groups = lines.length > 0 ? [group(lines)] : [];
  for (const l of alone) groups.push(group([l]));
  return groups;
}

export type FieldGroup = {
  leaves: readonly FieldLeaf[];
  text: string;
  locate: (offset: number | null) => string;
};

function group(leaves: readonly FieldLeaf[]): FieldGroup {
  const starts: number[] = [];
  let text = "";
  for (const [i, l] of leaves.entries()) {
    if (i > 0) text += "\n";
    starts.push(text.length);
    text += l.prefix + l.value;
  }
  const first = leaves[0]?.path ?? "";
  return {
    leaves,
    text,
    locate(offset) {
      if (offset === null || leaves.length === 1) return first;
      let at = 0;
      for (const [i, s] of starts.entries()) if (s <= offset) at = i;
      return leaves[at]?.path ?? first;
    },
  };
}

/**
 * The values of a group's leaves from its inspected text, or null when the text does not split back
 * line for line (a mask spanning two lines, a name rewritten): the caller then inspects the leaves
 * one by one. A single leaf whose name was rewritten (a `password: …` assignment masked whole)
 * becomes the whole inspected text.
 */
export function splitBack(g: FieldGroup, text: string): string[] | null {
  if (g.leaves.length === 1) {
    const prefix = g.leaves[0]?.prefix ?? "";
    return [text.startsWith(prefix) ? text.slice(prefix.length) : text];
  }
  const lines = text.split("\n");
  if (lines.length !== g.leaves.length) return null;
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    const prefix = g.leaves[i]?.prefix ?? "";
    if (!line.startsWith(prefix)) return null;
    out.push(line.slice(prefix.length));
  }
  return out;
}

/** `f` with each leaf's value replaced by `values[i]` (same order as `fieldLeaves`). */
export function withValues<T extends MemoryFields>(
  f: T,
  leaves: readonly FieldLeaf[],
  values: readonly string[],
): T {
  const tags = [...f.tags];
  const entities = [...f.entities];
  const metadata: Record<string, unknown> = { ...f.metadata };
  for (const key of Object.keys(metadata)) {
    const v = metadata[key];
    if (Array.isArray(v)) metadata[key] = [...v];
  }
  leaves.forEach((leaf, i) => {
    const given = values[i] ?? leaf.value;
    // A number whose text came back unchanged stays a number.
    const value = leaf.number !== undefined && given === leaf.value ? leaf.number : given;
    if (leaf.kind === "tag") tags[leaf.index ?? 0] = value as string;
    else if (leaf.kind === "entity") entities[leaf.index ?? 0] = value as string;
    else if (leaf.index === null) metadata[leaf.key] = value;
    else (metadata[leaf.key] as unknown[])[leaf.index] = value;
  });
  return { ...f, tags, entities, metadata } as T;
}

/**
 * `f` with its strings as `inspect` keeps them: a group's text at a time (one call for the single-line
 * leaves), and leaf by leaf for a group whose answer does not split back line for line (a mask across
 * two lines, or over a field's name). `where` names what is inspected: a leaf's path, or "tags,
 * entities or metadata" for a group of several. `inspect` answers the text to keep, or null to give
 * up, and then so does this.
 */
export async function inspectFields<T extends MemoryFields>(
  f: T,
  inspect: (text: string, where: string) => Promise<string | null>,
): Promise<T | null> {
  const leaves = fieldLeaves(f);
  if (leaves.length === 0) return f;
  const kept = new Map<FieldLeaf, string>();
  for (const g of fieldGroups(leaves)) {
    const where = g.leaves.length === 1 ? (g.leaves[0]?.path ?? "") : "tags, entities or metadata";
    const out = await inspect(g.text, where);
    if (out === null) return null;
    let values = splitBack(g, out);
    if (values === null) {
      values = [];
      for (const leaf of g.leaves) {
        const one = await inspect(leaf.prefix + leaf.value, leaf.path);
        if (one === null) return null;
        values.push(one.startsWith(leaf.prefix) ? one.slice(leaf.prefix.length) : one);
      }
    }
    g.leaves.forEach((leaf, i) => {
      kept.set(leaf, values[i] ?? leaf.value);
    });
  }
  return withValues(
    f,
    leaves,
    leaves.map((l) => kept.get(l) ?? l.value),
  );
}
