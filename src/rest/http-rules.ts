import { getOption, hasOption, type DescField, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../gen/google/api/http_pb.js";
import { resolveFieldPath } from "./field-path.js";
import { parsePathTemplate, type PathTemplate, type TemplateVariable } from "./path-template.js";
import { textTarget } from "./text-values.js";

/** Where the request body goes: nowhere, the whole message (`*`), or one field. */
export type BodyRule = { kind: "none" } | { kind: "all" } | { kind: "field"; path: DescField[] };

/** A path variable resolved to the request field it sets. */
export interface RouteVariable {
  variable: TemplateVariable;
  path: DescField[];
}

/** One HTTP binding of one RPC: a rule or one of its additional_bindings. */
export interface HttpRoute {
  /** Upper-case HTTP method (GET, POST, ... or a custom kind). */
  httpMethod: string;
  template: PathTemplate;
  service: DescService;
  method: DescMethod;
  /** The service implementation object; the RPC is looked up on it by `method.localName`. */
  impl: object;
  variables: RouteVariable[];
  body: BodyRule;
  /** `response_body`: the output field that is the whole response, or undefined for all of it. */
  responseBody: DescField[] | undefined;
}

/**
 * Reads the google.api.http rules (with their additional_bindings) of every method of
 * `service`. A malformed rule throws an Error naming the method: that is a bug in the proto
 * and must stop the server at start, not surface as a 500 at request time.
 */
export function readHttpRoutes(service: DescService, impl: object): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const method of service.methods) {
    if (!hasOption(method, http)) continue;
    const rule = getOption(method, http);
    // additional_bindings may not nest (the spec ignores deeper levels), so only one level.
    for (const binding of [rule, ...rule.additionalBindings]) {
      try {
        routes.push(toRoute(binding, service, method, impl));
      } catch (e) {
        throw new Error(`google.api.http rule of ${method.parent.typeName}.${method.name}: ${(e as Error).message}`);
      }
    }
  }
  return routes;
}

function toRoute(rule: HttpRule, service: DescService, method: DescMethod, impl: object): HttpRoute {
  let httpMethod: string;
  let path: string;
  switch (rule.pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = rule.pattern.case.toUpperCase();
      path = rule.pattern.value;
      break;
    case "custom":
      httpMethod = rule.pattern.value.kind.toUpperCase();
      path = rule.pattern.value.path;
      break;
    default:
      throw new Error("no HTTP method and path");
  }
  if (!/^[A-Z]+$/.test(httpMethod)) throw new Error(`bad HTTP method "${httpMethod}"`);
  const template = parsePathTemplate(path);

  const variables = template.variables.map((variable): RouteVariable => {
    const resolved = resolveFieldPath(method.input, variable.fieldPath);
    if (typeof resolved === "string") throw new Error(`path variable {${variable.fieldPath}}: ${resolved}`);
    const leaf = resolved[resolved.length - 1]!;
    if (leaf.fieldKind === "list" || textTarget(leaf) === undefined) {
      throw new Error(`path variable {${variable.fieldPath}} must be a singular scalar field`);
    }
    return { variable, path: resolved };
  });

  let body: BodyRule;
  if (rule.body === "") body = { kind: "none" };
  else if (rule.body === "*") body = { kind: "all" };
  else {
    const resolved = resolveFieldPath(method.input, rule.body);
    if (typeof resolved === "string") throw new Error(`body "${rule.body}": ${resolved}`);
    if (variables.some((v) => v.variable.fieldPath === rule.body)) throw new Error(`body "${rule.body}" is also a path variable`);
    body = { kind: "field", path: resolved };
  }

  let responseBody: DescField[] | undefined;
  if (rule.responseBody !== "") {
    const resolved = resolveFieldPath(method.output, rule.responseBody);
    if (typeof resolved === "string") throw new Error(`response_body "${rule.responseBody}": ${resolved}`);
    responseBody = resolved;
  }
  return { httpMethod, template, service, method, impl, variables, body, responseBody };
}
