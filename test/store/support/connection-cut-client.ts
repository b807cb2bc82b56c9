/**
 * A postgres.js client whose server connections are terminated while statements are being
 * written, run as its own process by connection-cut.test.ts: an uncaught exception here ends
 * this process, not the test runner. Dials again as the hub does (reconnectBackoff). Prints one
 * JSON line: how the statements settled.
 */
import postgres from "postgres";
import { reconnectBackoff } from "../../../src/store/database.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const appName = `agent-hub-cut-${process.pid}`;
const rounds = Number(process.env.CUT_ROUNDS ?? 25);

const sql = postgres(url, { max: 4, onnotice: () => {}, backoff: reconnectBackoff, connection: { application_name: appName } });
const admin = postgres(url, { max: 1, onnotice: () => {} });
const cut = () => admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${appName}`;

let fulfilled = 0;
let rejected = 0;
const codes = new Set<string>();
for (let round = 0; round < rounds; round++) {
  // Small statements: postgres.js buffers writes under 1 KiB and sends them on the next turn.
  const statements = Array.from({ length: 40 }, (_, i) => sql`SELECT ${i}::int AS n`);
  const cutting = cut();
  const settled = await Promise.allSettled(statements);
  await cutting;
  for (const s of settled) {
    if (s.status === "fulfilled") fulfilled++;
    else {
      rejected++;
      codes.add(String((s.reason as { code?: unknown }).code ?? (s.reason as Error).message));
    }
  }
}
// The client goes on after the cuts (a statement sent before the last cut was noticed may still
// be rejected), and a statement cut while it runs is rejected, not lost.
let after: number | undefined;
for (let attempt = 0; attempt < 5 && after === undefined; attempt++) after = (await sql<{ ok: number }[]>`SELECT 1 AS ok`.catch(() => []))[0]?.ok;
const sleeping = sql`SELECT pg_sleep(30)`.then(
  () => "finished",
  (err: { code?: string }) => err.code ?? "rejected",
);
while ((await admin`SELECT 1 FROM pg_stat_activity WHERE application_name = ${appName} AND query LIKE 'SELECT pg_sleep%'`).length === 0) await new Promise((r) => setTimeout(r, 20));
await cut();
const sleepOutcome = await sleeping;
// No timeout: end() has to settle by itself once nothing is in flight.
await sql.end();
await admin.end();
console.log(JSON.stringify({ fulfilled, rejected, codes: [...codes].sort(), after, sleepOutcome }));
