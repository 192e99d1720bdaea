import type { TenantCipher } from "../../lib/crypto/index.ts";
import { AppError } from "../../lib/errors.ts";
import type { TermBag } from "./recall-index.ts";
import { dateTokens, recallTokens, speakerTerm, speakerTokens } from "./tokens.ts";

/** The stored fields of one memory version that the codec transforms (a subset of a memory row). */
export type SealableRow = {
  id: string;
  version: number;
  content: string;
  tags: string;
  entities: string;
  metadata: string;
};

export type LabelKind = "tag" | "entity" | "meta";

/** What the recall index and the label table hold for one current version. */
export type IndexEntry = {
  labels: { kind: LabelKind; value: string }[];
  /** The recall index's terms: content words, and tag and entity words (blind tokens when sealed). */
  terms: TermBag;
};

/**
 * How a tenant's memory rows are stored. The plain codec is the identity; the encrypting codec seals
 * content, tags, entities and metadata with AES-256-GCM bound to (tenant, memory id and version, field)
 * and indexes keyed hashes instead of words and labels.
 */
export type RowCodec = {
  readonly encrypted: boolean;
  seal<R extends SealableRow>(row: R): { row: R; index: IndexEntry };
  /** Decrypts a stored row; a ciphertext that was altered or moved fails with a 500, never leaks. */
  open<R extends SealableRow>(row: R): R;
  /** The stored form of a tag or entity, for filters. */
  label(kind: "tag" | "entity", value: string): string;
  /** The stored form of a metadata key=value pair (encrypted tenants filter on these). */
  metaLabel(key: string, value: string | number | boolean | null): string;
  /** The recall index's tokens for a query's terms (folded and stemmed; blind when sealed). */
  recallTokens(terms: readonly string[]): string[];
  /** The recall index's speaker terms for a query's terms (`speakerTerm` of each token; blind when sealed). */
  speakerTokens(terms: readonly string[]): string[];
  /** The recall index's terms of an opened row (to index rows written before the index existed). */
  terms(row: SealableRow): TermBag;
  /**
   * The stored form of a memory version's vector (little-endian float32 bytes): as is when plain,
   * sealed like a field (AES-256-GCM, bound to tenant, record and `embedding`) when encrypted.
   */
  sealVector(row: { id: string; version: number }, bytes: Buffer): Buffer;
  /** The float32 bytes of a stored vector; an altered or moved ciphertext fails with a 500. */
  openVector(row: { id: string; version: number }, stored: Uint8Array): Buffer;
};

const FIELDS = ["content", "tags", "entities", "metadata"] as const;

/** The dates held in a memory's metadata values (strings, or strings in lists), as recall tokens. */
function metadataDates(metadata: string): string[] {
  const values = Object.values(JSON.parse(metadata) as Record<string, unknown>).flat();
  return [...new Set(values.flatMap((v) => (typeof v === "string" ? dateTokens(v) : [])))];
}

function termBag(row: SealableRow, map: (token: string) => string = (t) => t): TermBag {
  const tags = JSON.parse(row.tags) as string[];
  const entities = JSON.parse(row.entities) as string[];
  return {
    content: recallTokens(row.content).map(map),
    labels: [
      ...[...new Set([...tags, ...entities])].flatMap(recallTokens),
      ...metadataDates(row.metadata),
    ].map(map),
    speakers: speakerTokens(row.content).map(speakerTerm).map(map),
  };
}

/** The index entry of a plaintext row: its words and its labels as they are. */
export function plainIndex(row: SealableRow): IndexEntry {
  const tags = JSON.parse(row.tags) as string[];
  const entities = JSON.parse(row.entities) as string[];
  return {
    terms: termBag(row),
    labels: [
      ...[...new Set(tags)].map((value) => ({ kind: "tag" as const, value })),
      ...[...new Set(entities)].map((value) => ({ kind: "entity" as const, value })),
    ],
  };
}

/** A query's tokens as the recall index holds them: its words, and the same words as speakers. */
export type QueryTokens = { recall: readonly string[]; speakers: readonly string[] };

/** The tokens a codec's index holds for a query's terms. */
export function queryTokensOf(codec: RowCodec, terms: readonly string[]): QueryTokens {
  return { recall: codec.recallTokens(terms), speakers: codec.speakerTokens(terms) };
}

export const plainCodec: RowCodec = {
  encrypted: false,
  seal: (row) => ({ row, index: plainIndex(row) }),
  open: (row) => row,
  label: (_kind, value) => value,
  metaLabel: (key, value) => `${key}=${JSON.stringify(value)}`,
  recallTokens: (terms) => [...new Set(terms.flatMap((t) => recallTokens(t)))],
  speakerTokens: (terms) => [...new Set(terms.flatMap((t) => recallTokens(t)).map(speakerTerm))],
  terms: (row) => termBag(row),
  sealVector: (_row, bytes) => bytes,
  openVector: (_row, stored) => Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength),
};

/** Blind tokens remembered per tenant codec (about 100 bytes each). */
const BLIND_CACHE_ENTRIES = 4096;

const recordId = (row: { id: string; version: number }) => `${row.id}#${row.version}`;

export function encryptingCodec(cipher: TenantCipher): RowCodec {
  // Digits only: every tokenizer leaves them as they are, and they carry no word.
  // Word frequencies are Zipf-like, so a small cache spares most of the HMACs of a write or query.
  const cache = new Map<string, string>();
  const blind = (token: string) => {
    let hashed = cache.get(token);
    if (hashed === undefined) {
      hashed = BigInt(`0x${cipher.blindIndex(token, "fts")}`).toString(10);
      if (cache.size >= BLIND_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
      cache.set(token, hashed);
    }
    return hashed;
  };
  const metaLabel = (key: string, value: string | number | boolean | null) =>
    cipher.blindIndex(`${key}=${JSON.stringify(value)}`, "meta");
  return {
    encrypted: true,
    seal(row) {
      const tags = JSON.parse(row.tags) as string[];
      const entities = JSON.parse(row.entities) as string[];
      const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
      const labels: IndexEntry["labels"] = [
        ...[...new Set(tags)].map((v) => ({ kind: "tag" as const, value: cipher.blindIndex(v, "tag") })),
        ...[...new Set(entities)].map((v) => ({
          kind: "entity" as const,
          value: cipher.blindIndex(v, "entity"),
        })),
      ];
      for (const [key, value] of Object.entries(metadata)) {
        if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
          labels.push({ kind: "meta", value: metaLabel(key, value as string | number | boolean | null) });
        }
      }
      const id = recordId(row);
      const sealed = { ...row };
      for (const field of FIELDS) sealed[field] = cipher.encrypt(id, field, row[field]);
      return {
        row: sealed,
        index: {
          labels,
          terms: termBag(row, blind),
        },
      };
    },
    open(row) {
      const id = recordId(row);
      const opened = { ...row };
      for (const field of FIELDS) {
        const result = cipher.decryptString(id, field, row[field]);
        if (!result.ok) {
          throw new AppError("INTERNAL", "a stored memory failed its integrity check", {
            cause: new Error(`${row.id} v${row.version} ${field}: ${result.reason}`),
          });
        }
        opened[field] = result.plaintext;
      }
      return opened;
    },
    label: (kind, value) => cipher.blindIndex(value, kind),
    metaLabel,
    recallTokens: (terms) => [...new Set(terms.flatMap((t) => recallTokens(t)).map(blind))],
    speakerTokens: (terms) => [
      ...new Set(
        terms
          .flatMap((t) => recallTokens(t))
          .map(speakerTerm)
          .map(blind),
      ),
    ],
    terms: (row) => termBag(row, blind),
    // The ciphertext is text (`v1.<version>.<base64>`); stored as its UTF-8 bytes in the BLOB/BYTEA column.
    sealVector: (row, bytes) => Buffer.from(cipher.encrypt(recordId(row), "embedding", bytes), "utf8"),
    openVector(row, stored) {
      const text = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString("utf8");
      const result = cipher.decrypt(recordId(row), "embedding", text);
      if (!result.ok) {
        throw new AppError("INTERNAL", "a stored memory failed its integrity check", {
          cause: new Error(`${row.id} v${row.version} embedding: ${result.reason}`),
        });
      }
      return result.plaintext;
    },
  };
}
