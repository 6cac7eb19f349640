/** Which rows of a fixed-row-height list to draw: only those in view, plus a margin. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 8) {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { first, last, offset: first * rowHeight, total: count * rowHeight };
}
