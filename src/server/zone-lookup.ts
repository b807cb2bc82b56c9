import { readClouddriverBody, zoneIdOf } from "../accounts/account-definition.js";
import type { ZoneLookup } from "../auth/authorizer.js";
import { createClouddriverAccounts } from "../store/clouddriver-accounts.js";
import { createAccountStore } from "../store/account-store.js";
import type { Database } from "../store/database.js";

/** The zones the authorizer checks named accounts against: stored rows, and Clouddriver's rows for migrations. */
export function createZoneLookup(database: Database, clouddriverSchema: string): ZoneLookup {
  return {
    async storedZones(names) {
      const rows = await createAccountStore(database.db).findByNames(names);
      return new Map(rows.map((r) => [r.name, r.zoneId ?? ""]));
    },
    async clouddriverZones(names) {
      const clouddriver = createClouddriverAccounts(database.db, clouddriverSchema);
      // Without Clouddriver's table the migration fails on its own; the zone is then unpinned.
      if (!(await clouddriver.exists())) return new Map();
      const rows = await clouddriver.findByNames(names);
      return new Map([...rows.values()].map((a) => [a.name, zoneIdOf(readClouddriverBody(a.name, a.body)) ?? ""]));
    },
  };
}
