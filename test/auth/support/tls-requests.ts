import * as http2 from "node:http2";
import * as https from "node:https";
import * as tls from "node:tls";

/** A REST answer over TLS. */
export interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export interface TlsRequestOptions {
  ca: Buffer;
  token?: string;
  body?: unknown;
  /** A client certificate to present. */
  cert?: Buffer;
  key?: Buffer;
  headers?: Record<string, string>;
}

function parse(text: string): unknown {
  try {
    return text === "" ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function headersOf(options: TlsRequestOptions, body: string | undefined): Record<string, string> {
  return {
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    ...(body === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }),
    ...options.headers,
  };
}

/**
 * One REST request over HTTPS/1.1 with node:https, trusting only the test CA (Node's fetch cannot
 * be given a CA without importing undici). A fresh connection every time (no agent keep-alive).
 */
export function httpsRequest(port: number, method: string, path: string, options: TlsRequestOptions): Promise<TlsAnswer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", servername: "localhost", port, method, path, ca: options.ca, cert: options.cert, key: options.key, agent: false, headers: headersOf(options, body) },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parse(text) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** One REST request over HTTP/2 with TLS (ALPN h2), trusting only the test CA. */
export function h2Request(port: number, method: string, path: string, options: TlsRequestOptions): Promise<TlsAnswer & { alpn: string | false }> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, { ca: options.ca, cert: options.cert, key: options.key, host: "127.0.0.1", servername: "localhost" });
    session.on("error", reject);
    const stream = session.request({ ":method": method, ":path": path, ...headersOf(options, body) });
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let text = "";
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = h as Record<string, string>;
    });
    stream.setEncoding("utf8");
    stream.on("data", (c: string) => (text += c));
    stream.on("end", () => {
      const alpn = session.alpnProtocol ?? false;
      session.close();
      resolve({ status, headers, text, json: parse(text), alpn });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

/** The certificate a fresh TLS connection to the port is served. */
export function servedCertificate(port: number, ca: Buffer): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, ALPNProtocols: ["h2"] }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on("error", reject);
  });
}

/** A gRPC-Web (JSON) unary answer: HTTP status, grpc-status from headers or the trailer frame, the message. */
export interface GrpcWebAnswer {
  status: number;
  grpcStatus: string | undefined;
  message: unknown;
}

/**
 * One unary gRPC-Web call with the JSON codec over HTTPS/1.1, framed by hand (flag byte, length,
 * payload; the trailers come as a frame with flag 0x80), so that the wire format is what is tested.
 */
export function grpcWebRequest(port: number, path: string, message: unknown, options: Pick<TlsRequestOptions, "ca" | "token">): Promise<GrpcWebAnswer> {
  const payload = Buffer.from(JSON.stringify(message), "utf8");
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(payload.length, 1);
  const frame = Buffer.concat([prefix, payload]);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        servername: "localhost",
        port,
        method: "POST",
        path,
        ca: options.ca,
        agent: false,
        headers: {
          "content-type": "application/grpc-web+json",
          "x-grpc-web": "1",
          "content-length": String(frame.length),
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          let grpcStatus = typeof res.headers["grpc-status"] === "string" ? res.headers["grpc-status"] : undefined;
          let parsed: unknown;
          for (let at = 0; at + 5 <= body.length; ) {
            const flag = body[at]!;
            const length = body.readUInt32BE(at + 1);
            const data = body.subarray(at + 5, at + 5 + length);
            if ((flag & 0x80) === 0) parsed = JSON.parse(data.toString("utf8"));
            else grpcStatus = /grpc-status:\s*(\d+)/i.exec(data.toString("utf8"))?.[1] ?? grpcStatus;
            at += 5 + length;
          }
          resolve({ status: res.statusCode ?? 0, grpcStatus, message: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(frame);
  });
}
