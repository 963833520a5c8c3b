// Messages found by the sidebar's search box: conversation, sender, time and the text with the
// matched words marked; tapping one opens the conversation at that message. "More results"
// asks for the next page.

import { useEffect, useRef, useState } from "preact/hooks";

import { openAt } from "../conversation";
import { KnownMembership } from "../mx";
import { markWords, searchMessages } from "../search";
import type { Found, Hit } from "../search";
import { matrix } from "../signedin";
import { clockTime } from "../time";

/** Searched once typing pauses, not at every key. */
const PAUSE_MS = 300;

function HitItem({ hit, words }: { hit: Hit; words: string[] }) {
  const c = matrix();
  const room = c.getRoom(hit.roomId);
  const joined = room?.getMyMembership() === KnownMembership.Join;
  const who = room?.getMember(hit.sender)?.name ?? c.getUser(hit.sender)?.displayName ?? hit.sender;
  const parts = markWords(hit.body, words);
  return (
    <li>
      <button type="button" class="hit" disabled={!joined} onClick={() => openAt(hit.roomId, hit.eventId)}>
        <span class="hit-room">{room?.name ?? "A conversation you have left"}</span>
        <time dateTime={new Date(hit.ts).toISOString()}>{clockTime(hit.ts)}</time>
        <span class="hit-who">{hit.sender === c.getUserId() ? "You" : who}</span>
        <span class="hit-text">{parts.map((p, i) => (i % 2 ? <mark key={i}>{p}</mark> : p))}</span>
      </button>
    </li>
  );
}

export function MessageResults({ term }: { term: string }) {
  const [found, setFound] = useState<Found | null>(null);
  const [state, setState] = useState<"idle" | "searching" | "failed">("idle");
  const seq = useRef(0);
  const q = term.trim();
  useEffect(() => {
    const mine = ++seq.current;
    setFound(null);
    if (q.length < 2) {
      setState("idle");
      return undefined;
    }
    setState("searching");
    const t = setTimeout(() => {
      searchMessages(q)
        .then((f) => {
          if (mine !== seq.current) return;
          setFound(f);
          setState("idle");
        })
        .catch(() => mine === seq.current && setState("failed"));
    }, PAUSE_MS);
    return () => clearTimeout(t);
  }, [q]);
  if (q.length < 2) return null;
  const more = async () => {
    if (!found?.nextBatch) return;
    const mine = seq.current;
    setState("searching");
    try {
      const next = await searchMessages(q, found.nextBatch);
      if (mine !== seq.current) return;
      setFound({
        hits: [...found.hits, ...next.hits],
        count: found.count,
        highlights: [...new Set([...found.highlights, ...next.highlights])],
        nextBatch: next.nextBatch,
      });
      setState("idle");
    } catch {
      if (mine === seq.current) setState("failed");
    }
  };
  return (
    <section class="results" aria-label="Messages found">
      <h2>Messages{found ? ` (${found.count})` : ""}</h2>
      {found && found.count === 0 && <p class="muted">No messages match</p>}
      {found && found.hits.length > 0 && (
        <ul class="hits" aria-label={`${found.count} message${found.count === 1 ? "" : "s"} found`}>
          {found.hits.map((h) => (
            <HitItem key={h.eventId} hit={h} words={found.highlights} />
          ))}
        </ul>
      )}
      {state === "searching" && <p class="muted">Searching…</p>}
      {state === "failed" && <p class="error">Messages cannot be searched right now.</p>}
      {found?.nextBatch && state === "idle" && (
        <button type="button" class="plain more-results" onClick={() => void more()}>
          More results
        </button>
      )}
    </section>
  );
}
