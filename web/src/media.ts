// Files are served only with the access token: fetched, then shown from a blob URL. A file
// this tab just sent is shown from its own copy, without downloading it back.

import { useEffect, useState } from "preact/hooks";

import { safeBlob } from "./mediatype";

const MXC = /^mxc:\/\/([A-Za-z0-9.:\-[\]]+)\/([A-Za-z0-9_-]+)$/;

class MediaCache {
  private urls = new Map<string, Promise<string>>();
  private token = "";

  start(token: string): void {
    this.token = token;
  }

  url(mxc: string, thumbnail: boolean): Promise<string> {
    const key = `${mxc}|${thumbnail}`;
    let p = this.urls.get(key) ?? this.urls.get(`${mxc}|local`);
    if (!p) {
      const m = MXC.exec(mxc);
      if (!m) return Promise.reject(new Error("not a file of this server"));
      const [server, id] = [encodeURIComponent(m[1]), encodeURIComponent(m[2])];
      const path = thumbnail
        ? `/_matrix/client/v1/media/thumbnail/${server}/${id}?width=320&height=240&method=scale`
        : `/_matrix/client/v1/media/download/${server}/${id}`;
      p = fetch(path, { headers: { Authorization: `Bearer ${this.token}` } }).then(async (r) => {
        if (!r.ok) throw new Error(`file unavailable (${r.status})`);
        // (Only raster images, audio and video keep their type: mediatype.ts.)
        return URL.createObjectURL(safeBlob(await r.blob()));
      });
      // A failure is not kept: the next look (after the network is back) tries again.
      p.catch(() => this.urls.delete(key));
      this.urls.set(key, p);
    }
    return p;
  }

  /** The file just uploaded as `mxc`: shown from this copy from now on. */
  remember(mxc: string, file: Blob): void {
    this.urls.set(`${mxc}|local`, Promise.resolve(URL.createObjectURL(safeBlob(file))));
  }

  clear(): void {
    for (const p of this.urls.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => undefined);
    this.urls.clear();
    this.token = "";
  }
}

export const media = new MediaCache();

export type Loaded = { url?: string; failed?: boolean };

/** A blob URL for the file: a local copy (outbox), else the server's file or thumbnail. */
export function useMedia(mxc: unknown, thumbnail: boolean, local?: Blob): Loaded {
  const [state, setState] = useState<Loaded>({});
  useEffect(() => {
    if (local) {
      const url = URL.createObjectURL(safeBlob(local));
      setState({ url });
      return () => URL.revokeObjectURL(url);
    }
    if (typeof mxc !== "string") return undefined;
    let live = true;
    media
      .url(mxc, thumbnail)
      .then((url) => live && setState({ url }))
      .catch(() => live && setState({ failed: true }));
    return () => {
      live = false;
    };
  }, [mxc, thumbnail, local]);
  return state;
}
