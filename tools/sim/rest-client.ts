import { Agent, request } from "node:http";
import { loopbackUrl } from "./loopback.js";

/** An answer of the hub's REST API. */
export interface RestResponse {
  status: number;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
}

/** A small keep-alive JSON client for the hub's REST API (HTTP/1.1, loopback only). */
export interface RestClient {
  call(method: string, path: string, body?: unknown): Promise<RestResponse>;
  close(): void;
}

/** Creates a client for `baseUrl`, which must be a loopback URL; `sockets` caps parallel connections. */
export function createRestClient(baseUrl: string, sockets = 16): RestClient {
  const base = loopbackUrl(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  return {
    call(method, path, body) {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      return new Promise<RestResponse>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: base.hostname.replace(/^\[|\]$/g, ""),
            port: base.port,
            method,
            path,
            headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": payload.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let parsed: unknown;
              try {
                parsed = text === "" ? undefined : JSON.parse(text);
              } catch {
                parsed = text;
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
          },
        );
        req.on("error", reject);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

/** Thrown when the hub answers a REST call with an unexpected status. */
export class RestError extends Error {
  override name = "RestError";
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)?.slice(0, 500)}`);
  }
}
