import { create, fromBinary, toJson, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { FieldViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";

/** Error details raised locally: a schema and the value to render with it. */
type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

/**
 * An error the transcoder raises itself. Some of its answers (404 for an unknown path, 405,
 * 413, 415) have HTTP statuses that no Connect code maps to, so the status travels with it.
 */
export class RestError extends ConnectError {
  // The name stays "ConnectError": ConnectError's own `instanceof` recognises subclasses by it.
  /**
   * ConnectError's `instanceof` accepts any ConnectError-like value, which would make every
   * handler error look like a RestError; only a real one carries an HTTP status.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(RestError, value);
  }
  constructor(
    readonly httpStatus: number,
    code: Code,
    message: string,
    details: OutgoingDetail[] = [],
    /** Extra response headers, e.g. `Allow` for a 405. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message, code, undefined, details);
  }
}

/** An error detail naming an offending request field, as the handlers' own details do. */
function fieldViolation(field: string, reason: string): OutgoingDetail {
  return { desc: FieldViolationSchema, value: { field, reason } };
}

/** A 400 invalid_argument naming one field. */
export function invalidField(field: string, message: string, reason: string): RestError {
  return new RestError(400, Code.InvalidArgument, message, [fieldViolation(field, reason)]);
}

/** An error as it goes on the wire: status, extra headers and the JSON body. */
export interface JsonErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Renders a ConnectError as `{"code", "message", "details"}`. Locally raised details are
 * rendered from their schema; details decoded from the wire are shown when `registry` knows
 * their type and left out otherwise (there is no JSON form for bytes of an unknown type).
 */
export function renderError(error: ConnectError, registry: Registry): JsonErrorResponse {
  const details: JsonValue[] = [];
  for (const detail of error.details) {
    if ("desc" in detail) {
      details.push(toJson(detail.desc, create(detail.desc, detail.value), { alwaysEmitImplicit: true, registry }));
      continue;
    }
    const desc = registry.getMessage(detail.type);
    if (desc === undefined) continue;
    try {
      details.push(toJson(desc, fromBinary(desc, detail.value), { alwaysEmitImplicit: true, registry }));
    } catch {
      // An undecodable detail from a peer must not turn the error itself into a 500.
    }
  }
  const status = error instanceof RestError ? error.httpStatus : codeToHttpStatus(error.code);
  const headers: Record<string, string> = {};
  if (error instanceof RestError) Object.assign(headers, error.headers);
  const body = JSON.stringify({ code: codeToString(error.code), message: error.rawMessage, details });
  return { status, headers, body };
}
