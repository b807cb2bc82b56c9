import { describe, expect, it } from "vitest";
import { CredentialsFileError, parseCredentialsFile } from "../../src/auth/credentials-file.js";
import { matchesAny } from "../../src/auth/globs.js";
import { globLikePattern } from "../../src/store/name-patterns.js";
import { sanitizeLogValue, serializeError } from "../../src/log/safe-error.js";

describe("credential globs", () => {
  it.each([
    [["agent-eu-*"], "agent-eu-1", true],
    [["agent-eu-*"], "agent-us-1", false],
    [["eu"], "eu-west", false],
    [["eu-?"], "eu-1", true],
    [["a.b(c)[d]+"], "a.b(c)[d]+", true],
    [["a.b"], "axb", false],
    [["*"], "", true],
    [[""], "", true],
    [["x/y*"], "x/yz", true],
  ])("%o matches %s: %s", (globs, text, expected) => {
    expect(matchesAny(globs, text)).toBe(expected);
  });

  it("turns globs into LIKE patterns with LIKE's own characters escaped", () => {
    expect(globLikePattern("eu-*")).toBe("eu-%");
    expect(globLikePattern("a_b%c?\\")).toBe("a\\_b\\%c_\\\\");
  });
});

describe("credentials file", () => {
  const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  it("reads the design's example with its defaults", () => {
    const [c] = parseCredentialsFile(`- name: agents-eu\n  tokenSha256: ${hash}\n  role: agent\n  agentIds: ["agent-eu-*"]\n  zones: ["eu-west"]\n`);
    expect(c).toMatchObject({ name: "agents-eu", role: "agent", agentIds: ["agent-eu-*"], zones: ["eu-west"], accounts: ["*"] });
    expect(c!.tokenSha256!.toString("hex")).toBe(hash);
    const [v] = parseCredentialsFile(`- {name: v, certificate: "ops-*", role: viewer}`);
    expect(v).toMatchObject({ certificate: "ops-*", agentIds: ["*"], zones: ["*"], accounts: ["*"] });
  });

  it.each([
    ["- {name: a, role: admin}", /exactly one of tokenSha256 and certificate/],
    [`- {name: a, role: root, tokenSha256: ${hash}}`, /role: expected one of/],
    ["- {name: a, role: admin, tokenSha256: abc}", /64 hex digits/],
    [`- {name: a, role: admin, tokenSha256: ${hash}, zone: [x]}`, /zone: unknown field/],
    [`- {name: a, role: admin, tokenSha256: ${hash}}\n- {name: a, role: viewer, certificate: x}`, /already used/],
    [`- {name: a, role: viewer, tokenSha256: ${hash}, agentIds: [x]}`, /agent role only/],
    [`- {name: a, role: agent, tokenSha256: ${hash}, accounts: [x]}`, /not agent/],
    [`- {name: a, role: admin, tokenSha256: ${hash}, zones: eu}`, /list of strings/],
    ["name: a", /YAML list/],
    ["- [", /not valid YAML/],
  ])("refuses %s", (text, message) => {
    expect(() => parseCredentialsFile(text)).toThrow(CredentialsFileError);
    expect(() => parseCredentialsFile(text)).toThrow(message);
  });
});

describe("log sanitizer", () => {
  it("drops statement parameters from drizzle-style errors, their stacks and causes", () => {
    const cause = Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505", detail: "Key (name)=(CANARY) exists", parameters: ["CANARY"] });
    const err = Object.assign(new Error('Failed query: insert into "kubesvc_accounts" values ($1)\nparams: CANARY-SECRET'), { name: "DrizzleQueryError", params: ["CANARY-SECRET"], cause });
    const text = JSON.stringify(serializeError(err));
    expect(text).not.toContain("CANARY");
    expect(text).toContain("Failed query: insert into");
    expect(text).toContain("23505");
  });

  it("redacts secret-named fields and definitions at any depth, keeping references", () => {
    const out = sanitizeLogValue({ a: { apiToken: "T", password: "P", ref: { secretName: "encrypted:x" } }, definition: { x: 1 }, authorization: "Bearer T", note: "sent Bearer abc.def" });
    expect(out).toEqual({ a: { apiToken: "<redacted>", password: "<redacted>", ref: { secretName: "encrypted:x" } }, definition: "<redacted>", authorization: "<redacted>", note: "sent Bearer <redacted>" });
  });
});
