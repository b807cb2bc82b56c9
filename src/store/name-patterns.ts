/**
 * `autoscan.namePatterns` (design section 10): a pattern with `*` or `?` is a glob that must match
 * the whole name (`*` any run of characters, `?` one character); any other pattern is a prefix.
 * Matching is case-sensitive, as account names are.
 */

/** The characters LIKE treats specially, escaped with `\` (LIKE's default escape character). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Whether `pattern` is a glob rather than a prefix. */
export function isGlob(pattern: string): boolean {
  return pattern.includes("*") || pattern.includes("?");
}

/**
 * The SQL LIKE pattern for one name pattern: `team-` → `team-%`, `prod-*-?` → `prod-%-_`, with
 * LIKE's own `%`, `_` and `\` escaped so that they match themselves.
 */
export function likePattern(pattern: string): string {
  return isGlob(pattern) ? globLikePattern(pattern) : `${escapeLike(pattern)}%`;
}

/**
 * The SQL LIKE pattern (escape `\`) matching what a glob matches as a whole: `*` any run, `?` one
 * character, everything else itself (credential scopes use it as well as autoscan's patterns).
 */
export function globLikePattern(glob: string): string {
  let like = "";
  for (const c of glob) like += c === "*" ? "%" : c === "?" ? "_" : escapeLike(c);
  return like;
}

/**
 * The LIKE patterns of the configured name patterns. An empty pattern is left out: as a prefix it
 * would hand every `kubernetes` account to agents, which nobody means by an empty string (`*` says so).
 */
export function likePatterns(patterns: readonly string[]): string[] {
  return [...new Set(patterns.filter((p) => p !== "").map(likePattern))];
}
