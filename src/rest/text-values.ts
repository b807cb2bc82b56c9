import { ScalarType, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";

/**
 * Path variables and query parameters arrive as text. They are turned into the field's proto3
 * JSON form and then handed to `mergeFromJson`, so range checks, enum names and well-known types
 * follow protobuf-es exactly; this module only does what JSON cannot express from a string
 * (booleans, enum numbers) and rejects spellings that `Number()` would let through ("", " 1",
 * "0x10", "1e3" for an integer).
 */

/** Well-known types whose JSON form is one string or number, so a URL can carry them. */
const TEXT_MESSAGES = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.BoolValue",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
]);

/** A field kind a URL string can set: scalar, enum, or a scalar-like well-known type. */
export type TextTarget = { kind: "scalar"; scalar: ScalarType } | { kind: "enum" } | { kind: "message"; message: DescMessage };

/** What one text value sets in `field` (for a list, each element), or undefined if it can't. */
export function textTarget(field: DescField): TextTarget | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return { kind: "scalar", scalar: field.scalar };
    case "enum":
      return { kind: "enum" };
    case "message":
      return TEXT_MESSAGES.has(field.message.typeName) ? { kind: "message", message: field.message } : undefined;
    case "list":
      if (field.listKind === "scalar") return { kind: "scalar", scalar: field.scalar };
      if (field.listKind === "enum") return { kind: "enum" };
      return TEXT_MESSAGES.has(field.message.typeName) ? { kind: "message", message: field.message } : undefined;
    case "map":
      return undefined;
  }
}

const INTEGER = /^-?[0-9]+$/;
const FLOAT = /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/** Thrown when text cannot be the value of its field; `message` is the reason for the client. */
export class TextValueError extends Error {}

/** The proto3 JSON value for `text` as a value of `target`. Throws TextValueError. */
export function textToJson(target: TextTarget, text: string): JsonValue {
  switch (target.kind) {
    case "enum":
      return INTEGER.test(text) ? Number(text) : text;
    case "message": {
      const wrapped = target.message.fields[0];
      if (target.message.typeName.endsWith("Value") && wrapped?.fieldKind === "scalar") {
        return textToJson({ kind: "scalar", scalar: wrapped.scalar }, text);
      }
      return text;
    }
    case "scalar":
      return scalarText(target.scalar, text);
  }
}

function scalarText(scalar: ScalarType, text: string): JsonValue {
  switch (scalar) {
    case ScalarType.BOOL:
      if (text === "true") return true;
      if (text === "false") return false;
      throw new TextValueError(`expected true or false, got "${text}"`);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (FLOAT.test(text) || text === "NaN" || text === "Infinity" || text === "-Infinity") return text;
      throw new TextValueError(`expected a number, got "${text}"`);
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return text;
    default:
      // Every integer kind; protobuf-es checks the range (int32 overflow, negative uint).
      if (INTEGER.test(text)) return text;
      throw new TextValueError(`expected an integer, got "${text}"`);
  }
}
