/**
 * Frames raw packet bytes without looking at them, so tests and the simulator can build what the
 * encoder refuses to: packets of unknown lengths, a header that promises more packets than follow,
 * a frame cut short.
 */
export function rawFrame(
  packets: readonly Uint8Array[],
  { count = packets.length, truncateBy = 0 }: { count?: number; truncateBy?: number } = {},
): Uint8Array {
  let size = 2;
  for (const packet of packets) size += 2 + packet.byteLength;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, count);
  let offset = 2;
  for (const packet of packets) {
    view.setUint16(offset, packet.byteLength);
    bytes.set(packet, offset + 2);
    offset += 2 + packet.byteLength;
  }
  return bytes.subarray(0, Math.max(0, size - truncateBy));
}
