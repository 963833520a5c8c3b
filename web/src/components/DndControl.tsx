// My do-not-disturb in the sidebar: "Do not disturb: off" opens the dialog that turns it on;
// while on, "⊖ Do not disturb until 14:00 · cover Dr C" (a shape and words, not colour alone)
// and a button to end it.

import { useState } from "preact/hooks";

import { endDnd } from "../dnd";
import { comingTime } from "../time";
import { useStore } from "../state";
import { DndDialog } from "./DndDialog";

export function DndControl() {
  const mine = useStore((s) => s.myDnd);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const end = async () => {
    setError("");
    await endDnd().catch((e: Error) => setError(e.message));
  };
  if (!mine) {
    return (
      <>
        <button class="plain" aria-pressed="false" aria-haspopup="dialog" onClick={() => setOpen(true)}>
          Do not disturb: off
        </button>
        {open && <DndDialog onClose={() => setOpen(false)} />}
      </>
    );
  }
  return (
    <div class="my-dnd" role="status">
      <span class="my-dnd-text">
        <span class="dnd-mark" aria-hidden="true">
          ⊖
        </span>{" "}
        Do not disturb until {comingTime(mine.until)}
        {mine.cover ? ` · cover ${mine.cover.name}` : " · no cover"}
      </span>
      <button class="plain" onClick={() => void end()}>
        End do not disturb
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
