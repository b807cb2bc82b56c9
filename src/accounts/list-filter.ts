import type { AccountFilter } from "../store/account-filter.js";
import { noProblems, throwIfInvalid } from "./api-errors.js";
import { ACCOUNT_SOURCES, ACCOUNT_STATUSES, isAccountSource, isAccountStatus } from "../model/account-states.js";

// NUL cannot even reach PostgreSQL; other controls cannot be in a name, so they would match nothing.
const CONTROL = /\p{Cc}/u;

/** The filter parameters of GET /armory/accounts, as the request message carries them. */
export interface ListFilterRequest {
  status: readonly string[];
  zoneId?: string | undefined;
  source: string;
  namePrefix: string;
}

/**
 * Checks the list filters (design section 16): every `status` must be a state name, `source` one
 * of the two sources; a prefix or zone with control characters is refused rather than sent to the
 * database. Throws invalid_argument naming every offending parameter.
 */
export function listFilter(req: ListFilterRequest): AccountFilter {
  const problems = noProblems();
  const statuses = req.status.filter(isAccountStatus);
  const unknown = req.status.filter((s) => !isAccountStatus(s));
  if (unknown.length > 0) {
    problems.fields.push({ field: "status", reason: `not a state: ${unknown.map((s) => JSON.stringify(s)).join(", ")}; states are ${ACCOUNT_STATUSES.join(", ")}` });
  }
  const source = req.source === "" || isAccountSource(req.source) ? req.source : undefined;
  if (source === undefined) {
    problems.fields.push({ field: "source", reason: `must be ${ACCOUNT_SOURCES.join(" or ")} (got ${JSON.stringify(req.source)})` });
  }
  if (CONTROL.test(req.namePrefix)) problems.fields.push({ field: "namePrefix", reason: "must not contain control characters" });
  if (req.zoneId !== undefined && CONTROL.test(req.zoneId)) problems.fields.push({ field: "zoneId", reason: "must not contain control characters" });
  throwIfInvalid(problems);
  return {
    statuses: [...new Set(statuses)],
    ...(req.zoneId === undefined ? {} : { zoneId: req.zoneId }),
    source: source ?? "",
    namePrefix: req.namePrefix,
  };
}
