import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { reconnectBackoff } from "../../src/store/database.js";
import { POSTGRES_URL } from "../support/databases.js";

/**
 * postgres.js 3.4.9 as patches/postgres+3.4.9.patch leaves it: a connection the server ends
 * while statements wait to be written rejects them (the unpatched driver throws an uncaught
 * TypeError from an immediate, porsager/postgres#1154 and #1208, and the hub process dies), and
 * end() settles after a statement was cut mid-flight (porsager/postgres#1142); the unpatched
 * driver's end() waits forever here.
 */
describe("postgres.js when the server ends its connections", () => {
  it("rejects the statements in flight, goes on, and ends", { timeout: 120_000 }, () => {
    const child = spawnSync(process.execPath, ["--import", "tsx", "test/store/support/connection-cut-client.ts"], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: POSTGRES_URL },
      encoding: "utf8",
      timeout: 100_000,
    });
    expect(child.stderr, "the client process wrote to stderr").toBe("");
    expect(child.status).toBe(0);
    const summary = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as { fulfilled: number; rejected: number; codes: string[]; after: number; sleepOutcome: string };
    console.log(`connection cuts: ${summary.fulfilled} statements answered, ${summary.rejected} rejected (${summary.codes.join(", ")})`);
    // The cuts hit statements in flight, and every one of them settled as a connection error.
    expect(summary.rejected).toBeGreaterThan(0);
    expect(summary.fulfilled + summary.rejected).toBe(25 * 40);
    // 57P01: "terminating connection due to administrator command"; the others are the socket's.
    for (const code of summary.codes) expect(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE", "57P01"]).toContain(code);
    expect(summary.after).toBe(1);
    expect(summary.sleepOutcome).not.toBe("finished");
  });

  it("dials again within a second however many connections of the pool failed", () => {
    // postgres.js's own backoff reaches 10–20 s once the ten connections of a pool are cut at once.
    const delays = Array.from({ length: 200 }, (_, retries) => reconnectBackoff(retries));
    expect(Math.max(...delays)).toBeLessThanOrEqual(1);
    expect(delays[0]).toBeGreaterThan(0);
    expect(delays[0]!).toBeLessThanOrEqual(0.05);
    expect(Math.min(...delays.slice(10))).toBeGreaterThanOrEqual(0.5);
  });
});
