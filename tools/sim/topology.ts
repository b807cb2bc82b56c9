import type { JsonObject } from "@bufbuild/protobuf";

/**
 * Who is who in a simulation: agent ids, zones, static and dynamic account names and their
 * definitions. Everything is derived from a few numbers, so worker processes rebuild the same
 * topology from their options instead of receiving it over IPC.
 */
export interface TopologySpec {
  agents: number;
  zones: number;
  /** Static accounts per zone, registered by every agent of the zone (replicas of one deployment). */
  staticPerZone: number;
  dynamicAccounts: number;
  /** Fraction 0–1 of dynamic accounts without a zoneId (placed on the least-loaded zone). */
  unpinnedFraction: number;
  /** Prefix of every name, so runs against a long-lived hub do not collide. */
  prefix: string;
}

/** One simulated agent and what it brings in its hello. */
export interface AgentSpec {
  index: number;
  agentId: string;
  zoneId: string;
  staticAccounts: { name: string; config: JsonObject }[];
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");
const widthFor = (count: number) => String(Math.max(1, count - 1)).length;

/** The zone of agent `i`: agents are dealt round-robin, so every zone gets replicas. */
export function zoneName(spec: TopologySpec, zone: number): string {
  return `${spec.prefix}zone-${pad(zone, widthFor(spec.zones))}`;
}

/** The cluster a zone's agents are deployed next to; a dynamic account names the cluster it manages. */
export function clusterName(zone: number): string {
  return `c${zone}`;
}

/** The spec of agent `i`. */
export function agentSpec(spec: TopologySpec, i: number): AgentSpec {
  const zone = i % spec.zones;
  const zoneId = zoneName(spec, zone);
  const staticAccounts = Array.from({ length: spec.staticPerZone }, (_, j) => {
    const name = `${spec.prefix}static-${pad(zone, widthFor(spec.zones))}-${j}`;
    // No simCluster: an agent's own accounts are always reachable from it.
    return { name, config: { name, kubeconfigFile: `/var/run/sim/${name}.yaml` } };
  });
  return { index: i, agentId: `${spec.prefix}agent-${pad(i, widthFor(spec.agents))}`, zoneId, staticAccounts };
}

/** The name of dynamic account `k`. */
export function dynamicAccountName(spec: TopologySpec, k: number): string {
  return `${spec.prefix}dyn-${pad(k, widthFor(spec.dynamicAccounts))}`;
}

/** Whether dynamic account `k` is unpinned; spread evenly so any prefix of accounts has the same mix. */
export function isUnpinned(spec: TopologySpec, k: number): boolean {
  return Math.floor((k + 1) * spec.unpinnedFraction) > Math.floor(k * spec.unpinnedFraction);
}

/**
 * The definition of dynamic account `k` as the simulator POSTs it. `simCluster` is an unknown
 * field the hub keeps verbatim and passes to agents, which use it to decide reachability; the
 * kubeconfig gives the message a realistic size.
 */
export function dynamicAccountDefinition(spec: TopologySpec, k: number): JsonObject {
  const zone = k % spec.zones;
  const name = dynamicAccountName(spec, k);
  const definition: JsonObject = {
    name,
    simCluster: clusterName(zone),
    kubeconfigContents: kubeconfigFor(name, zone),
    namespaces: ["default", "spinnaker"],
  };
  if (!isUnpinned(spec, k)) definition.zoneId = zoneName(spec, zone);
  return definition;
}

function kubeconfigFor(name: string, zone: number): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: c${zone}, cluster: {server: "https://10.${zone % 250}.0.1:6443", insecure-skip-tls-verify: true}}]`,
    `users: [{name: ${name}, user: {token: sim-token-${name}}}]`,
    `contexts: [{name: ${name}, context: {cluster: c${zone}, user: ${name}}}]`,
    `current-context: ${name}`,
  ].join("\n");
}
