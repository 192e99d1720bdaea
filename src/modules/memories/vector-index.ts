import type { SqlExecutor } from "../../platform/storage/port.ts";
import { BestFirst } from "./best-first.ts";
import { decodeVector } from "./embedder.ts";
import { memoriesStore, type StoredVector, VECTOR_LOG_TRIMMED } from "./memories.store.ts";
import type { RowCodec } from "./row-codec.ts";

/**
 * The in-memory vector cache of hybrid recall, per tenant and embedder id: unit-length vectors in
 * one flat Float32Array (decrypted for encrypted tenants, never written anywhere), scored by brute
 * force (cosine = dot product). It is built from the rows on first use and brought up to the last
 * commit before each query by reading the vector log (`vector_log`), as the recall index's lists
 * read `recall_log`: a rolled-back write leaves no line, so the cache only reflects committed
 * vectors. A cached vector of a memory that has since been retired, erased or re-embedded is
 * harmless: candidates are checked against their rows (visibility, filters, embedder id) before
 * they rank.
 */

type Vault = {
  embedderId: string;
  gen: number;
  dim: number;
  /** Slot → seq (-1 for a freed slot). */
  seqs: Float64Array;
  data: Float32Array;
  size: number;
  slots: Map<number, number>;
  dead: number;
};

/** Floats resident across all tenants (1 GiB); beyond it the least recently searched tenants are dropped. */
export const RESIDENT_FLOATS = 256 * 1024 * 1024;
const PAGE = 1000;

function unit(v: Float32Array): Float32Array | null {
  let norm = 0;
  for (const x of v) norm += x * x;
  if (!(norm > 0) || !Number.isFinite(norm)) return null;
  const inv = 1 / Math.sqrt(norm);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = (v[i] ?? 0) * inv;
  return out;
}

function put(vault: Vault, seq: number, v: Float32Array): void {
  if (vault.dim === 0) vault.dim = v.length;
  if (v.length !== vault.dim) return;
  const existing = vault.slots.get(seq);
  if (existing !== undefined) {
    vault.data.set(v, existing * vault.dim);
    return;
  }
  if (vault.size === vault.seqs.length) {
    const cap = Math.max(64, vault.seqs.length * 2);
    const seqs = new Float64Array(cap);
    seqs.set(vault.seqs);
    const data = new Float32Array(cap * vault.dim);
    data.set(vault.data);
    vault.seqs = seqs;
    vault.data = data;
  }
  vault.seqs[vault.size] = seq;
  vault.data.set(v, vault.size * vault.dim);
  vault.slots.set(seq, vault.size);
  vault.size++;
}

function remove(vault: Vault, seq: number): void {
  const slot = vault.slots.get(seq);
  if (slot === undefined) return;
  vault.slots.delete(seq);
  vault.seqs[slot] = -1;
  vault.dead++;
}

export type VectorHit = { seq: number; similarity: number };

export function createVectorIndex(budgetFloats = RESIDENT_FLOATS) {
  /** Per tenant, least recently used first; updates of one tenant run one after another. */
  const vaults = new Map<string, Promise<Vault>>();

  const opened = (codec: RowCodec, rows: readonly StoredVector[]) =>
    rows.flatMap((r) => {
      const v = unit(decodeVector(codec.openVector(r, r.embedding)));
      return v ? [{ seq: r.seq, v }] : [];
    });

  async function build(db: SqlExecutor, tenantId: string, embedderId: string, codec: RowCodec) {
    const vault: Vault = {
      embedderId,
      gen: await memoriesStore.vectorHead(db),
      dim: 0,
      seqs: new Float64Array(0),
      data: new Float32Array(0),
      size: 0,
      slots: new Map(),
      dead: 0,
    };
    for (let after = 0; ; ) {
      const rows = await memoriesStore.vectorPage(db, tenantId, embedderId, after, PAGE);
      if (rows.length === 0) break;
      for (const { seq, v } of opened(codec, rows)) put(vault, seq, v);
      after = rows.at(-1)?.seq ?? after;
    }
    return vault;
  }

  /** Applies the log lines after the cache's generation; null when the cache must be rebuilt. */
  async function catchUp(db: SqlExecutor, tenantId: string, vault: Vault, codec: RowCodec) {
    const changes = await memoriesStore.vectorChanges(db, vault.gen);
    if (changes.length === 0) return vault;
    if (changes.some((c) => c.added === VECTOR_LOG_TRIMMED && c.seq >= vault.gen)) return null;
    const added = [...new Set(changes.filter((c) => c.added === 1).map((c) => c.seq))];
    const loaded = new Map<number, Float32Array>();
    for (let i = 0; i < added.length; i += 500) {
      const rows = await memoriesStore.vectorsBySeqs(db, tenantId, vault.embedderId, added.slice(i, i + 500));
      for (const { seq, v } of opened(codec, rows)) loaded.set(seq, v);
    }
    for (const c of changes) {
      if (c.added === 1) {
        const v = loaded.get(c.seq);
        if (v) put(vault, c.seq, v);
      } else if (c.added === 0) remove(vault, c.seq);
      vault.gen = Math.max(vault.gen, c.gen);
    }
    // Mostly freed slots: rebuild rather than scan them.
    return vault.dead > 64 && vault.dead > vault.size / 4 ? null : vault;
  }

  /** Floats each settled cache holds, for the resident budget. */
  const sizes = new Map<string, number>();
  function evict(keep: string): void {
    let total = 0;
    for (const n of sizes.values()) total += n;
    for (const tenant of vaults.keys()) {
      if (total <= budgetFloats) break;
      if (tenant === keep) continue;
      total -= sizes.get(tenant) ?? 0;
      vaults.delete(tenant);
      sizes.delete(tenant);
    }
  }

  /** The tenant's cache for `embedderId`, up to the last commit. */
  function current(db: SqlExecutor, tenantId: string, embedderId: string, codec: RowCodec): Promise<Vault> {
    const previous = vaults.get(tenantId);
    const next = (async () => {
      const old = previous ? await previous.catch(() => null) : null;
      if (old && old.embedderId === embedderId) {
        const caught = await catchUp(db, tenantId, old, codec);
        if (caught) return caught;
      }
      return build(db, tenantId, embedderId, codec);
    })();
    vaults.delete(tenantId);
    vaults.set(tenantId, next);
    next.then(
      (v) => {
        sizes.set(tenantId, v.data.length);
        evict(tenantId);
      },
      () => {
        if (vaults.get(tenantId) === next) vaults.delete(tenantId);
      },
    );
    return next;
  }

  return {
    /**
     * The tenant's memories by cosine similarity to `query` (vectors of `embedderId` only), those
     * above zero, handed out best first `n` at a time (a heap: taking the few a pool needs does
     * not sort every match). Visibility is the caller's to check.
     */
    async search(
      db: SqlExecutor,
      tenantId: string,
      embedderId: string,
      codec: RowCodec,
      query: Float32Array,
    ): Promise<VectorHits> {
      const vault = await current(db, tenantId, embedderId, codec);
      const q = unit(query);
      if (!q || vault.size === 0 || q.length !== vault.dim) return noHits;
      const { dim, data, seqs } = vault;
      const hitSeqs = new Int32Array(vault.size);
      const similarities = new Float64Array(vault.size);
      let n = 0;
      for (let s = 0; s < vault.size; s++) {
        const seq = seqs[s] ?? -1;
        if (seq < 0) continue;
        let dot = 0;
        const o = s * dim;
        for (let i = 0; i < dim; i++) dot += (data[o + i] ?? 0) * (q[i] ?? 0);
        if (dot > 0) {
          hitSeqs[n] = seq;
          similarities[n++] = dot;
        }
      }
      const matched = hitSeqs.subarray(0, n);
      const scores = similarities.subarray(0, n);
      const best = new BestFirst(scores, (i) => matched[i] ?? 0);
      return {
        get left() {
          return best.size;
        },
        take(count: number): VectorHit[] {
          const out: VectorHit[] = [];
          while (out.length < count && best.size > 0) {
            const i = best.pop();
            out.push({ seq: matched[i] ?? 0, similarity: scores[i] ?? 0 });
          }
          return out;
        },
      };
    },
    /** Drops a tenant's cache (the tenant was deleted, or its policy turned vectors off). */
    forget(tenantId: string): void {
      vaults.delete(tenantId);
      sizes.delete(tenantId);
    },
  };
}

export type VectorIndex = ReturnType<typeof createVectorIndex>;

/** A search's matches, best first. */
export type VectorHits = { readonly left: number; take(count: number): VectorHit[] };

const noHits: VectorHits = { left: 0, take: () => [] };
