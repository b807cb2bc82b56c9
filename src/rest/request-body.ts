import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { NodeRequest } from "./node-http.js";
import { invalidField, RestError } from "./json-errors.js";

/** Whether a Content-Type header names JSON; parameters (`; charset=utf-8`) and case don't matter. */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(";", 1)[0]!.trim().toLowerCase() === "application/json";
}

/** The request says up front that a body follows (HTTP/1.1 Content-Length or chunked). */
function declaresBody(req: NodeRequest): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined && length !== "0") return true;
  return req.headers["transfer-encoding"] !== undefined;
}

function unsupportedMediaType(header: string | undefined): RestError {
  const got = header === undefined ? "no Content-Type" : `Content-Type "${header}"`;
  return new RestError(415, Code.InvalidArgument, `request body must be application/json, got ${got}`);
}

function tooLarge(maxBytes: number): RestError {
  return new RestError(413, Code.ResourceExhausted, `request body is larger than ${maxBytes} bytes`);
}

/**
 * Reads the request body, at most `maxBytes`. Answers 415 before reading when a body is
 * declared without a JSON Content-Type, and 413 before reading when Content-Length is too
 * large; otherwise counts while reading and stops taking data at the limit (HTTP/2 and chunked
 * bodies have no length up front). An HTTP/2 body without Content-Length is only known to exist
 * once read, so its Content-Type is checked afterwards. An empty body is zero bytes. A body not
 * complete within `timeoutMs` (0: no limit) is answered 408, so a half-sent request cannot hold
 * its stream and buffer forever.
 */
export async function readBody(req: NodeRequest, maxBytes: number, timeoutMs = 0): Promise<Buffer> {
  const contentType = req.headers["content-type"];
  const jsonType = isJsonContentType(contentType);
  if (declaresBody(req) && !jsonType) throw unsupportedMediaType(contentType);
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);

  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            cleanup();
            req.pause();
            chunks.length = 0;
            reject(new RestError(408, Code.DeadlineExceeded, `request body not received within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
      req.off("close", onAborted);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        // Stop buffering at once; the transcoder closes the exchange after answering 413.
        cleanup();
        req.pause();
        chunks.length = 0;
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAborted = (): void => {
      cleanup();
      reject(new RestError(499, Code.Canceled, "client closed the request"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
    // A "close" before "end" means the client went away mid-body.
    req.on("close", onAborted);
  });
  if (bytes.length > 0 && !jsonType) throw unsupportedMediaType(contentType);
  return bytes;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a non-empty body as JSON. `field` names where the body goes (a JSON field path, or
 * `*` for the whole request) so the 400 says which input was malformed.
 */
export function parseJsonBody(bytes: Buffer, field: string): JsonValue {
  const where = field === "*" ? "request body" : `request body (field "${field}")`;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalidField(field, `${where} is not valid UTF-8`, "not valid UTF-8");
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    const reason = `malformed JSON: ${(e as Error).message}`;
    throw invalidField(field, `${where} is not valid JSON`, reason);
  }
}
