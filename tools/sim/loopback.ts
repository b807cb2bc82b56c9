import { isIP } from "node:net";

/** A target the simulator may not load: it only ever talks to this machine. */
export class NonLoopbackTargetError extends Error {
  override name = "NonLoopbackTargetError";
}

function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./i.test(bare);
  return false;
}

/**
 * Parses `url` and refuses anything but http:// on a loopback address: a load test pointed at a
 * shared hub by mistake would be an outage, so the simulator cannot be aimed elsewhere.
 */
export function loopbackUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NonLoopbackTargetError(`not a URL: ${url}`);
  }
  if (parsed.protocol !== "http:") throw new NonLoopbackTargetError(`only http:// loopback targets are allowed, got ${url}`);
  if (!isLoopbackHost(parsed.hostname)) {
    throw new NonLoopbackTargetError(`refusing non-loopback target ${parsed.hostname}: the simulator only loads hubs on this machine (127.0.0.1, ::1, localhost)`);
  }
  return parsed;
}
