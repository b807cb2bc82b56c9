import type * as http2 from "node:http2";

/**
 * The HTTP/2 settings of the hub's listeners (src/server/listener.ts `HTTP2_SETTINGS`), repeated
 * so that the echo ceiling runs on the same transport without importing the server;
 * test/sim/sim-units.test.ts checks that the two agree.
 */
export const ECHO_HTTP2_SETTINGS: http2.ServerOptions = {
  peerMaxConcurrentStreams: 1000,
  maxSessionMemory: 64,
  settings: { maxConcurrentStreams: 1000 },
};
