import { compareZones, type ZoneLoad } from "./placement.js";

/**
 * The zones of an agent view ordered by load, so that placing an unpinned account costs
 * O(log zones) and not a scan of every zone: with 5,000 zones and 50,000 accounts the scan was
 * the hub's hottest function (`zoneLoads`, 37 s of a wide-10k profile).
 */
export interface ZoneOrder {
  /** Records a zone's load as it is now; earlier records of the zone become stale. */
  update(load: ZoneLoad): void;
  /** The least-loaded zone with agents (compareZones), or undefined when there is none. */
  least(): string | undefined;
}

/**
 * A binary min-heap of load records with lazy deletion: an update pushes a record, and `least`
 * drops records that no longer match the zone's current load. `current` answers a zone's load.
 */
export function createZoneOrder(current: (zone: string) => ZoneLoad | undefined): ZoneOrder {
  const heap: ZoneLoad[] = [];

  const swap = (i: number, j: number) => {
    const t = heap[i]!;
    heap[i] = heap[j]!;
    heap[j] = t;
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareZones(heap[i]!, heap[parent]!) >= 0) return;
      swap(i, parent);
      i = parent;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && compareZones(heap[left]!, heap[smallest]!) < 0) smallest = left;
      if (right < heap.length && compareZones(heap[right]!, heap[smallest]!) < 0) smallest = right;
      if (smallest === i) return;
      swap(i, smallest);
      i = smallest;
    }
  };
  const pop = () => {
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    down(0);
  };
  const isCurrent = (record: ZoneLoad): boolean => {
    const now = current(record.zone);
    return now !== undefined && now.agents > 0 && now.agents === record.agents && now.caching === record.caching;
  };

  return {
    update(load) {
      // A zone without agents is never chosen, and 0/0 would compare equal to every load.
      if (load.agents <= 0) return;
      heap.push({ ...load });
      up(heap.length - 1);
    },
    least() {
      while (heap.length > 0) {
        const top = heap[0]!;
        if (isCurrent(top)) return top.zone;
        pop();
      }
      return undefined;
    },
  };
}
