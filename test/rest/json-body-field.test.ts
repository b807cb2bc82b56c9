import { create, createRegistry, isMessage, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AccountsService, CreateAccountsRequestSchema } from "../../gen/agenthub/v1/accounts_pb.js";
import { bodyJson } from "../../src/accounts/request-body.js";
import { readHttpRoutes } from "../../src/rest/http-rules.js";
import { takeJsonBody } from "../../src/rest/json-body-field.js";
import { buildRequestMessage } from "../../src/rest/request-message.js";

const route = readHttpRoutes(AccountsService, { createAccounts: () => ({}) }).find((r) => r.method.localName === "createAccounts")!;
const body = [{ name: "a-1", kubeconfigFile: "/k", namespaces: ["x", "y"], nested: { n: 1, ok: true, none: null } }];

/**
 * Issue 11: a REST body of 0.5 MB held ~15× its size as a google.protobuf.Value tree (plus the
 * handler's JSON copy of it). A body bound to a Value field now reaches the handler as parsed.
 */
describe("a REST body bound to a google.protobuf.Value field", () => {
  const build = () => {
    const message = buildRequestMessage(route, { variables: [], query: new URLSearchParams("dryRun=true"), body }, createRegistry());
    if (!isMessage(message, CreateAccountsRequestSchema)) throw new Error("not a CreateAccountsRequest");
    return message;
  };

  it("reaches the handler as the parsed JSON itself, not a copy rebuilt from a Value tree", () => {
    const message = build();
    expect(takeJsonBody(message, "accounts")).toBe(body);
    expect(bodyJson(message, "accounts")).toBe(body);
    expect(message.dryRun).toBe(true);
  });

  it("still reads as the equivalent Value for anyone who converts the message (an interceptor)", () => {
    const message = build();
    expect(toJson(CreateAccountsRequestSchema, message)).toEqual({ accounts: body, dryRun: true });
    expect(toJson(ValueSchema, message.accounts!)).toEqual(body);
  });

  it("leaves other messages to their Value: a gRPC or Connect request is converted as before", () => {
    const message = create(CreateAccountsRequestSchema, { accounts: { kind: { case: "stringValue", value: "one" } } });
    expect(takeJsonBody(message, "accounts")).toBeUndefined();
    expect(bodyJson(message, "accounts")).toBe("one");
    expect(bodyJson(create(CreateAccountsRequestSchema), "accounts")).toBeUndefined();
  });

  it("forgets the JSON once the field is replaced", () => {
    const message = build();
    message.accounts = create(ValueSchema, { kind: { case: "numberValue", value: 2 } });
    expect(takeJsonBody(message, "accounts")).toBeUndefined();
    expect(bodyJson(message, "accounts")).toBe(2);
  });
});
