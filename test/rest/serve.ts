import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log/logger.js";
import { createRestTranscoder, type RestService } from "../../src/rest/transcoder.js";

/** What a test sees of one HTTP answer. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The parsed body; undefined when there was none. */
  json: unknown;
}

/** One REST request. `body` as a string goes out as is; `json` is serialized. */
export interface Ask {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  json?: unknown;
}

/** A client for one transport: fetch over HTTP/1.1, or node:http2 over h2c. */
export type Client = (ask: Ask) => Promise<Answer>;

/** Log lines the transcoder wrote, for asserting what is and isn't logged. */
export interface LogSink {
  logger: Logger;
  lines: string[];
}

export function logSink(): LogSink {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { logger: createLogger("info", destination), lines };
}

/** A transcoder served by a real HTTP/1.1 server and a real h2c server, both on port 0. */
export interface Served {
  http1: Client;
  h2c: Client;
  http1Port: number;
  h2cPort: number;
  close(): Promise<void>;
}

function bodyOf(ask: Ask): { body: string | Uint8Array | undefined; headers: Record<string, string> } {
  const headers = { ...ask.headers };
  if (ask.json !== undefined) {
    headers["content-type"] ??= "application/json";
    return { body: JSON.stringify(ask.json), headers };
  }
  return { body: ask.body, headers };
}

function answer(status: number, headers: Record<string, string>, text: string): Answer {
  return { status, headers, text, json: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

export async function serve(services: RestService[], options: { maxBodyBytes?: number; logger?: Logger } = {}): Promise<Served> {
  const { handle } = createRestTranscoder({
    services,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    logger: options.logger ?? createLogger("silent"),
  });
  const server1 = http.createServer(handle as (req: http.IncomingMessage, res: http.ServerResponse) => void);
  const server2 = http2.createServer(handle as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const listen = (server: http.Server | http2.Http2Server) =>
    new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
  const http1Port = await listen(server1);
  const h2cPort = await listen(server2);
  const session = http2.connect(`http://127.0.0.1:${h2cPort}`);

  const http1: Client = async (ask) => {
    const { body, headers } = bodyOf(ask);
    const res = await fetch(`http://127.0.0.1:${http1Port}${ask.path}`, { method: ask.method ?? "GET", headers, body });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => (out[k] = v));
    return answer(res.status, out, await res.text());
  };

  const h2c: Client = (ask) =>
    new Promise((resolve, reject) => {
      const { body, headers } = bodyOf(ask);
      const stream = session.request({ ":method": ask.method ?? "GET", ":path": ask.path, ...headers }, { endStream: body === undefined });
      const chunks: Buffer[] = [];
      let status = 0;
      const out: Record<string, string> = {};
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) out[k] = String(v);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve(answer(status, out, Buffer.concat(chunks).toString("utf8"))));
      stream.on("error", reject);
      if (body !== undefined) stream.end(body);
    });

  return {
    http1,
    h2c,
    http1Port,
    h2cPort,
    async close() {
      session.close();
      server1.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => server1.close(() => r())),
        new Promise<void>((r) => server2.close(() => r())),
      ]);
    },
  };
}
