import type { ContextValues, Interceptor } from "@connectrpc/connect";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import { createHelloAuthorizer, type HelloAuthorizer } from "./agent-binding.js";
import { createAuthInterceptor } from "./auth-interceptor.js";
import { createAuthenticator } from "./authenticator.js";
import { createAuthorizer, type ZoneLookup } from "./authorizer.js";
import { peerContextValues } from "./peer-identity.js";

/** Everything the listeners and the hub need for design section 14's authentication and authorization. */
export interface Auth {
  /** For the Connect router on both listeners and for the REST transcoder. */
  interceptors: Interceptor[];
  /** The context values each call starts with (its TLS peer), for the adapters and the transcoder. */
  contextValues: (req: Parameters<typeof peerContextValues>[0]) => ContextValues;
  /** The hub's hello check. */
  authorizeHello: HelloAuthorizer;
  close(): void;
}

/** Builds the auth parts from `auth.*`; with `auth.enabled` false every caller is `anonymous` (an admin). */
export function createAuth(config: HubConfig, deps: { database: Database; zones: ZoneLookup; logger: Logger }): Auth {
  const authenticator = config.auth.enabled
    ? createAuthenticator({ credentialsFile: config.auth.credentialsFile, jwt: config.auth.jwt, logger: deps.logger })
    : undefined;
  const authorizer = createAuthorizer(authenticator, deps.zones);
  return {
    interceptors: [createAuthInterceptor(authorizer)],
    contextValues: peerContextValues,
    authorizeHello: createHelloAuthorizer(deps.database, authorizer.enabled),
    close: () => authenticator?.close(),
  };
}
