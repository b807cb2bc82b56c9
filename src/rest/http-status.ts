import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/** Where a handler leaves the HTTP status its REST answer should carry. */
export interface HttpStatusSlot {
  status: number | undefined;
}

/**
 * The one typed way for a handler to answer REST with another success status (202, or 409 with
 * a body). gRPC and Connect callers never see it: they get the response message as it is.
 */
export const httpStatusKey = createContextKey<HttpStatusSlot | undefined>(undefined, { description: "REST status" });

/** Asks the REST transcoder to answer this call with `status` (2xx or 409). Ignored for gRPC. */
export function setHttpStatus(ctx: HandlerContext, status: number): void {
  const slot = ctx.values.get(httpStatusKey);
  if (slot !== undefined) slot.status = status;
}
