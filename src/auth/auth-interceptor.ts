import type { Interceptor } from "@connectrpc/connect";
import type { Authorizer } from "./authorizer.js";
import { peerKey } from "./peer-identity.js";
import { principalKey } from "./principal.js";

/**
 * The Connect interceptor every call passes, on both listeners and through the REST transcoder
 * (which runs the same interceptors): the authorizer decides, the caller goes into the context
 * values (handlers scope their reads by it, the agent stream checks hello against it, and
 * account changes are audited under its name).
 */
export function createAuthInterceptor(authorizer: Authorizer): Interceptor {
  return (next) => async (req) => {
    const principal = await authorizer.authorize({
      method: req.method,
      message: req.stream ? undefined : req.message,
      header: req.header,
      peer: req.contextValues.get(peerKey),
    });
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
