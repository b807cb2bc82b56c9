import { describe, expect, it } from "vitest";
import { parseDurationMs } from "../../src/config/duration.js";

describe("parseDurationMs", () => {
  it.each([
    ["250", 250],
    ["0", 0],
    ["500ms", 500],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
    ["0.3ms", 0],
    ["  10s ", 10_000],
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(["", "soon", "-5s", "5 s", "5sec", "1w", "5S", ".5s", "1e3", "5s5"])("refuses %j", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});
