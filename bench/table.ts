/** One line of a results table: a hub figure next to its ceiling. */
export interface ResultRow {
  metric: string;
  hub: number | undefined;
  /** The same figure on the raw transport or the raw SQL query; undefined when there is none. */
  ceiling: number | undefined;
  unit: string;
  /** hub ÷ ceiling for throughputs, ceiling ÷ hub for times (1 = as fast as the ceiling). */
  ratio: number | undefined;
  target: string;
  /** Whether the target is met; undefined when the figure has no target. */
  met: boolean | undefined;
}

const fmt = (x: number | undefined, unit: string) => (x === undefined ? "—" : `${x >= 100 ? x.toFixed(0) : x.toFixed(unit === "ms" ? 2 : 1)} ${unit}`);

/** A markdown table, which reads well on a terminal and pastes into README.md. */
export function formatTable(rows: ResultRow[]): string {
  const header = ["metric", "hub", "ceiling", "ratio", "target", "met"];
  const body = rows.map((r) => [
    r.metric,
    fmt(r.hub, r.unit),
    fmt(r.ceiling, r.unit),
    r.ratio === undefined ? "—" : r.ratio.toFixed(2),
    r.target,
    r.met === undefined ? "" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

/** Ratio of a throughput to its ceiling. */
export const throughputRatio = (hub: number | undefined, ceiling: number | undefined) =>
  hub === undefined || ceiling === undefined || ceiling === 0 ? undefined : hub / ceiling;

/** Ratio of a time to its ceiling, as ceiling ÷ hub (so that 1 is best, like throughputs). */
export const timeRatio = (hub: number | undefined, ceiling: number | undefined) =>
  hub === undefined || ceiling === undefined || hub === 0 ? undefined : ceiling / hub;
