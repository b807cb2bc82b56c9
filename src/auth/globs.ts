/**
 * Credential scopes are globs (design section 14): `*` matches any run of characters (none
 * included), `?` exactly one; every other character matches itself, case-sensitively. Unlike
 * `autoscan.namePatterns`, a pattern without `*` or `?` matches only itself, never a prefix.
 * (`src/store/account-scope.ts` turns the same globs into SQL.)
 */

const cache = new Map<string, RegExp>();

function globRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (re === undefined) {
    let source = "";
    for (const c of glob) source += c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    re = new RegExp(`^${source}$`, "u");
    if (cache.size > 10_000) cache.clear();
    cache.set(glob, re);
  }
  return re;
}

/** Whether `text` matches one of `globs`. */
export function matchesAny(globs: readonly string[], text: string): boolean {
  return globs.some((g) => g === "*" || globRegExp(g).test(text));
}

/** Whether the globs match everything (the default `["*"]`), so that no filter is needed. */
export function matchesEverything(globs: readonly string[]): boolean {
  return globs.includes("*");
}
