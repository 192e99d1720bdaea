import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

// A vault holds one tenant, so tenant_id is constant in it: SQLite indexes lead with selective
// columns instead (a shared PostgreSQL schema leads with tenant_id).
export const memoriesMigrations = {
  control: [] satisfies Migration[],
  tenant: [
    {
      id: "memories.001",
      sqlite: `
CREATE TABLE memories (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  tenant_id TEXT NOT NULL,
  namespace TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  tags TEXT NOT NULL,
  entities TEXT NOT NULL,
  metadata TEXT NOT NULL,
  importance REAL NOT NULL,
  agent TEXT NOT NULL,
  key_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  valid_from INTEGER,
  valid_to INTEGER,
  is_current INTEGER NOT NULL,
  embedding BLOB,
  UNIQUE (id, version)
);
CREATE INDEX memories_current_id ON memories(is_current, id);
CREATE INDEX memories_namespace ON memories(namespace, is_current, id);
CREATE INDEX memories_created ON memories(created_at);
CREATE INDEX memories_expiry ON memories(expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE memory_labels (
  seq INTEGER NOT NULL REFERENCES memories(seq) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (kind, value, seq)
) WITHOUT ROWID;
CREATE INDEX memory_labels_seq ON memory_labels(seq);
CREATE VIRTUAL TABLE memories_fts USING fts5(
  content, tags, entities,
  content = '', contentless_delete = 1,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts(memories_fts, rank) VALUES ('secure-delete', 1);`,
      // seq is unique across tenants. The term table here was the search index until memories.008.
      postgres: `
CREATE TABLE memories (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  ${TENANT_COLUMN},
  namespace TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  tags TEXT NOT NULL,
  entities TEXT NOT NULL,
  metadata TEXT NOT NULL,
  importance DOUBLE PRECISION NOT NULL,
  agent TEXT NOT NULL,
  key_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  expires_at BIGINT,
  valid_from BIGINT,
  valid_to BIGINT,
  is_current INTEGER NOT NULL,
  embedding BYTEA,
  UNIQUE (tenant_id, id, version)
);
CREATE INDEX memories_current_id ON memories(tenant_id, is_current, id);
CREATE INDEX memories_namespace ON memories(tenant_id, namespace, is_current, id);
CREATE INDEX memories_created ON memories(tenant_id, created_at);
CREATE INDEX memories_expiry ON memories(tenant_id, expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE memory_labels (
  ${TENANT_COLUMN},
  seq BIGINT NOT NULL REFERENCES memories(seq) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (tenant_id, kind, value, seq)
);
CREATE INDEX memory_labels_seq ON memory_labels(seq);
CREATE TABLE memory_terms (
  ${TENANT_COLUMN},
  term TEXT NOT NULL,
  seq BIGINT NOT NULL REFERENCES memories(seq) ON DELETE CASCADE,
  tf DOUBLE PRECISION NOT NULL,
  len INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, term, seq)
);
CREATE INDEX memory_terms_seq ON memory_terms(seq);
CREATE TABLE memory_search_stats (
  ${TENANT_COLUMN},
  docs BIGINT NOT NULL,
  total_len BIGINT NOT NULL,
  PRIMARY KEY (tenant_id)
);
${rowSecurity("memories", "memory_labels", "memory_terms", "memory_search_stats")}`,
    },
    {
      // Per-memory access: private (owner and allowed agents), shared (the namespace), public (the tenant).
      id: "memories.002",
      sqlite: `
ALTER TABLE memories ADD COLUMN access TEXT NOT NULL DEFAULT 'shared' CHECK (access IN ('private', 'shared', 'public'));
ALTER TABLE memories ADD COLUMN allowed_agents TEXT;
ALTER TABLE memories ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE memories SET owner = agent;`,
      postgres: `
ALTER TABLE memories ADD COLUMN access TEXT NOT NULL DEFAULT 'shared' CHECK (access IN ('private', 'shared', 'public'));
ALTER TABLE memories ADD COLUMN allowed_agents TEXT;
ALTER TABLE memories ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE memories SET owner = agent;`,
    },
    {
      // Suspected injections are kept out of recall until asked for (guardrails quarantine).
      id: "memories.003",
      sqlite: "ALTER TABLE memories ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;",
      postgres: "ALTER TABLE memories ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;",
    },
    {
      // The recall index (recall-index.ts): the vocabulary with document frequencies, each memory's
      // (term, impact) list in its row, totals, and a change log that keeps in-memory posting
      // lists in step with commits. Rows written before it are indexed on first recall.
      id: "memories.004",
      sqlite: `
ALTER TABLE memories ADD COLUMN recall_terms BLOB;
CREATE TABLE recall_terms (
  id INTEGER PRIMARY KEY,
  term TEXT NOT NULL UNIQUE,
  df INTEGER NOT NULL
);
CREATE TABLE recall_stats (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  docs INTEGER NOT NULL,
  tokens REAL NOT NULL
);
CREATE TABLE recall_log (
  gen INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  added INTEGER NOT NULL
);`,
      // PostgreSQL ranked with its own term table until memories.008 gave it this index too.
      postgres: "SELECT 1;",
    },
    {
      // Recall on SQLite reads the recall index only: the FTS5 table was written on every change and
      // read by nothing. Dropped (secure_delete zeroes its freed pages).
      id: "memories.005",
      sqlite: "DROP TABLE IF EXISTS memories_fts;",
      postgres: "SELECT 1;",
    },
    {
      // Hybrid recall: each current memory's vector (the reserved `embedding` column: little-endian
      // float32, sealed for encrypted tenants) and the embedder id it was made with, so vectors of two
      // models never mix; a log of vectors added and removed keeps each process's in-memory vector
      // cache in step with commits (as recall_log does for the recall index). PostgreSQL stores the
      // same BYTEA and scores the same way, in the process (memories.009 adds pgvector where the
      // server has it).
      id: "memories.006",
      sqlite: `
ALTER TABLE memories ADD COLUMN embedder TEXT;
CREATE TABLE vector_log (
  gen INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  added INTEGER NOT NULL
);`,
      postgres: `
ALTER TABLE memories ADD COLUMN embedder TEXT;
CREATE TABLE vector_log (
  ${TENANT_COLUMN},
  gen BIGSERIAL PRIMARY KEY,
  seq BIGINT NOT NULL,
  added INTEGER NOT NULL
);
CREATE INDEX vector_log_tenant_gen ON vector_log(tenant_id, gen);
${rowSecurity("vector_log")}`,
    },
    {
      // PostgreSQL recall reads a query's postings from the term index alone: the primary key carries
      // tf and len (an index-only scan instead of a table page per posting). Inserts make most of the
      // table's pages all-visible only when vacuumed, so the term table is vacuumed after fewer
      // inserts than the default fifth of its size.
      id: "memories.007",
      sqlite: "SELECT 1;",
      postgres: `
ALTER TABLE memory_terms DROP CONSTRAINT memory_terms_pkey,
  ADD CONSTRAINT memory_terms_pkey PRIMARY KEY (tenant_id, term, seq) INCLUDE (tf, len);
ALTER TABLE memory_terms SET (autovacuum_vacuum_insert_scale_factor = 0.02);`,
    },
    {
      // PostgreSQL recalls with the recall index SQLite uses (recall-index.ts): the same vocabulary,
      // per-memory term lists, totals and change log, per tenant, so every gateway keeps in-memory
      // lists in step with commits made anywhere. The term table it replaces is dropped; memories
      // written before are indexed on their tenant's first recall (the partial index finds them).
      id: "memories.008",
      sqlite: "SELECT 1;",
      postgres: `
ALTER TABLE memories ADD COLUMN recall_terms BYTEA;
CREATE INDEX memories_tenant_seq ON memories(tenant_id, seq);
CREATE INDEX memories_unindexed ON memories(tenant_id, seq) WHERE is_current = 1 AND recall_terms IS NULL;
CREATE TABLE recall_terms (
  ${TENANT_COLUMN},
  id BIGINT NOT NULL,
  term TEXT NOT NULL,
  df INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, term)
);
CREATE TABLE recall_stats (
  ${TENANT_COLUMN},
  id INTEGER NOT NULL CHECK (id = 1),
  docs BIGINT NOT NULL,
  tokens DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE recall_log (
  ${TENANT_COLUMN},
  gen BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  added INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, gen)
);
${rowSecurity("recall_terms", "recall_stats", "recall_log")}
DROP TABLE memory_terms;
DROP TABLE memory_search_stats;`,
    },
    {
      // pgvector, where the server has it: hybrid recall of plaintext tenants then ranks vectors in
      // SQL (memoriesStore.nearestVectors) instead of each process's cache. The extension is created
      // if it can be; without it (or the right to create it) this migration changes nothing and
      // recall keeps the in-process path. The column has no fixed dimension (the embedder id
      // carries it) and is written beside the BYTEA vector of plaintext tenants only: an encrypted
      // tenant's vectors are sealed, and a clear copy would undo that. The trigger keeps the column
      // from outliving its vector: a statement that changes `embedding` without writing the column
      // (a vector dropped, or written by a gateway that predates this) clears it. Idempotent, so it
      // can be run again once the extension is installed (docs/architecture.md, storage).
      id: "memories.009",
      sqlite: "SELECT 1;",
      postgres: `
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS vector;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pgvector unavailable (%): hybrid recall ranks vectors in the process', SQLERRM;
END $$;
DO $$
DECLARE ext TEXT;
BEGIN
  SELECT n.nspname INTO ext FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'vector';
  IF ext IS NULL THEN RETURN; END IF;
  EXECUTE format('ALTER TABLE memories ADD COLUMN IF NOT EXISTS embedding_vector %I.vector', ext);
  CREATE INDEX IF NOT EXISTS memories_vector_unfilled ON memories(tenant_id, seq)
    WHERE embedding IS NOT NULL AND embedding_vector IS NULL;
  CREATE OR REPLACE FUNCTION memories_vector_follows() RETURNS trigger LANGUAGE plpgsql AS $f$
  BEGIN
    IF NEW.embedding IS NULL OR NEW.embedding_vector::text IS NOT DISTINCT FROM OLD.embedding_vector::text THEN
      NEW.embedding_vector := NULL;
    END IF;
    RETURN NEW;
  END $f$;
  CREATE OR REPLACE TRIGGER memories_vector_follows BEFORE UPDATE OF embedding ON memories
    FOR EACH ROW WHEN (NEW.embedding IS DISTINCT FROM OLD.embedding)
    EXECUTE FUNCTION memories_vector_follows();
END $$;`,
    },
    {
      // The recall index gained speaker and date terms: every current memory is indexed again, on
      // its tenant's first recall or store after this (the partial index finds rows without terms),
      // so memories written before rank by the same signals as new ones. The vocabulary and totals
      // start afresh with them. On PostgreSQL the tables' owner lifts row-level security for the
      // statements of this migration only (every tenant's rows); gateways still running the previous
      // version keep their old in-memory lists until restarted.
      id: "memories.010",
      sqlite: `
UPDATE memories SET recall_terms = NULL WHERE recall_terms IS NOT NULL;
DELETE FROM recall_terms;
DELETE FROM recall_stats;`,
      postgres: `
ALTER TABLE memories NO FORCE ROW LEVEL SECURITY;
ALTER TABLE recall_terms NO FORCE ROW LEVEL SECURITY;
ALTER TABLE recall_stats NO FORCE ROW LEVEL SECURITY;
UPDATE memories SET recall_terms = NULL WHERE recall_terms IS NOT NULL;
DELETE FROM recall_terms;
DELETE FROM recall_stats;
ALTER TABLE memories FORCE ROW LEVEL SECURITY;
ALTER TABLE recall_terms FORCE ROW LEVEL SECURITY;
ALTER TABLE recall_stats FORCE ROW LEVEL SECURITY;`,
    },
  ] satisfies Migration[],
};
