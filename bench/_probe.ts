import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import type { Actor } from "../src/platform/auth/actor.ts";
import { freshDatabase } from "../test/pg.ts";
import { createCorpus } from "./corpus.ts";
const origin = { requestId: "req_bench", ip: "127.0.0.1", userAgent: "bench" };
const admin: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };
const db = await freshDatabase("postgres://postgres@127.0.0.1:5432/test");
const config = loadConfig({}, { dataDir: mkdtempSync(join(tmpdir(), "probe-")), adminKey: generateSecret(KEY_PREFIX.admin), logLevel: "silent", databaseUrl: db.url, databaseMigrationUrl: db.migrationUrl });
const app = await createApp({ config });
const t = await app.services.tenants.create(admin, { name: "p", encryption: "aes-gcm" });
const k = await app.services.keys.create(admin, t.id, { agent: "bench", scopes: ["memories:read", "memories:write"] });
const v = await app.services.keys.verify(k.key, origin);
if (!v.ok) throw new Error("x");
const corpus = createCorpus();
for (let i = 0; i < Number(process.argv[2] ?? 5); i++)
  await app.services.memories.store(v.actor, Array.from({ length: 1000 }, () => ({ namespace: "bench", content: corpus.sentence(), type: "note", tags: [], entities: [], metadata: {}, importance: 0.5, access: "shared" as const })));
const recall = (q: string) => app.services.memories.recall(v.actor, { query: q, k: 10, token_budget: 4000, include_quarantined: false });
for (let i = 0; i < 50; i++) await recall(corpus.query());
if (process.argv[3] === "time") {
  const tdb = await (app as any).storage.tenant(t.id);
  const acc = new Map<string, number[]>();
  for (const m of ["all", "get", "run", "transaction"]) {
    const orig = tdb[m].bind(tdb);
    tdb[m] = async (...a: any[]) => { const t0 = performance.now(); try { return await orig(...a); } finally { const k = m + " " + String(a[0]).slice(0, 40).replace(/\s+/g, " "); const arr = acc.get(k) ?? []; arr.push(performance.now() - t0); acc.set(k, arr); } };
  }
  const tot: number[] = [];
  for (let i = 0; i < 100; i++) { const t0 = performance.now(); await recall(corpus.query()); tot.push(performance.now() - t0); }
  tot.sort((a, b) => a - b);
  console.log("total p50", tot[50]?.toFixed(2));
  for (const [k, v] of acc) { v.sort((a, b) => a - b); console.log(v.length, "p50", v[Math.floor(v.length / 2)]?.toFixed(2), k); }
}
const times: number[] = [];
for (let i = 0; i < 100; i++) { const t0 = performance.now(); await recall(corpus.query()); times.push(performance.now() - t0); }
times.sort((a, b) => a - b);
console.log("p50", times[50]?.toFixed(2), "p90", times[90]?.toFixed(2));
if (process.argv[3] === "log") {
  const pg = await import("pg");
  const c = new pg.default.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" }); await c.connect();
  await c.query("ALTER SYSTEM SET log_min_duration_statement = 0"); await c.query("SELECT pg_reload_conf()");
  await new Promise((r) => setTimeout(r, 300));
  console.log("MARK", new Date().toISOString());
  for (let i = 0; i < 3; i++) { const t0 = performance.now(); await recall(corpus.query()); console.log("one", (performance.now() - t0).toFixed(2)); }
  await c.query("ALTER SYSTEM SET log_min_duration_statement = 20"); await c.query("SELECT pg_reload_conf()"); await c.end();
}
if (process.argv[3] === "explain") {
  const pg = await import("pg");
  const c = new pg.default.Client({ connectionString: db.url }); await c.connect();
  await c.query("SET search_path = hypha_tenant");
  await c.query("BEGIN"); await c.query("SELECT set_config('hypha.tenant_id', $1, true)", [t.id]);
  const seqs = (await c.query("SELECT seq FROM memories ORDER BY random() LIMIT 80")).rows.map((r) => r.seq);
  const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS) SELECT m.seq, m.id, m.namespace, m.updated_at, m.importance FROM unnest(CAST($1 AS BIGINT[])) AS cand(seq) CROSS JOIN LATERAL (SELECT * FROM memories r WHERE r.seq = cand.seq OFFSET 0) m WHERE TRUE AND m.tenant_id = $2 AND m.is_current = 1 AND (m.expires_at IS NULL OR m.expires_at > $3) AND (m.access <> 'private' OR m.owner = $4 OR EXISTS (SELECT 1 FROM json_each(m.allowed_agents) j WHERE j.value = $5)) AND m.quarantined = 0`, [`{${seqs.join(",")}}`, t.id, Date.now(), "bench", "bench"]);
  console.log(r.rows.map((x) => x["QUERY PLAN"]).join("\n"));
  await c.query("ROLLBACK"); await c.end();
}
await app.close(); await db.drop();
