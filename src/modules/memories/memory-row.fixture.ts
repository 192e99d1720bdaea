import type { Memory } from "./memories.schemas.ts";
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

/** A current, shared memory as the API answers it, for tests below the routes; `extra` overrides any field. */
export function memoryOf(content: string, extra: Partial<Memory> = {}): Memory {
  return {
    id: "mem_1",
    version: 1,
    namespace: "default",
    type: "note",
    content,
    tags: [],
    entities: [],
    metadata: {},
    importance: 0.5,
    agent: "a",
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    expires_at: null,
    valid_from: null,
    valid_to: null,
    is_current: true,
    access: "shared",
    allowed_agents: [],
    owner: "a",
    quarantined: false,
    ...extra,
  };
}
