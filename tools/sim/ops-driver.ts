import type { JsonObject } from "@bufbuild/protobuf";
import { runLoad, type LoadResult } from "./load-generator.js";
import { createRestClient } from "./rest-client.js";

/** An operations run through `POST /armory/operations`. */
export interface OpsRunOptions {
  restUrl: string;
  /** Accounts to spread operations over, round-robin. */
  accounts: string[];
  ratePerSec: number;
  concurrency: number;
  durationMs: number;
  kind: string;
  payload: JsonObject;
}

/**
 * Sends operations over REST and classifies answers: success is HTTP 200 with outcome "OK";
 * anything else counts as an error of kind `http:<status>` or `outcome:<outcome>`.
 */
export async function runOperations(options: OpsRunOptions): Promise<LoadResult> {
  const client = createRestClient(options.restUrl, options.concurrency);
  try {
    return await runLoad({
      ratePerSec: options.ratePerSec,
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      async call(seq) {
        const account = options.accounts[seq % options.accounts.length]!;
        const res = await client.call("POST", "/armory/operations", { account, kind: options.kind, payload: options.payload });
        if (res.status !== 200) return `http:${res.status}`;
        const outcome = (res.body as { outcome?: unknown } | undefined)?.outcome;
        return outcome === "OK" ? undefined : `outcome:${String(outcome)}`;
      },
    });
  } finally {
    client.close();
  }
}

/** The operation payload the simulator sends, sized like a small deploy request. */
export function defaultOperationPayload(): JsonObject {
  return {
    namespace: "default",
    manifest: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "sim-app", labels: { app: "sim" } }, spec: { replicas: 3 } },
  };
}
