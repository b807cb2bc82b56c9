import type { Logger } from "../log/logger.js";
import type { HubMetrics } from "./metrics.js";
import type { NodeRequest, NodeResponse, RequestHandler } from "../rest/node-http.js";
import type { Readiness } from "./readiness.js";

export interface OpsRoutesDeps {
  readiness: Readiness;
  /** Undefined when `metrics.enabled` is false: /metrics is then an unknown path. */
  metrics: HubMetrics | undefined;
  logger: Logger;
}

function send(res: NodeResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * `/healthz`, `/readyz` and `/metrics` in front of `next` (Connect and the REST transcoder), so
 * that probes and scrapers never meet the API's authorization or body handling. Only GET and HEAD
 * are answered here; other methods on these paths go on to `next` (and its 404/405).
 */
export function withOpsRoutes(deps: OpsRoutesDeps, next: RequestHandler): RequestHandler {
  const routes: Record<string, (res: NodeResponse) => Promise<void>> = {
    "/healthz": async (res) => send(res, 200, "application/json", JSON.stringify({ status: "ok" })),
    "/readyz": async (res) => {
      const state = await deps.readiness.check();
      send(res, state.ready ? 200 : 503, "application/json", JSON.stringify(state.ready ? { status: "ready" } : { status: "not_ready", reason: state.reason }));
    },
  };
  const metrics = deps.metrics;
  if (metrics !== undefined) routes["/metrics"] = async (res) => send(res, 200, metrics.contentType, await metrics.scrape());
  return (req: NodeRequest, res: NodeResponse) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const route = routes[path];
    if (route === undefined || (req.method !== "GET" && req.method !== "HEAD")) return next(req, res);
    route(res).catch((err: unknown) => {
      deps.logger.error({ err, path }, "operations endpoint failed");
      if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ code: "internal", message: `${path} failed; see the hub's log` }));
      else res.end();
    });
  };
}
