import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nameProblem } from "../../src/model/account-names.js";
import { parseDefinition } from "../../src/accounts/account-definition.js";
import { noProblems } from "../../src/accounts/api-errors.js";
import { ConfigError, defaultConfig, loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log/logger.js";
import { captureVariables, matchPathTemplate, parsePathTemplate, PathDecodeError, splitRequestPath } from "../../src/rest/path-template.js";
import { TranscodingService } from "../gen/transcoding/v1/transcoding_pb.js";
import { serve, type Served } from "../rest/serve.js";
import { transcodingImpl, type Call } from "../rest/transcoding-service.js";

/** Small enough for npm test; raise locally with FUZZ_RUNS to dig deeper. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/** Strings that include the characters that break things: NUL, controls, slashes, percent signs, astral code points. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.constantFrom("\u0000", "\u001b", "/", "%", " ", "a", "é", "😀", "\u007f", "\u0085", ".", "{", "}", "*", ":"), maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 300 }),
);

describe("name validator (property)", () => {
  it("never throws, and accepts exactly the names that follow the rules", () => {
    fc.assert(
      fc.property(nasty, (name) => {
        const problem = nameProblem(name);
        const follows = [...name].length >= 1 && [...name].length <= 253 && !name.includes("/") && !/\p{Cc}/u.test(name) && name === name.trim();
        expect(problem === undefined).toBe(follows);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("definition validator (property)", () => {
  it("never throws; a definition it accepts has a valid name and no NUL anywhere", () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(fc.dictionary(nasty, json, { maxKeys: 6 }), fc.option(nasty), (fields, name) => {
        const object = name === null ? fields : { ...fields, name };
        const problems = noProblems();
        const parsed = parseDefinition({ at: "", object: object as never }, problems);
        if (parsed !== undefined && problems.fields.length === 0 && problems.names.length === 0) {
          expect(nameProblem(parsed.name)).toBeUndefined();
          expect(JSON.stringify(parsed.definition)).not.toContain("\\u0000");
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("config parser (property)", () => {
  const keys = ["port", "host", "heartbeat.interval", "heartbeat.missedLimit", "limits.maxMessageBytes", "limits.helloTimeout", "http.maxBodyBytes", "autoscan.namePatterns", "dynamicAccounts.enabled", "log.level", "grpc.agentPort", "no.such.key"];
  it("returns a configuration or throws a ConfigError naming the key, nothing else", () => {
    const value = fc.oneof(nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }), (overrides) => {
        try {
          const c = loadConfig({ env: {}, overrides });
          expect(Object.keys(c).sort()).toEqual(Object.keys(defaultConfig()).sort());
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect(Object.keys(overrides).some((k) => (err as Error).message.includes(k))).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("path templates (property)", () => {
  const template = parsePathTemplate("/v1/items/{name}/parts/{part=**}");
  it("round-trips any percent-encoded value through a single variable, and never throws anything but PathDecodeError", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }), fc.array(fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }), (name, parts) => {
        const path = `/v1/items/${encodeURIComponent(name)}/parts/${parts.map(encodeURIComponent).join("/")}`;
        const match = matchPathTemplate(template, splitRequestPath(path));
        expect(match).toBeDefined();
        const captured = Object.fromEntries(captureVariables(template, match!).map((c) => [c.variable.fieldPath, c.value]));
        expect(captured.name).toBe(name);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("/", "%", "a", "2", "F", ":", "{", "*", "."), maxLength: 30 }), (raw) => {
        try {
          const match = matchPathTemplate(template, splitRequestPath(`/${raw}`));
          if (match !== undefined) captureVariables(template, match);
        } catch (err) {
          expect(err).toBeInstanceOf(PathDecodeError);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("parses or refuses any template source with an Error, never anything else", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("/", "{", "}", "=", "*", "a", ".", ":", "v"), maxLength: 25 }), (source) => {
        try {
          parsePathTemplate(source);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("transcoder (property)", () => {
  const calls: Call[] = [];
  let served: Served;
  beforeAll(async () => {
    served = await serve([{ service: TranscodingService, impl: transcodingImpl(calls) }], { maxBodyBytes: 4096, logger: createLogger("silent") });
  });
  afterAll(async () => {
    await served.close();
  });

  it("answers any request with JSON and a status below 500; an error names its code", async () => {
    const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE");
    const segment = fc.oneof(fc.constantFrom("v1", "items", "shelves", "books", "a%2Fb", "%ZZ", "x:move", "..", ""), fc.string({ unit: fc.constantFrom("a", "%", "2", "F", ":", "-"), maxLength: 6 }));
    const query = fc.oneof(fc.constant(""), fc.string({ unit: fc.constantFrom("a", "=", "&", "%", "1", ".", "[", "]"), maxLength: 15 }).map((q) => `?${q}`));
    const body = fc.oneof(fc.constant(undefined), fc.json({ maxDepth: 3 }), fc.string({ maxLength: 50 }));
    await fc.assert(
      fc.asyncProperty(method, fc.array(segment, { minLength: 1, maxLength: 5 }), query, body, async (m, segments, q, b) => {
        const res = await served.http1({
          method: m,
          path: `/${segments.join("/")}${q}`,
          ...(b === undefined || m === "GET" ? {} : { body: b, headers: { "content-type": "application/json" } }),
        });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof (res.json as { code?: unknown }).code).toBe("string");
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
