import * as http from "node:http";
import { expect } from "vitest";

/** Secret contents the tests store; no response may ever contain them. */
export const SECRET_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: KUBECONFIG-SECRET-c0ffee}}]";
export const SECRET_TOKEN = "TOKEN-SECRET-5eed";
export const SECRET_PASSWORD = "PASSWORD-SECRET-f00d";
export const SECRETS = [SECRET_KUBECONFIG, "KUBECONFIG-SECRET-c0ffee", SECRET_TOKEN, SECRET_PASSWORD];

/** A REST answer. `json` is undefined when the body is empty. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export interface CallOptions {
  /** Content-Type to send; `null` sends none. Defaults to application/json when there is a body. */
  contentType?: string | null;
  /** The body text as is, instead of JSON.stringify(body). */
  raw?: string;
}

/**
 * The one REST helper of the tests: a request with plain fetch, as a script would make it, to a
 * hub (or its base URL). Every answer is checked for the secrets above.
 */
export async function call(hub: { url: string } | string, method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<Answer> {
  const text = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const headers: Record<string, string> = {};
  const contentType = options.contentType === undefined ? (text === undefined ? null : "application/json") : options.contentType;
  if (contentType !== null) headers["content-type"] = contentType;
  const base = typeof hub === "string" ? hub : hub.url;
  const res = await fetch(`${base}${path}`, { method, headers, ...(text === undefined ? {} : { body: text }) });
  const answer = await res.text();
  for (const secret of SECRETS) expect(answer, `${method} ${path} leaked a secret`).not.toContain(secret);
  return { status: res.status, headers: res.headers, text: answer, json: answer === "" ? undefined : JSON.parse(answer) };
}

/**
 * A request written byte for byte, as `curl --data-binary` with odd headers would send it:
 * fetch cannot send a body without Content-Type or with a Content-Length that lies.
 */
export function rawRequest(hub: { url: string }, method: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${hub.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, text, json: text === "" ? undefined : JSON.parse(text) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
