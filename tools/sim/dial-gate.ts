/**
 * A counting semaphore for dials: a dial holds a permit until its welcome or its failure, so
 * that a process has at most `permits` dials in flight (the simulator's agents and the
 * benchmark's raw echo clients dial the same way, so that their figures compare).
 */
export function createGate(permits: number): () => Promise<() => void> {
  let free = permits;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else free += 1;
  };
  return async () => {
    if (free > 0) free -= 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    return release;
  };
}
