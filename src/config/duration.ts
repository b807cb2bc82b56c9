const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The one duration grammar of settings and flags: a number ≥ 0 with an optional unit (`ms`, `s`,
 * `m`, `h`, `d`; none means milliseconds), e.g. `500ms`, `1.5s`, `2m`, `250`. Surrounding blanks
 * are ignored. Returns whole milliseconds, or undefined when `text` is not a duration, so each
 * caller words its own error.
 */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "ms"]!);
}
