/** Where and how a command prints: aligned tables for a person at a terminal, plain text otherwise. */
export interface Output {
  /** `--json`: print the API's JSON, nothing else. */
  json: boolean;
  /** stdout is a terminal. */
  tty: boolean;
  write(text: string): void;
}

/** The process's stdout. */
export function stdoutOutput(json: boolean): Output {
  return { json, tty: process.stdout.isTTY === true, write: (text) => process.stdout.write(text) };
}

/** Prints a value as indented JSON. */
export function printJson(out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Prints rows under a header. On a terminal the columns are aligned with spaces and the last
 * column is cut to the terminal's width; otherwise rows are tab-separated with no header, so
 * that `cut` and `awk` can read them (`--json` is for anything more).
 */
export function printTable(out: Output, header: readonly string[], rows: readonly (readonly string[])[]): void {
  if (!out.tty) {
    for (const row of rows) out.write(`${row.join("\t")}\n`);
    return;
  }
  if (rows.length === 0) {
    out.write("(none)\n");
    return;
  }
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? "")].length)));
  const columns = process.stdout.columns ?? 160;
  for (const row of all) {
    let line = row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ");
    if ([...line].length > columns) line = `${[...line].slice(0, columns - 1).join("")}…`;
    out.write(`${line.trimEnd()}\n`);
  }
}
