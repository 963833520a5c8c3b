// The left column (the whole screen on a phone): actions, do-not-disturb, search, conversations.

import { useState } from "preact/hooks";

import { signOut } from "../auth";
import { showPanel } from "../conversation";
import { setDnd } from "../presence";
import { store, useStore } from "../state";
import { ConversationList } from "./ConversationList";
import { Waiting } from "./Waiting";

function NotificationsButton() {
  const [asked, setAsked] = useState(!("Notification" in window) || Notification.permission !== "default");
  if (asked) return null;
  return (
    <button class="plain" onClick={() => Notification.requestPermission().finally(() => setAsked(true))}>
      Turn on notifications
    </button>
  );
}

export function Sidebar() {
  const dnd = useStore((s) => s.dnd);
  return (
    <section class="sidebar" aria-label="Conversations">
      <header>
        <h1>Wardline</h1>
        <button class="plain" onClick={() => showPanel("new-chat")}>
          New chat
        </button>
        <button class="plain" onClick={() => showPanel("devices")}>
          Devices
        </button>
        <button class="plain" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <div class="toolbar">
        <button class="plain" aria-pressed={dnd ? "true" : "false"} onClick={() => void setDnd(!dnd)}>
          Do not disturb: {dnd ? "on" : "off"}
        </button>
        <NotificationsButton />
      </div>
      <div class="search">
        <input
          type="search"
          placeholder="Search conversations"
          aria-label="Search conversations"
          onInput={(ev) => store.update({ filter: (ev.currentTarget as HTMLInputElement).value.toLowerCase() })}
        />
      </div>
      <Waiting />
      <ConversationList />
    </section>
  );
}
