import { noProblems, throwIfInvalid } from "./api-errors.js";

/** Paging of GET /armory/accounts (design section 8). */
const DEFAULT_PAGE = 1;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** A validated page request. */
export interface Paging {
  page: number;
  limit: number;
  offset: number;
}

/**
 * Applies the defaults and checks the bounds: `page` ≥ 1, `limit` 1–1000. An explicit 0 is an
 * error, not the default; that is why the request fields are `optional`.
 */
export function paging(page: number | undefined, limit: number | undefined): Paging {
  const problems = noProblems();
  const p = page ?? DEFAULT_PAGE;
  const l = limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(p) || p < 1) problems.fields.push({ field: "page", reason: `must be a whole number of 1 or more (got ${p})` });
  if (!Number.isInteger(l) || l < 1 || l > MAX_LIMIT) {
    problems.fields.push({ field: "limit", reason: `must be a whole number from 1 to ${MAX_LIMIT} (got ${l})` });
  }
  throwIfInvalid(problems);
  return { page: p, limit: l, offset: (p - 1) * l };
}
