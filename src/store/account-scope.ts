import { sql, type SQL } from "drizzle-orm";
import { globLikePattern } from "./name-patterns.js";
import { accounts } from "./schema.js";

/** Globs on account names and zones (design section 14, credential scopes). */
export interface ScopeGlobs {
  accounts: readonly string[];
  zones: readonly string[];
}

function matchesOne(column: SQL, globs: readonly string[]): SQL {
  const patterns = JSON.stringify([...new Set(globs.map(globLikePattern))]);
  return sql`EXISTS (SELECT 1 FROM jsonb_array_elements_text(${patterns}::jsonb) AS p(pattern) WHERE ${column} LIKE p.pattern)`;
}

/**
 * The WHERE predicate that keeps the accounts a caller's scope allows, undefined when it allows
 * all of them (no filter at all, so the unscoped list keeps its trigger-kept total). An additive
 * predicate: list filters combine with it by AND.
 */
export function accountScopePredicate(scope: ScopeGlobs): SQL | undefined {
  const parts: SQL[] = [];
  if (!scope.accounts.includes("*")) parts.push(matchesOne(sql`${accounts.name}`, scope.accounts));
  if (!scope.zones.includes("*")) parts.push(matchesOne(sql`coalesce(${accounts.zoneId}, '')`, scope.zones));
  if (parts.length === 0) return undefined;
  return sql.join(parts, sql` AND `);
}
