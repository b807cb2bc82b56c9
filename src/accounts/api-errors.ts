import { Code, ConnectError } from "@connectrpc/connect";
import { FieldViolationSchema, NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";

/** A request field that is wrong, e.g. `{field: "[1].name", reason: "name must not be empty"}`. */
export interface FieldProblem {
  field: string;
  reason: string;
}

/** Accounts a request could not act on, and why. */
export interface NamesProblem {
  names: string[];
  reason: string;
}

/** What is wrong with a request, collected so that one answer names all of it. */
export interface RequestProblems {
  fields: FieldProblem[];
  names: NamesProblem[];
}

/** An empty collection of problems. */
export function noProblems(): RequestProblems {
  return { fields: [], names: [] };
}

export function hasProblems(problems: RequestProblems): boolean {
  return problems.fields.length > 0 || problems.names.length > 0;
}

/** Joins names for a message, shortened so that a 10,000-name request does not make a 1 MB message. */
function listNames(names: readonly string[]): string {
  const shown = names.map((n) => JSON.stringify(n)).slice(0, 10).join(", ");
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}

/** The element index a field path starts with ("[12].name" → 12); -1 for the body itself. */
function elementIndex(field: string): number {
  const match = /^\[(\d+)\]/.exec(field);
  return match === null ? -1 : Number(match[1]);
}

function describe(problems: RequestProblems): string {
  const parts = [
    ...problems.fields.map((p) => `${p.field}: ${p.reason}`),
    ...problems.names.map((p) => `${p.reason}: ${listNames(p.names)}`),
  ];
  const shown = parts.slice(0, 3).join("; ");
  return parts.length > 3 ? `${shown}; and ${parts.length - 3} more problems` : shown;
}

/**
 * The error for a request that cannot be carried out, naming every offending field and account
 * in its details: invalid_argument (400) for bad input, unknown or read-only accounts;
 * failed_precondition (400) for accounts whose state refuses the change; aborted (409) for a
 * change that kept losing races.
 */
export function requestError(code: Code, problems: RequestProblems): ConnectError {
  // In request order, whichever check found the problem first.
  const fields = [...problems.fields].sort((a, b) => elementIndex(a.field) - elementIndex(b.field));
  const sorted = { fields, names: problems.names };
  return new ConnectError(describe(sorted), code, undefined, [
    ...fields.map((p) => ({ desc: FieldViolationSchema, value: { field: p.field, reason: p.reason } })),
    ...sorted.names.map((p) => ({ desc: NamesViolationSchema, value: { names: p.names, reason: p.reason } })),
  ]);
}

/** Throws invalid_argument when anything was collected. */
export function throwIfInvalid(problems: RequestProblems): void {
  if (hasProblems(problems)) throw requestError(Code.InvalidArgument, problems);
}
