/**
 * A timeout that only counts time the event loop was free to notice an answer. A timer that
 * fires late (the loop was busy) starts over, and one on time still lets pending I/O be read
 * first (setImmediate runs after the poll phase), so that an answer that arrived while the loop
 * was busy is never mistaken for no answer (design section 11: a renewal that is merely late is
 * no loss).
 */
export function afterUnblocked(ms: number, fn: () => void): () => void {
  const slack = Math.max(50, ms / 4);
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const arm = () => {
    const due = performance.now() + ms;
    timer = setTimeout(() => {
      if (performance.now() - due > slack) arm();
      else immediate = setImmediate(fn);
    }, ms);
    timer.unref();
  };
  arm();
  return () => {
    clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
  };
}
