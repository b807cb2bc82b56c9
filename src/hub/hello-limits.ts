import { Code, ConnectError } from "@connectrpc/connect";
import type { Hello } from "../../gen/agenthub/v1/agent_pb.js";
import { nameProblem, nulPath } from "../model/account-names.js";

/** The largest static account definition one hello may carry, as JSON bytes. */
const MAX_STATIC_DEFINITION_BYTES = 64 * 1024;
/** Labels one hello may carry. */
const MAX_LABELS = 64;
/** The longest label key or value, and the longest version string, in characters. */
const MAX_LABEL_LENGTH = 256;

const CONTROL = /\p{Cc}/u;

function refuse(field: string, reason: string): never {
  throw new ConnectError(`${field}: ${reason}`, Code.InvalidArgument);
}

/** A short free-text field of hello (label, version): bounded, no control characters (no NUL for PostgreSQL). */
function checkText(field: string, value: string): void {
  const length = [...value].length;
  if (length > MAX_LABEL_LENGTH) refuse(field, `is ${length} characters long; at most ${MAX_LABEL_LENGTH} are allowed`);
  if (CONTROL.test(value)) refuse(field, "must not contain control characters");
}

/**
 * Checks a hello against design section 15 before anything of it is registered: `agent_id` and
 * `zone_id` follow the account name rules (the zone may be empty), at most `maxStaticAccounts`
 * static accounts with valid names and definitions of at most 64 KiB without NUL characters, at
 * most 64 labels of at most 256 characters. Throws INVALID_ARGUMENT naming the field.
 */
export function checkHello(hello: Hello, maxStaticAccounts: number): void {
  if (hello.agentId === "") refuse("hello.agent_id", "must not be empty");
  const agentProblem = nameProblem(hello.agentId);
  if (agentProblem !== undefined) refuse("hello.agent_id", agentProblem.replace(/^name/, "agent_id"));
  if (hello.zoneId !== "") {
    const zoneProblem = nameProblem(hello.zoneId);
    if (zoneProblem !== undefined) refuse("hello.zone_id", zoneProblem.replace(/^name/, "zone_id"));
  }
  checkText("hello.version", hello.version);
  const labels = Object.entries(hello.labels);
  if (labels.length > MAX_LABELS) refuse("hello.labels", `has ${labels.length} labels; at most ${MAX_LABELS} are allowed`);
  for (const [key, value] of labels) {
    const field = `hello.labels[${JSON.stringify(key.slice(0, 40))}]`;
    checkText(`${field} (key)`, key);
    checkText(field, value);
  }
  const accounts = hello.staticAccounts;
  if (accounts.length > maxStaticAccounts) {
    refuse("hello.static_accounts", `has ${accounts.length} accounts; at most ${maxStaticAccounts} are allowed (limits.maxStaticAccounts)`);
  }
  accounts.forEach((account, i) => {
    const problem = nameProblem(account.name);
    if (problem !== undefined) refuse(`hello.static_accounts[${i}].name`, problem);
    const config = account.config ?? {};
    const bytes = Buffer.byteLength(JSON.stringify(config));
    if (bytes > MAX_STATIC_DEFINITION_BYTES) {
      refuse(`hello.static_accounts[${i}].config`, `is ${bytes} bytes of JSON; at most ${MAX_STATIC_DEFINITION_BYTES} are allowed`);
    }
    const nul = nulPath(config, "");
    if (nul !== undefined) refuse(`hello.static_accounts[${i}].config${nul === "" ? "" : `.${nul}`}`, "contains a NUL character, which cannot be stored");
  });
}
