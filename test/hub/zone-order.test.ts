import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareZones, type ZoneLoad } from "../../src/hub/placement.js";
import { createZoneOrder } from "../../src/hub/zone-order.js";

/** What the order replaces: a scan of every zone. */
function scanLeast(zones: Map<string, ZoneLoad>): string | undefined {
  let best: ZoneLoad | undefined;
  for (const z of zones.values()) if (z.agents > 0 && (best === undefined || compareZones(z, best) < 0)) best = z;
  return best?.zone;
}

describe("zone order", () => {
  it("answers the least-loaded zone as a scan of every zone would, through any sequence of load changes", () => {
    const change = fc.record({ zone: fc.constantFrom("a", "b", "c", "d", "e", "f"), agents: fc.integer({ min: 0, max: 4 }), caching: fc.integer({ min: 0, max: 12 }) });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 60 }), (changes) => {
        const zones = new Map<string, ZoneLoad>();
        const order = createZoneOrder((zone) => zones.get(zone));
        expect(order.least()).toBeUndefined();
        for (const c of changes) {
          zones.set(c.zone, c);
          order.update(c);
          expect(order.least()).toBe(scanLeast(zones));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("breaks ties by name and skips zones whose agents left", () => {
    const zones = new Map<string, ZoneLoad>([
      ["b", { zone: "b", agents: 2, caching: 2 }],
      ["a", { zone: "a", agents: 1, caching: 1 }],
    ]);
    const order = createZoneOrder((zone) => zones.get(zone));
    for (const z of zones.values()) order.update(z);
    expect(order.least()).toBe("a");
    zones.set("a", { zone: "a", agents: 0, caching: 0 });
    order.update(zones.get("a")!);
    expect(order.least()).toBe("b");
  });
});
