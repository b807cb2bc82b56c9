import { toJson, type DescMethod, type JsonValue, type Message } from "@bufbuild/protobuf";

/**
 * An account a request names and the zone it would end up in: `undefined` leaves the zone as it
 * is; `"clouddriver"` is whatever Clouddriver's row says (migrate without zoneId).
 */
export interface RequestTarget {
  name: string;
  zone: string | undefined | typeof FROM_CLOUDDRIVER;
}

/** The zone of a migrated account without `zoneId`: taken from Clouddriver's row. */
export const FROM_CLOUDDRIVER = Symbol("zone from Clouddriver's row");

type Extract = (json: Record<string, JsonValue>) => RequestTarget[];

function objects(value: JsonValue | undefined): Record<string, JsonValue>[] {
  const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return items.filter((v): v is Record<string, JsonValue> => v !== null && typeof v === "object" && !Array.isArray(v));
}

function zoneOf(object: Record<string, JsonValue>): string | undefined {
  return typeof object.zoneId === "string" ? object.zoneId : undefined;
}

/** Elements whose `name` is not a string are skipped: the handler refuses the request for them anyway. */
function named(items: Record<string, JsonValue>[], zone: (o: Record<string, JsonValue>) => RequestTarget["zone"]): RequestTarget[] {
  return items.filter((o) => typeof o.name === "string").map((o) => ({ name: o.name as string, zone: zone(o) }));
}

const EXTRACT: Record<string, Extract> = {
  // Migrate and PATCH store a given zoneId; PATCH without one keeps the zone.
  "agenthub.v1.AccountsService.MigrateAccounts": (j) => named(objects(j.accounts), (o) => zoneOf(o) ?? FROM_CLOUDDRIVER),
  "agenthub.v1.AccountsService.SetAccountStates": (j) => named(objects(j.changes), zoneOf),
  "agenthub.v1.AccountsService.DeleteAccounts": (j) =>
    (Array.isArray(j.names) ? j.names : []).filter((n): n is string => typeof n === "string").map((name) => ({ name, zone: undefined })),
  // Create and PUT store the whole definition: no zoneId means unpinned.
  "agenthub.v1.AccountsService.CreateAccounts": (j) => named(objects(j.accounts), (o) => zoneOf(o) ?? ""),
  "agenthub.v1.AccountsService.PutAccount": (j) => named(objects(j.account), (o) => zoneOf(o) ?? ""),
  "agenthub.v1.ClouddriverCredentialsService.CreateCredentials": (j) => named(objects(j.account), (o) => zoneOf(o) ?? ""),
  "agenthub.v1.ClouddriverCredentialsService.PutCredentials": (j) => named(objects(j.account), (o) => zoneOf(o) ?? ""),
  "agenthub.v1.OperationService.Execute": (j) => (typeof j.account === "string" ? [{ name: j.account, zone: undefined }] : []),
};

/** Whether the scope of a call of `method` depends on the accounts its request names. */
export function namesAccounts(method: DescMethod): boolean {
  return EXTRACT[`${method.parent.typeName}.${method.name}`] !== undefined;
}

/** The accounts a request of `method` names, with the zones it would move them to. */
export function requestTargets(method: DescMethod, message: Message): RequestTarget[] {
  const extract = EXTRACT[`${method.parent.typeName}.${method.name}`];
  if (extract === undefined) return [];
  const json = toJson(method.input, message as never, { alwaysEmitImplicit: false });
  return json !== null && typeof json === "object" && !Array.isArray(json) ? extract(json) : [];
}
