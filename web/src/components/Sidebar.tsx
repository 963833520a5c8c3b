// The left column (the whole screen on a phone): actions, do-not-disturb, search (conversations
// by name, and messages), conversations.

import { signOut } from "../auth";
import { unsent } from "../chat";

/** Messages (reactions, deletions) not sent yet are lost at sign-out: asked first. */
function confirmSignOut(): void {
  const { words, n } = unsent();
  const lost = `${words} ${n === 1 ? "has" : "have"} not been sent and will be lost. Sign out anyway?`;
  if (n > 0 && !window.confirm(lost)) return;
  void signOut();
}
import { showPanel } from "../conversation";
import { store, useStore } from "../state";
import { AlarmAdminNav } from "./AlarmAdminNav";
import { BroadcastNav } from "./BroadcastNav";
import { ConversationList } from "./ConversationList";
import { DndControl } from "./DndControl";
import { IncidentsNav } from "./IncidentsNav";
import { MessageResults } from "./MessageResults";
import { RolesNav } from "./RolesNav";
import { Waiting } from "./Waiting";

export function Sidebar() {
  const filter = useStore((s) => s.filter);
  return (
    <section class="sidebar" aria-label="Conversations">
      <header>
        <h1>Wardline</h1>
        <button class="plain" onClick={() => showPanel("new-chat")}>
          New chat
        </button>
        <IncidentsNav />
        <RolesNav />
        <AlarmAdminNav />
        <BroadcastNav />
        <button class="plain" onClick={() => showPanel("devices")}>
          Devices
        </button>
        <button class="plain" onClick={confirmSignOut}>
          Sign out
        </button>
      </header>
      <div class="toolbar">
        <DndControl />
        <button class="plain" onClick={() => showPanel("notifications")}>
          Notifications
        </button>
        <button class="plain" onClick={() => showPanel("topics")}>
          Alert topics
        </button>
      </div>
      <div class="search">
        <input
          type="search"
          placeholder="Search conversations and messages"
          aria-label="Search conversations and messages"
          onInput={(ev) => store.update({ filter: (ev.currentTarget as HTMLInputElement).value.toLowerCase() })}
        />
      </div>
      <div class="lists">
        <Waiting />
        <ConversationList />
        <MessageResults term={filter} />
      </div>
    </section>
  );
}
