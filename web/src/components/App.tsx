// Which screen: signing in (its steps), loading, or the conversations.

import { useStore } from "../state";
import { Shell } from "./Shell";
import { Enrol, NewPassword, RecoveryCodes, SecondFactor, SignIn } from "./SignIn";

export function App() {
  const screen = useStore((s) => s.screen);
  switch (screen.kind) {
    case "loading":
      return <p class="loading">Loading Wardline…</p>;
    case "sign-in":
      return <SignIn key="sign-in" notice={screen.notice} />;
    case "code":
      return <SecondFactor key="code" screen={screen} />;
    case "new-password":
      return <NewPassword key="new-password" screen={screen} />;
    case "enrol":
      return <Enrol key="enrol" screen={screen} />;
    case "recovery-codes":
      return <RecoveryCodes screen={screen} />;
    case "chat":
      // Shown before the first sync completes too: offline, the outbox is still there to see.
      return <Shell />;
  }
}
