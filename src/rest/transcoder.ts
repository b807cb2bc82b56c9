// PLACEHOLDER: replaced by the transcoder work (see issue 3, item 4).
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "../log/logger.js";
import type { RequestHandler } from "../server/listener.js";

/** A proto service and its implementation, served over REST by its google.api.http rules. */
export interface RestService {
  service: DescService;
  /** The same implementation object the Connect router serves. */
  impl: object;
}

export interface RestTranscoderOptions {
  services: RestService[];
  maxBodyBytes: number;
  logger: Logger;
}

/** Serves REST requests by the google.api.http options of the given services. */
export function createRestTranscoder(options: RestTranscoderOptions): { handle: RequestHandler } {
  void options;
  return {
    handle(_req, res) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "not_found", message: "no route", details: [] }));
    },
  };
}
