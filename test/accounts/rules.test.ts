// The pure rules behind the API: names, redaction, definitions, paging, state transitions.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { agentDefinitionOf, parseDefinition, readClouddriverBody, zoneIdOf } from "../../src/accounts/account-definition.js";
import { nameProblem } from "../../src/model/account-names.js";
import { transitionFor } from "../../src/accounts/state-transitions.js";
import { noProblems, requestError } from "../../src/accounts/api-errors.js";
import { FieldViolationSchema, NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";
import { paging } from "../../src/accounts/paging.js";
import { redactDefinition } from "../../src/accounts/redaction.js";

describe("names", () => {
  it.each(["a", "ü", "名前", "a b", "x".repeat(253), "🙂".repeat(253), "acct.prod:1@x"])("accepts %j", (name) => {
    expect(nameProblem(name)).toBeUndefined();
  });

  it.each([
    ["", "empty"],
    ["x".repeat(254), "254"],
    ["🙂".repeat(254), "254"],
    ["a/b", "'/'"],
    ["a\u0000", "control"],
    ["a\u001fb", "control"],
    ["a\u007f", "control"],
    ["a\u009fb", "control"],
    [" a", "whitespace"],
    ["a\u3000", "whitespace"],
    [5, "string"],
    [undefined, "required"],
  ])("refuses %j (%s)", (name, why) => {
    expect(nameProblem(name)).toContain(why);
  });
});

describe("redaction", () => {
  it("redacts kubeconfigContents and any field named like token, password or secret, at any depth, unless a reference", () => {
    expect(
      redactDefinition({
        name: "n",
        kubeconfigContents: "contents",
        kubeconfigFile: "/not/a/secret",
        bearerToken: "t",
        TOKENS: ["a", "b"],
        nested: { list: [{ dbPassword: 1 }, { clientSecret: null }, { Secret: "encrypted:vault!x" }] },
        ref: { password: "encryptedFile:k8s!n:s!k:p" },
        contentsRef: "encrypted:abc",
        kinds: ["Secret"],
      }),
    ).toEqual({
      name: "n",
      kubeconfigContents: "<redacted>",
      kubeconfigFile: "/not/a/secret",
      bearerToken: "<redacted>",
      TOKENS: "<redacted>",
      nested: { list: [{ dbPassword: "<redacted>" }, { clientSecret: "<redacted>" }, { Secret: "encrypted:vault!x" }] },
      ref: { password: "encryptedFile:k8s!n:s!k:p" },
      contentsRef: "encrypted:abc",
      kinds: ["Secret"],
    });
  });

  it("keeps a kubeconfigContents reference", () => {
    expect(redactDefinition({ kubeconfigContents: "encryptedFile:k8s!n:kc!k:config" })).toEqual({ kubeconfigContents: "encryptedFile:k8s!n:kc!k:config" });
  });
});

describe("definitions", () => {
  it("reads kubeConfigFile as kubeconfigFile and keeps unknown fields", () => {
    const problems = noProblems();
    const parsed = parseDefinition({ at: "[0]", object: { name: "a", kubeConfigFile: "/f", whatever: { x: 1 } } }, problems);
    expect(problems).toEqual({ fields: [], names: [] });
    expect(parsed).toEqual({ name: "a", definition: { name: "a", kubeconfigFile: "/f", whatever: { x: 1 } } });
  });

  it("reports both spellings together, and every problem of an element at once", () => {
    const problems = noProblems();
    expect(parseDefinition({ at: "[2]", object: { name: "", kubeConfigFile: "/f", kubeconfigFile: "/g", type: "aws" } }, problems)).toBeUndefined();
    expect(problems.fields.map((f) => f.field)).toEqual(["[2].name", "[2].kubeConfigFile", "[2].type"]);
  });

  it("derives the zone and the definition agents get", () => {
    expect(zoneIdOf({ zoneId: "z" })).toBe("z");
    expect(zoneIdOf({ zoneId: "" })).toBeNull();
    expect(zoneIdOf({})).toBeNull();
    expect(agentDefinitionOf({ name: "a", kubeconfigContents: "c" })).toBeNull();
    expect(agentDefinitionOf({ name: "a", kubeconfigContents: "c", kubeconfigFile: "/hub", kubeconfigAgent: "/agent", metrics: true })).toEqual({
      name: "a",
      kubeconfigFile: "/agent",
      metrics: true,
    });
  });

  it("reads a Clouddriver body under the row's name, with either kubeconfig spelling", () => {
    expect(readClouddriverBody("id", { name: "other", kubeConfigFile: "/a" })).toEqual({ name: "id", kubeconfigFile: "/a" });
    expect(readClouddriverBody("id", { kubeConfigFile: "/a", kubeconfigFile: "/b" })).toEqual({ name: "id", kubeconfigFile: "/b" });
    expect(readClouddriverBody("id", { serviceAccount: true })).toEqual({ name: "id", serviceAccount: true });
  });
});

describe("paging", () => {
  it("defaults to page 1, limit 100", () => {
    expect(paging(undefined, undefined)).toEqual({ page: 1, limit: 100, offset: 0 });
    expect(paging(3, 1000)).toEqual({ page: 3, limit: 1000, offset: 2000 });
  });

  it.each([
    [0, undefined, ["page"]],
    [-2, 0, ["page", "limit"]],
    [1, 1001, ["limit"]],
  ])("page %s, limit %s → invalid_argument naming %j", (page, limit, fields) => {
    let err: unknown;
    try {
      paging(page, limit);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    for (const field of fields) expect((err as ConnectError).rawMessage).toContain(field);
  });
});

describe("state transitions (section 4)", () => {
  it.each([
    ["INACTIVE", "ACTIVE", "move"],
    ["FAILED", "ACTIVE", "move"],
    ["ORPHANED", "ACTIVE", "move"],
    ["ACTIVE", "ACTIVE", "move"],
    ["ACTIVATING", "ACTIVE", "keep"],
    ["TO_DEACTIVATE", "ACTIVE", "refuse"],
    ["DEACTIVATING", "ACTIVE", "refuse"],
    ["DELETING", "ACTIVE", "refuse"],
    ["TO_MIGRATE", "ACTIVE", "refuse"],
    ["ACTIVE", "INACTIVE", "move"],
    ["DEACTIVATING", "INACTIVE", "move"],
    ["FAILED", "INACTIVE", "move"],
    ["DELETING", "INACTIVE", "refuse"],
  ] as const)("%s + PATCH %s → %s", (from, target, kind) => {
    expect(transitionFor(from, target).kind).toBe(kind);
  });
});

describe("request errors", () => {
  it("name fields in request order and accounts by name, with a message that says it in words", () => {
    const err = requestError(Code.InvalidArgument, {
      fields: [
        { field: "[10].name", reason: "name must not be empty" },
        { field: "[2]", reason: "expected an account object" },
        { field: "body", reason: "x" },
        { field: "[2].zoneId", reason: "must be a string" },
      ],
      names: [{ names: ["a", "b"], reason: "unknown accounts" }],
    });
    expect(err.findDetails(FieldViolationSchema).map((d) => d.field)).toEqual(["body", "[2]", "[2].zoneId", "[10].name"]);
    expect(err.findDetails(NamesViolationSchema).map((d) => [d.names, d.reason])).toEqual([[["a", "b"], "unknown accounts"]]);
    expect(err.rawMessage).toBe("body: x; [2]: expected an account object; [2].zoneId: must be a string; and 2 more problems");
  });
});
