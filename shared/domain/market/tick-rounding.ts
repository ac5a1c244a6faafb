/**
 * Moves a price towards `target` by at most `maxMoveFraction` of `previous`, landing on the tick
 * grid. Both mock prices (index and options) use it, so every published price is a whole number of
 * ticks and no step exceeds the configured variation, rounding included: when the nearest tick
 * would overshoot the bound, the nearest tick inside it is taken, and `previous` (itself on the
 * grid) always qualifies. Never returns less than one tick.
 *
 * `tickSize` must divide 1 (0.05, 0.01 …) so that `ticks / ticksPerUnit` gives the decimal exactly
 * as a client would write it (24012.35, not 24012.350000000002).
 */
export function boundedTickStep(previous: number, target: number, maxMoveFraction: number, tickSize: number): number {
  const ticksPerUnit = Math.round(1 / tickSize);
  const previousTicks = Math.max(1, Math.round(previous * ticksPerUnit));
  const low = previous * (1 - maxMoveFraction);
  const high = previous * (1 + maxMoveFraction);
  let lowTicks = Math.ceil(low * ticksPerUnit);
  if (lowTicks / ticksPerUnit < low) lowTicks++;
  let highTicks = Math.floor(high * ticksPerUnit);
  if (highTicks / ticksPerUnit > high) highTicks--;
  lowTicks = Math.max(1, Math.min(lowTicks, previousTicks));
  highTicks = Math.max(previousTicks, highTicks);
  const wanted = Number.isFinite(target) ? Math.round(target * ticksPerUnit) : previousTicks;
  return Math.min(highTicks, Math.max(lowTicks, wanted)) / ticksPerUnit;
}

/** `price` rounded to the nearest tick, and at least one tick. */
export function roundToTick(price: number, tickSize: number): number {
  const ticksPerUnit = Math.round(1 / tickSize);
  return Math.max(1, Math.round(price * ticksPerUnit)) / ticksPerUnit;
}
