import type { JsonObject } from "@bufbuild/protobuf";

/**
 * Which zones can reach which clusters. An agent answers UNREACHABLE for an account whose
 * cluster its zone cannot reach, which is what makes the hub fall back to another zone.
 */
export interface Reachability {
  reaches(zoneIndex: number, accountName: string, config: JsonObject | undefined): boolean;
}

/**
 * `spec` is either a fraction ("0.9": a zone reaches its own cluster for 90 % of the accounts,
 * picked by a hash of the name, and every other zone's cluster always, so the rest fall back) or
 * an explicit map ("0=c0,c1;2=*": zone index → clusters it reaches, `*` for all; zones not in
 * the map reach everything). Accounts without `simCluster` (not the simulator's) are reachable.
 */
export function parseReachability(spec: string): Reachability {
  const trimmed = spec.trim();
  if (/^(0(\.\d+)?|1(\.0+)?)$/.test(trimmed)) return fractionReachability(Number(trimmed));
  const map = new Map<number, Set<string> | "all">();
  for (const part of trimmed.split(";").filter((p) => p.trim() !== "")) {
    const m = /^\s*(\d+)\s*=\s*([\w*,\s-]*)$/.exec(part);
    if (m === null) throw new Error(`--reach: expected a fraction 0–1 or "zone=c0,c1;zone=*", got ${JSON.stringify(part)}`);
    const clusters = m[2]!.split(",").map((c) => c.trim()).filter((c) => c !== "");
    map.set(Number(m[1]), clusters.includes("*") ? "all" : new Set(clusters));
  }
  return {
    reaches(zoneIndex, _name, config) {
      const cluster = config?.simCluster;
      if (typeof cluster !== "string") return true;
      const allowed = map.get(zoneIndex);
      return allowed === undefined || allowed === "all" || allowed.has(cluster);
    },
  };
}

function fractionReachability(fraction: number): Reachability {
  return {
    reaches(zoneIndex, name, config) {
      const cluster = config?.simCluster;
      if (typeof cluster !== "string" || cluster !== `c${zoneIndex}`) return true;
      return hashUnit(name) < fraction;
    },
  };
}

/** FNV-1a of `s` mapped to [0, 1): the same answer in every process, unlike Math.random. */
export function hashUnit(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}
