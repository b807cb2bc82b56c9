// The Dynamic Accounts API on both databases: one test hub per database serves every suite (a
// PGlite start costs seconds), each suite with account names of its own.
import { afterAll, beforeAll, describe } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { badInputSuite, MAX_BODY } from "./suites/bad-input.js";
import { featureFlagSuite } from "./suites/feature-flag.js";
import { handlersSuite } from "./suites/handlers.js";
import { restApiSuite } from "./suites/rest-api.js";

describe.each(DATABASE_KINDS)("accounts API on %s", (kind) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub(kind, { "http.maxBodyBytes": MAX_BODY });
  });
  afterAll(async () => {
    await hub.stop();
  });

  featureFlagSuite(() => hub);
  handlersSuite(() => hub);
  badInputSuite(() => hub);
  restApiSuite(() => hub);
});
