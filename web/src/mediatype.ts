// The type a blob made from a downloaded file gets. A blob URL opened in a tab runs with this
// app's origin: an SVG or HTML file from someone else could run script as the signed-in person.
// Only raster images, audio and video keep their type; anything else is plain bytes.

const RASTER = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"]);

export function safeType(type: string): string {
  const t = type.split(";")[0].trim().toLowerCase();
  if (RASTER.has(t)) return t;
  if (/^(audio|video)\/[a-z0-9.+-]+$/.test(t)) return t;
  return "application/octet-stream";
}

/** The blob with a safe type (the same bytes). */
export function safeBlob(blob: Blob): Blob {
  const type = safeType(blob.type);
  return type === blob.type ? blob : new Blob([blob], { type });
}
