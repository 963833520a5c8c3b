// Wardline web client: sign-in, then the conversations (Preact components over one store).

import { render } from "preact";

import { boot } from "./auth";
import { App } from "./components/App";
import { registerWorker } from "./offline";

render(<App />, document.getElementById("app") as HTMLElement);
boot();
registerWorker();
