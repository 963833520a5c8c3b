// The signed-in screen: the conversation list beside (on a phone: instead of) the open
// conversation or panel, under the connection banner.

import { useStore } from "../state";
import { AlarmAdmin } from "./AlarmAdmin";
import { Banner } from "./Banner";
import { Broadcasts } from "./Broadcasts";
import { Conversation } from "./Conversation";
import { Devices } from "./Devices";
import { IncidentList } from "./IncidentList";
import { NewChat } from "./NewChat";
import { NotificationSettings } from "./NotificationSettings";
import { PhotoViewer } from "./PhotoViewer";
import { rolePanel } from "./RolePanels";
import { Sidebar } from "./Sidebar";
import { Toast } from "./Toast";
import { TopicSubscriptions } from "./TopicSubscriptions";
import { WaitingBanner } from "./WaitingBanner";

function Main() {
  const panel = useStore((s) => s.panel);
  const current = useStore((s) => s.current);
  if (panel === "room" && current) return <Conversation roomId={current} />;
  if (panel === "new-chat") return <NewChat />;
  if (panel === "devices") return <Devices />;
  if (panel === "notifications") return <NotificationSettings />;
  if (panel === "topics") return <TopicSubscriptions />;
  if (panel === "broadcasts") return <Broadcasts />;
  if (panel === "incidents") return <IncidentList />;
  if (panel === "alarm-admin") return <AlarmAdmin />;
  const roles = rolePanel(panel);
  if (roles) return roles;
  return <p class="loading">Choose a conversation.</p>;
}

export function Shell() {
  const open = useStore((s) => s.panel !== "none");
  const announcement = useStore((s) => s.announcement);
  return (
    <div class="app">
      <Banner />
      <WaitingBanner />
      <div class={`shell${open ? " open" : ""}`}>
        <Sidebar />
        <section class="conversation" aria-label="Conversation">
          <Main />
        </section>
      </div>
      <div class="sr-only" aria-live="polite" aria-label="New messages">
        {announcement}
      </div>
      <Toast />
      <PhotoViewer />
    </div>
  );
}
