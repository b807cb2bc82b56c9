import type { NodeRequest, NodeResponse, RequestHandler } from "../rest/node-http.js";
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from "./status-page-assets.js";

interface Asset {
  type: string;
  body: Buffer;
}

const ASSETS = new Map<string, Asset>([
  ["/ui", { type: "text/html; charset=utf-8", body: Buffer.from(STATUS_HTML) }],
  ["/ui/", { type: "text/html; charset=utf-8", body: Buffer.from(STATUS_HTML) }],
  ["/ui/app.js", { type: "text/javascript; charset=utf-8", body: Buffer.from(STATUS_JS) }],
  ["/ui/style.css", { type: "text/css; charset=utf-8", body: Buffer.from(STATUS_CSS) }],
]);

/** Only our own files, and requests to our own origin: the page cannot be framed or fed scripts. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * Serves the status page (GET/HEAD /ui and its script and stylesheet) in front of `next`, which
 * gets every other request. The page holds no data: it reads the REST API from the browser with
 * the user's token, so it needs no credential itself, with auth on or off.
 */
export function withStatusPage(next: RequestHandler): RequestHandler {
  return (req: NodeRequest, res: NodeResponse) => {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const asset = method === "GET" || method === "HEAD" ? ASSETS.get(path) : undefined;
    if (asset === undefined) {
      next(req, res);
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": asset.type, "content-length": asset.body.length });
    if (method === "HEAD") res.end();
    else res.end(asset.body);
  };
}
