import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { ClouddriverCredentialsService } from "../../gen/agenthub/v1/clouddriver_pb.js";
import { callContext, type AccountContext } from "../accounts/account-context.js";
import { redactDefinition } from "../accounts/redaction.js";
import { bodyJson } from "../accounts/request-body.js";
import { interceptCredentials } from "./intercept-credentials.js";

/**
 * The interceptor (design section 10): Clouddriver's `POST /credentials` and `PUT /credentials`
 * for `kubernetes` accounts, answered as Clouddriver answers them: 200 with the stored
 * definition, here with secret contents replaced by "<redacted>". The app serves it only when
 * `interceptor.enabled` is true.
 */
export function createCredentialsService(context: AccountContext): ServiceImpl<typeof ClouddriverCredentialsService> {
  const { logger } = context;

  /** Runs a handler; an unexpected error becomes `internal` without leaking its text to the client. */
  async function handle(method: string, work: () => Promise<JsonObject>): Promise<{ account: JsonObject }> {
    try {
      return { account: redactDefinition(await work()) };
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      logger.error({ method, err }, "Clouddriver interceptor call failed");
      throw new ConnectError("internal error; the hub's log has the details", Code.Internal);
    }
  }

  return {
    createCredentials(req, ctx) {
      return handle("CreateCredentials", () => interceptCredentials(callContext(context, req.dryRun, ctx), "create", bodyJson(req, "account")));
    },
    putCredentials(req, ctx) {
      return handle("PutCredentials", () => interceptCredentials(callContext(context, req.dryRun, ctx), "put", bodyJson(req, "account")));
    },
  };
}
