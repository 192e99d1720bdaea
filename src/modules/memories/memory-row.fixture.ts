import type { NewRow } from "./memories.store.ts";

/** A current, shared memory row of tenant `t` for store-level tests; `extra` overrides any column. */
export function memoryRow(i: number, content: string, extra: Partial<NewRow> = {}): NewRow {
  return {
    id: `mem_${String(i).padStart(26, "0")}`,
    version: 1,
    tenant_id: "t",
    namespace: "n",
    type: "note",
    content,
    tags: "[]",
    entities: "[]",
    metadata: "{}",
    importance: 0.5,
    agent: "a",
    key_id: null,
    created_at: 1,
    updated_at: 1,
    expires_at: null,
    valid_from: null,
    valid_to: null,
    is_current: 1,
    access: "shared",
    allowed_agents: null,
    owner: "a",
    quarantined: 0,
    ...extra,
  };
}
