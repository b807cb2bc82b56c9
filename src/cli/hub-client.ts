import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { UsageError } from "./usage-error.js";

/** How the CLI reaches a hub: its URL, a bearer token, and TLS material (design section 14). */
export interface HubConnection {
  /** Base URL, e.g. http://localhost:7002 or https://hub.example:7002. */
  hub: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** PEM file of the CA that signed the hub's certificate (instead of the system's CAs). */
  caFile?: string | undefined;
  /** PEM files of a client certificate and its key, for mTLS. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Skip verifying the hub's certificate. */
  insecure?: boolean;
}

/** A request the hub does not answer within this long fails rather than hanging a script. */
const TIMEOUT_MS = 30_000;

/** A JSON error the API answered (design section 8), with its HTTP status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly Record<string, unknown>[],
  ) {
    super(message);
  }
}

/** The hub could not be reached or answered something that is not the API's JSON. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** An answer: the HTTP status and the parsed JSON body (undefined when empty). */
export interface HubAnswer {
  status: number;
  body: unknown;
}

/** The REST client of the CLI: one request at a time, JSON in and out. */
export interface HubClient {
  /**
   * Sends `method path` with an optional JSON body. Answers with a 2xx status, and also 409 with
   * an array body (the API's partial outcome: the names that conflicted), are returned; other
   * statuses throw ApiError with the API's message.
   */
  request(method: string, path: string, body?: unknown): Promise<HubAnswer>;
}

function readPem(file: string | undefined, option: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${option} ${file}: ${(err as Error).message}`);
  }
}

/** The API's error shape, or a stand-in built from the status when the body is not one. */
function apiError(status: number, body: unknown, text: string): ApiError {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const { code, message, details } = body as Record<string, unknown>;
    if (typeof message === "string") {
      return new ApiError(status, typeof code === "string" ? code : "unknown", message, Array.isArray(details) ? (details as Record<string, unknown>[]) : []);
    }
  }
  return new ApiError(status, "unknown", text.trim() === "" ? `HTTP ${status}` : `HTTP ${status}: ${text.trim().slice(0, 200)}`, []);
}

/** Creates the client; reads the TLS files once, so a bad path fails (UsageError) before any request. */
export function createHubClient(connection: HubConnection): HubClient {
  let base: URL;
  try {
    base = new URL(connection.hub);
  } catch {
    throw new UsageError(`--hub ${connection.hub} is not a URL (e.g. http://localhost:7002)`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError(`--hub ${connection.hub}: only http:// and https:// are supported`);
  const tls = base.protocol === "https:";
  const ca = readPem(connection.caFile, "--ca");
  const cert = readPem(connection.certFile, "--cert");
  const key = readPem(connection.keyFile, "--key");
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--cert and --key go together");

  return {
    request(method, path, body) {
      const url = new URL(path, base);
      const text = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = { accept: "application/json" };
      if (text !== undefined) {
        headers["content-type"] = "application/json";
        // Node would send DELETE bodies chunked; a length is what every server expects.
        headers["content-length"] = String(Buffer.byteLength(text));
      }
      if (connection.token !== undefined && connection.token !== "") headers.authorization = `Bearer ${connection.token}`;
      const options: https.RequestOptions = { method, headers, timeout: TIMEOUT_MS };
      if (tls) Object.assign(options, { ca, cert, key, rejectUnauthorized: connection.insecure !== true });
      return new Promise<HubAnswer>((resolve, reject) => {
        const req = (tls ? https : http).request(url, options, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (err) => reject(new ConnectionError(`${method} ${url.href}: ${err.message}`)));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const raw = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = raw === "" ? undefined : JSON.parse(raw);
            } catch {
              // Not JSON (a proxy's page, say): an error with its first words below, or an odd success.
              if (status >= 200 && status < 300) return reject(new ConnectionError(`${method} ${url.href}: the answer is not JSON`));
            }
            if ((status >= 200 && status < 300) || (status === 409 && Array.isArray(parsed))) resolve({ status, body: parsed });
            else reject(apiError(status, parsed, raw));
          });
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
        req.on("error", (err) => reject(new ConnectionError(`cannot reach the hub at ${base.origin}: ${err.message}`)));
        req.end(text);
      });
    },
  };
}
