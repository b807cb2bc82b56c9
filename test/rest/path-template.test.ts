import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import {
  captureVariables,
  compareSpecificity,
  matchPathTemplate,
  parsePathTemplate,
  PathDecodeError,
  splitRequestPath,
} from "../../src/rest/path-template.js";
import { createRestTranscoder } from "../../src/rest/transcoder.js";
import { TranscodingService } from "../gen/transcoding/v1/transcoding_pb.js";

/** The captured values of `template` for `path`, or undefined when it does not match. */
function capture(template: string, path: string): Record<string, string> | undefined {
  const parsed = parsePathTemplate(template);
  const match = matchPathTemplate(parsed, splitRequestPath(path));
  if (match === undefined) return undefined;
  return Object.fromEntries(captureVariables(parsed, match).map((c) => [c.variable.fieldPath, c.value]));
}

describe("parsePathTemplate", () => {
  it("parses literals, variables, nested field paths and a verb", () => {
    const t = parsePathTemplate("/v1/{parent.id}/items/{name=shelves/*/books/**}:move");
    expect(t.segments.map((s) => s.kind)).toEqual(["literal", "wildcard", "literal", "literal", "wildcard", "literal", "deep"]);
    expect(t.variables).toEqual([
      { fieldPath: "parent.id", start: 1, end: 2 },
      { fieldPath: "name", start: 3, end: 7 },
    ]);
    expect(t.verb).toBe("move");
  });

  it.each([
    ["v1/items", "must start with /"],
    ["/v1/**/x", "** must be the last segment"],
    ["/v1/{a={b}}", "variables cannot nest"],
    ["/v1/{a}/{a}", "appears twice"],
    ["/v1//x", "empty segment"],
    ["/v1/{a", "unclosed"],
    ["/v1/{a-b}", "bad field path"],
    ["/", "empty path"],
    ["/v1/x:", "bad verb"],
  ])("rejects %s", (template, why) => {
    expect(() => parsePathTemplate(template)).toThrow(why);
  });
});

describe("matchPathTemplate and captureVariables", () => {
  it("matches literals and single variables, fully decoding the value", () => {
    expect(capture("/v1/items/{name}", "/v1/items/a%2Fb%20c")).toEqual({ name: "a/b c" });
    expect(capture("/v1/items/{name}", "/v1/items/a/b")).toBeUndefined();
    expect(capture("/v1/items/{name}", "/v1/items/")).toBeUndefined();
    expect(capture("/v1/items/{name}", "/v2/items/a")).toBeUndefined();
  });

  it("matches a literal written percent-encoded", () => {
    expect(capture("/v1/items", "/v1/%69tems")).toEqual({});
  });

  it("lets ** take zero or more segments, keeping %2F encoded", () => {
    expect(capture("/files/{path=**}", "/files/a/b%2Fc/d%20e")).toEqual({ path: "a/b%2Fc/d e" });
    expect(capture("/files/{path=**}", "/files")).toEqual({ path: "" });
  });

  it("captures a multi-segment variable with literals inside", () => {
    expect(capture("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b1")).toEqual({ name: "shelves/s1/books/b1" });
    expect(capture("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/boxes/b1")).toBeUndefined();
  });

  it("strips a verb only from templates that have one", () => {
    expect(capture("/v1/docs/{id}:replace", "/v1/docs/a:replace")).toEqual({ id: "a" });
    expect(capture("/v1/docs/{id}:replace", "/v1/docs/a")).toBeUndefined();
    expect(capture("/v1/docs/{id}", "/v1/docs/a:replace")).toEqual({ id: "a:replace" });
  });

  it("throws PathDecodeError for a malformed escape in a captured segment", () => {
    const t = parsePathTemplate("/v1/items/{name}");
    const match = matchPathTemplate(t, splitRequestPath("/v1/items/%E0%A4%A"))!;
    expect(() => captureVariables(t, match)).toThrow(PathDecodeError);
  });
});

describe("compareSpecificity", () => {
  const more = (a: string, b: string) => compareSpecificity(parsePathTemplate(a), parsePathTemplate(b));
  it("ranks literal over * over **, then length, then a verb", () => {
    expect(more("/v1/items/special", "/v1/items/{name}")).toBeGreaterThan(0);
    expect(more("/v1/items/{name}", "/v1/{path=**}")).toBeGreaterThan(0);
    expect(more("/v1/{a}/{b}", "/v1/{path=**}")).toBeGreaterThan(0);
    expect(more("/v1/{a}:go", "/v1/{a}")).toBeGreaterThan(0);
    expect(more("/v1/{a}", "/v1/{b}")).toBe(0);
  });
});

describe("route table construction", () => {
  it("refuses two rules for the same method and path shape", () => {
    const service = { service: TranscodingService, impl: {} };
    expect(() => createRestTranscoder({ services: [service, service], maxBodyBytes: 1, logger: createLogger("silent") })).toThrow(
      /REST routes conflict/,
    );
  });
});
