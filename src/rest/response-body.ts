import { toJson, type JsonValue, type Message, type Registry } from "@bufbuild/protobuf";
import type { HttpRoute } from "./http-rules.js";

/**
 * The JSON text of an RPC's response, or undefined when the output message has no fields at
 * all (an "empty" response answers with no body). Every field is written, defaults included
 * (`[]`, `0`, `false`, `""`), so clients never have to guess at a missing key. With
 * `response_body` only that field is written; an unset message field there is `{}`.
 */
export function renderResponseBody(route: HttpRoute, output: Message, registry: Registry): string | undefined {
  const schema = route.method.output;
  if (schema.fields.length === 0) return undefined;
  let json: JsonValue | undefined = toJson(schema, output, { alwaysEmitImplicit: true, registry });
  if (route.responseBody !== undefined) {
    for (const field of route.responseBody) {
      json = json !== null && typeof json === "object" && !Array.isArray(json) ? json[field.jsonName] : undefined;
    }
    if (json === undefined) {
      // toJson leaves out unset message fields (and unset `optional` scalars) even with
      // alwaysEmitImplicit, as they have explicit presence.
      const leaf = route.responseBody[route.responseBody.length - 1]!;
      json = leaf.fieldKind === "message" ? {} : null;
    }
  }
  return JSON.stringify(json);
}
