/**
 * google.api.http path templates: parsing and matching.
 *
 * Grammar (from google/api/http.proto):
 * ```
 * Template = "/" Segments [ Verb ] ;
 * Segments = Segment { "/" Segment } ;
 * Segment  = "*" | "**" | LITERAL | Variable ;
 * Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * FieldPath = IDENT { "." IDENT } ;
 * Verb     = ":" LITERAL ;
 * ```
 */

/** One segment of a template after variables are flattened into their segments. */
export type TemplateSegment =
  | { kind: "literal"; value: string }
  /** `*`: exactly one non-empty path segment. */
  | { kind: "wildcard" }
  /** `**`: zero or more path segments; only last. */
  | { kind: "deep" };

/** A `{field.path=...}` variable: the template segments `[start, end)` it captures. */
export interface TemplateVariable {
  /** Dotted proto field names, as written in the template. */
  fieldPath: string;
  start: number;
  /** Exclusive; for a variable ending in `**` it is the template's length. */
  end: number;
}

/** A parsed path template. */
export interface PathTemplate {
  /** The template text as written in the rule. */
  source: string;
  segments: TemplateSegment[];
  variables: TemplateVariable[];
  verb: string | undefined;
  /** Literal > `*` > `**`, segment by segment; used to pick the most specific match. */
  rank: number[];
}

/** A request path that matched a template: its segments with any `:verb` removed. */
export interface TemplateMatch {
  raw: string[];
}

/** The decoded value captured by one variable. */
export interface CapturedVariable {
  variable: TemplateVariable;
  value: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RANK = { literal: 3, wildcard: 2, deep: 1 } as const;

/** Parses a path template; throws an Error naming the template when it is malformed. */
export function parsePathTemplate(source: string): PathTemplate {
  const fail = (why: string): never => {
    throw new Error(`invalid path template "${source}": ${why}`);
  };
  if (!source.startsWith("/")) fail("must start with /");
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb is a ':' after the last '/' that is outside braces.
  const lastSlash = body.lastIndexOf("/");
  const lastClose = body.lastIndexOf("}");
  const colon = body.indexOf(":", Math.max(lastSlash, lastClose) + 1);
  if (colon >= 0) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
    if (verb === "" || /[/{}*]/.test(verb)) fail("bad verb");
  }

  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  let pos = 0;
  const readSegments = (inVariable: boolean): void => {
    for (;;) {
      if (body[pos] === "{") {
        if (inVariable) fail("variables cannot nest");
        const close = body.indexOf("}", pos);
        if (close < 0) fail("unclosed {");
        const inner = body.slice(pos + 1, close);
        const eq = inner.indexOf("=");
        const fieldPath = eq < 0 ? inner : inner.slice(0, eq);
        if (!fieldPath.split(".").every((part) => IDENT.test(part))) fail(`bad field path "${fieldPath}"`);
        const start = segments.length;
        if (eq < 0) {
          segments.push({ kind: "wildcard" });
        } else {
          const saved = { body, pos };
          body = inner.slice(eq + 1);
          pos = 0;
          if (body === "") fail(`empty segments for {${fieldPath}}`);
          readSegments(true);
          ({ body, pos } = saved);
        }
        variables.push({ fieldPath, start, end: segments.length });
        pos = close + 1;
      } else {
        let end = pos;
        while (end < body.length && body[end] !== "/") end++;
        const text = body.slice(pos, end);
        if (text === "") fail("empty segment");
        if (/[{}=]/.test(text)) fail(`bad segment "${text}"`);
        segments.push(text === "*" ? { kind: "wildcard" } : text === "**" ? { kind: "deep" } : { kind: "literal", value: text });
        pos = end;
      }
      if (pos >= body.length) return;
      if (body[pos] !== "/") fail(`unexpected "${body[pos]}"`);
      pos++;
    }
  };
  if (body === "") fail("empty path");
  readSegments(false);

  const deepAt = segments.findIndex((s) => s.kind === "deep");
  if (deepAt >= 0 && deepAt !== segments.length - 1) fail("** must be the last segment");
  const seen = new Set<string>();
  for (const v of variables) {
    if (seen.has(v.fieldPath)) fail(`{${v.fieldPath}} appears twice`);
    seen.add(v.fieldPath);
  }
  return { source, segments, variables, verb, rank: segments.map((s) => RANK[s.kind]) };
}

/**
 * A request path split into segments, each also percent-decoded once up front so that every
 * template compares against the same values. `decoded` is undefined for a malformed escape.
 */
export interface RequestPath {
  raw: string[];
  decoded: (string | undefined)[];
}

/** Splits a request path (the part of the URL before `?`) into segments. */
export function splitRequestPath(path: string): RequestPath {
  const raw = path.replace(/^\//, "").split("/");
  return { raw, decoded: raw.map(tryDecode) };
}

function tryDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Thrown by captureVariables for a captured segment that is not valid percent-encoding. */
export class PathDecodeError extends Error {}

/**
 * Matches a request path against a template; undefined when it does not match. Captured values
 * are decoded separately (captureVariables) so that only the chosen route can fail on them.
 */
export function matchPathTemplate(template: PathTemplate, path: RequestPath): TemplateMatch | undefined {
  let raw = path.raw;
  let decoded = path.decoded;
  if (template.verb !== undefined) {
    const suffix = `:${template.verb}`;
    const last = raw[raw.length - 1] ?? "";
    if (!last.endsWith(suffix) || last.length === suffix.length) return undefined;
    const trimmed = last.slice(0, -suffix.length);
    raw = [...raw.slice(0, -1), trimmed];
    decoded = [...decoded.slice(0, -1), tryDecode(trimmed)];
  }
  const { segments } = template;
  const deep = segments[segments.length - 1]?.kind === "deep";
  if (deep ? raw.length < segments.length - 1 : raw.length !== segments.length) return undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.kind === "literal" && decoded[i] !== segment.value) return undefined;
    // A variable never captures an empty segment: "/items/" is not "/items/{name}" with name "".
    if (segment.kind === "wildcard" && raw[i] === "") return undefined;
  }
  return { raw };
}

/** The decoded values of the template's variables in a matched path. Throws PathDecodeError. */
export function captureVariables(template: PathTemplate, match: TemplateMatch): CapturedVariable[] {
  const { segments } = template;
  const { raw } = match;
  const deep = segments[segments.length - 1]?.kind === "deep";
  return template.variables.map((variable) => {
    const capturesDeep = deep && variable.end === segments.length;
    const end = capturesDeep ? raw.length : variable.end;
    const single = !capturesDeep && variable.end - variable.start === 1;
    return { variable, value: decodeCaptured(raw.slice(variable.start, end), single) };
  });
}

/**
 * Per the google.api.http spec, a single-segment capture is fully percent-decoded, while a
 * multi-segment one keeps `%2F` encoded so that an escaped slash stays distinguishable from a
 * path separator.
 */
function decodeCaptured(parts: string[], single: boolean): string {
  const decode = (text: string): string => {
    const value = tryDecode(text);
    if (value === undefined) throw new PathDecodeError(`malformed percent-encoding in "${text}"`);
    return value;
  };
  if (single) return decode(parts[0] ?? "");
  return parts.map((part) => part.split(/(%2F)/i).map((piece, i) => (i % 2 === 1 ? piece : decode(piece))).join("")).join("/");
}

/**
 * Orders two templates that both matched one path: positive when `a` is more specific.
 * Segment by segment a literal beats `*`, which beats `**`; then the longer template, then
 * the one with a verb.
 */
export function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const n = Math.min(a.rank.length, b.rank.length);
  for (let i = 0; i < n; i++) {
    const d = a.rank[i]! - b.rank[i]!;
    if (d !== 0) return d;
  }
  if (a.rank.length !== b.rank.length) return a.rank.length - b.rank.length;
  return (a.verb === undefined ? 0 : 1) - (b.verb === undefined ? 0 : 1);
}

/** A canonical form of the template's shape: two templates with the same shape are ambiguous. */
export function templateShape(template: PathTemplate): string {
  const parts = template.segments.map((s) => (s.kind === "literal" ? `=${s.value}` : s.kind === "wildcard" ? "*" : "**"));
  return `/${parts.join("/")}${template.verb === undefined ? "" : `:${template.verb}`}`;
}
