import { fromJson, type DescField, type JsonValue, type Message } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";

/** The JSON of each message's lazily built body field, by message. */
const bodies = new WeakMap<Message, { localName: string; json: JsonValue }>();

/** Whether a body field is a `google.protobuf.Value`: free-form JSON a handler reads back as JSON. */
export function isJsonValueField(field: DescField): boolean {
  return field.fieldKind === "message" && field.message.typeName === "google.protobuf.Value";
}

/**
 * Sets the `google.protobuf.Value` field `field` of `message` to `json` without building the
 * Value tree (about 16 bytes of heap per byte of body, three objects per JSON value): the tree is
 * built the first time someone reads the field (an interceptor converting the whole message, a
 * handler that does not know better), while `takeJsonBody` hands the parsed JSON over as it is.
 */
export function setJsonValueField(message: Message, field: DescField, json: JsonValue): void {
  let value: Value | undefined;
  let built = false;
  bodies.set(message, { localName: field.localName, json });
  Object.defineProperty(message, field.localName, {
    configurable: true,
    enumerable: true,
    get(): Value | undefined {
      if (!built) {
        value = fromJson(ValueSchema, json);
        built = true;
      }
      return value;
    },
    set(next: Value | undefined) {
      value = next;
      built = true;
      bodies.delete(message);
    },
  });
}

/** The JSON a REST body set on `message[localName]` by `setJsonValueField`; undefined for any other message (gRPC, Connect). */
export function takeJsonBody(message: Message, localName: string): JsonValue | undefined {
  const body = bodies.get(message);
  return body?.localName === localName ? body.json : undefined;
}
