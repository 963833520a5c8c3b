// Wardline's app icons (the web app manifest's), drawn here as PNGs so no image file is kept in
// the sources: a white cross on the brand blue. "any": a rounded square, transparent corners;
// "maskable": the blue to every edge, the cross inside the middle 80% (the safe zone a phone's
// mask never cuts), so Android's round or squircle masks keep it whole.
import { deflateSync } from "node:zlib";

const BRAND = [0x00, 0x5e, 0xb8];
const WHITE = [0xff, 0xff, 0xff];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG (8-bit RGBA) of `size`×`size` whose pixel at (x, y) is `pixel(x, y)` → [r, g, b, a]. */
function png(size, pixel) {
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    const row = y * (size * 4 + 1);
    rows[row] = 0; // no filter
    for (let x = 0; x < size; x++) rows.set(pixel(x, y), row + 1 + x * 4);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}

/** Is (x, y) (0..1 each) on a cross of arm width `w` and span `span`, centred? */
function onCross(x, y, span, w) {
  const dx = Math.abs(x - 0.5);
  const dy = Math.abs(y - 0.5);
  return (dx <= w / 2 && dy <= span / 2) || (dy <= w / 2 && dx <= span / 2);
}

function icon(size, maskable) {
  const radius = maskable ? 0 : 0.18;
  // Maskable: the cross within the safe zone (a circle of 40% radius), with room to spare.
  const [span, w] = maskable ? [0.44, 0.14] : [0.6, 0.19];
  return png(size, (px, py) => {
    const x = (px + 0.5) / size;
    const y = (py + 0.5) / size;
    if (radius) {
      const cx = Math.min(Math.max(x, radius), 1 - radius);
      const cy = Math.min(Math.max(y, radius), 1 - radius);
      if (Math.hypot(x - cx, y - cy) > radius) return [0, 0, 0, 0];
    }
    return [...(onCross(x, y, span, w) ? WHITE : BRAND), 255];
  });
}

/** The icons the manifest lists: file name → PNG bytes. */
export function appIcons() {
  return {
    "icon-192.png": icon(192, false),
    "icon-512.png": icon(512, false),
    "icon-maskable-512.png": icon(512, true),
  };
}
