// The @hypha/client package on plain JavaScript (Node 18+, Deno, Bun): store, recall, an approval
// round-trip and the tenant's event stream.
//
//   HYPHA_URL=http://127.0.0.1:7411 HYPHA_KEY=hyk_... node examples/sdk/quickstart.mjs
//
// Optional: HYPHA_APPROVER_KEY (a person's token with the DEVELOPER role) decides the approval the
// policy asks for; HYPHA_ADMIN_KEY and HYPHA_TENANT_ID read the tenant's event stream.
import { ApprovalRequiredError, createHyphaClient, HyphaError, withApproval } from "@hypha/client";

const url = process.env.HYPHA_URL ?? "http://127.0.0.1:7411";
const options = { url, key: process.env.HYPHA_KEY ?? "" };
const hypha = createHyphaClient(options);

const stored = await hypha.storeMemory({
  namespace: "demo",
  content: "The staging database is db-7",
  entities: ["staging"],
});
console.log(`stored ${stored.id}`);
const { results, context } = await hypha.recallMemories({ query: "which staging database?" });
console.log(`recalled ${results[0]?.memory.id} score=${results[0]?.score.toFixed(3)}`);
console.log(context.split("\n").slice(0, 2).join("\n"));

try {
  await hypha.getMemory("mem_01JZZZZZZZZZZZZZZZZZZZZZZZ");
} catch (err) {
  if (err instanceof HyphaError) console.log(`error ${err.code} ${err.status}`);
}

// A call the tenant's policy holds for a person: wait for the decision, then repeat it once.
const outcome = await withApproval(options, (c) => c.bulkDeleteMemories({ entity: "staging" }));
if (outcome.status === "done") {
  console.log(`deleted ${outcome.value.deleted} without approval`);
} else {
  console.log(`approval ${outcome.approval.id} ${outcome.approval.status}`);
  const approver = process.env.HYPHA_APPROVER_KEY;
  if (approver) await createHyphaClient({ url, key: approver }).approveApproval(outcome.approval.id);
  const { deleted } = await outcome.waitAndRetry({ intervalMs: 100, timeoutMs: 30_000 });
  console.log(`deleted ${deleted} after approval`);
}
console.log(`ApprovalRequiredError is exported: ${typeof ApprovalRequiredError === "function"}`);

if (process.env.HYPHA_ADMIN_KEY && process.env.HYPHA_TENANT_ID) {
  const admin = createHyphaClient({ url, key: process.env.HYPHA_ADMIN_KEY });
  const names = [];
  for await (const e of admin.streamTenantEvents(process.env.HYPHA_TENANT_ID, { follow: false })) {
    names.push(e.event);
  }
  console.log(`stream ${names.join(",")}`);
}
