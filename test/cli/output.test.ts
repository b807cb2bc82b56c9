// The CLI's table output: aligned with a header on a terminal, tab-separated rows on a pipe.
import { describe, expect, it } from "vitest";
import { printTable, type Output } from "../../src/cli/output.js";

function capture(tty: boolean): Output & { text: () => string } {
  let text = "";
  return { json: false, tty, write: (t) => (text += t), text: () => text };
}

describe("printTable", () => {
  it("aligns columns under a header on a terminal, and says (none) for no rows", () => {
    const out = capture(true);
    printTable(out, ["NAME", "STATUS", "MESSAGE"], [
      ["a", "ACTIVE", "ok"],
      ["longer-name", "FAILED", "agent x: i/o timeout"],
    ]);
    expect(out.text()).toBe(["NAME         STATUS  MESSAGE", "a            ACTIVE  ok", "longer-name  FAILED  agent x: i/o timeout", ""].join("\n"));
    const empty = capture(true);
    printTable(empty, ["NAME"], []);
    expect(empty.text()).toBe("(none)\n");
  });

  it("prints tab-separated rows without a header on a pipe, nothing for no rows", () => {
    const out = capture(false);
    printTable(out, ["NAME", "STATUS"], [["a", "ACTIVE"], ["b", ""]]);
    expect(out.text()).toBe("a\tACTIVE\nb\t\n");
    const empty = capture(false);
    printTable(empty, ["NAME"], []);
    expect(empty.text()).toBe("");
  });
});
