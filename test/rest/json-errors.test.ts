import { create, createRegistry, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FieldViolationSchema, file_agenthub_v1_errors, NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";
import { renderError, RestError } from "../../src/rest/json-errors.js";

const registry = createRegistry(file_agenthub_v1_errors);

describe("renderError", () => {
  it("renders details decoded from the wire when the registry knows their type, and skips the rest", () => {
    const error = new ConnectError("upstream said no", Code.FailedPrecondition);
    error.details = [
      { type: NamesViolationSchema.typeName, value: toBinary(NamesViolationSchema, create(NamesViolationSchema, { names: ["x"], reason: "r" })) },
      { type: "some.other.v1.Unknown", value: new Uint8Array([8, 1]) },
    ];
    const rendered = renderError(error, registry);
    expect(rendered.status).toBe(400);
    expect(JSON.parse(rendered.body)).toEqual({
      code: "failed_precondition",
      message: "upstream said no",
      details: [{ names: ["x"], reason: "r" }],
    });
  });

  it("carries a RestError's own status and headers; a plain ConnectError is not a RestError", () => {
    const rest = new RestError(405, Code.Unimplemented, "nope", [], { allow: "GET" });
    expect(rest).toBeInstanceOf(ConnectError);
    expect(renderError(rest, registry)).toMatchObject({ status: 405, headers: { allow: "GET" } });
    const plain = new ConnectError("gone", Code.NotFound, undefined, [{ desc: FieldViolationSchema, value: { field: "f" } }]);
    expect(plain).not.toBeInstanceOf(RestError);
    const rendered = renderError(plain, registry);
    expect(rendered.status).toBe(404);
    // Defaults are written out, like every other JSON answer.
    expect(JSON.parse(rendered.body)).toEqual({ code: "not_found", message: "gone", details: [{ field: "f", reason: "" }] });
  });
});
