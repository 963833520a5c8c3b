// Wardline web client: sign-in, then the conversations.

import { h } from "./dom";
import {
  ApiError,
  beginEnrolment,
  changePassword,
  confirmEnrolment,
  forgetEverything,
  login,
  mustEnrolSecondFactor,
  saveSession,
  savedSession,
  secondFactor,
} from "./session";
import type { LoginResult, Session } from "./session";
import { startChat } from "./chat";

const app = document.getElementById("app") as HTMLElement;

function show(...nodes: Node[]): void {
  app.replaceChildren(...nodes);
}

/** What went wrong, in words for the step the person is at. */
type Step = "password" | "code" | "other";

function message(e: unknown, step: Step = "other"): string {
  if (e instanceof ApiError) {
    if (e.errcode === "M_LIMIT_EXCEEDED") {
      const minutes = Math.ceil(Number(e.body.retry_after_ms ?? 0) / 60_000);
      return minutes > 1
        ? `Too many attempts. Try again in ${minutes} minutes.`
        : "Too many attempts. Wait a moment and try again.";
    }
    if (e.errcode === "M_USER_DEACTIVATED") {
      return "This account has been deactivated. Ask your administrator if you need it again.";
    }
    if (step === "code" && e.body["org.wardline.wrong_code"] === true) {
      return "That code is not right, or was already used. Check the time on your phone and try the next code.";
    }
    if (step === "password" && e.status === 403 && e.errcode === "M_FORBIDDEN") return "Wrong username or password.";
    return e.message;
  }
  return "Wardline cannot be reached. Check the connection and try again.";
}

function form(
  title: string,
  fields: HTMLElement[],
  submit: string,
  onSubmit: (f: HTMLFormElement) => Promise<void>,
  step: Step = "other",
) {
  const error = h("p", { className: "error", role: "alert" });
  const button = h("button", { type: "submit" }, submit);
  const f = h("form", { className: "signin", "aria-label": title }, h("h1", {}, title), ...fields, error, button);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await onSubmit(f);
    } catch (e) {
      error.textContent = message(e, step);
    } finally {
      button.disabled = false;
    }
  });
  return f;
}

function field(label: string, name: string, type = "text", autocomplete = "off"): HTMLElement[] {
  const id = `f-${name}`;
  return [h("label", { for: id }, label), h("input", { id, name, type, autocomplete, required: true })];
}

function value(f: HTMLFormElement, name: string): string {
  return (f.elements.namedItem(name) as HTMLInputElement).value;
}

/** The sign-in form; `notice` says why the person is back here (their session ended). */
function signIn(notice?: string): void {
  const why = notice ? [h("p", { className: "notice", role: "status" }, notice)] : [];
  show(
    form(
      "Sign in to Wardline",
      [
        ...why,
        ...field("Username", "user", "text", "username"),
        ...field("Password", "password", "password", "current-password"),
      ],
      "Sign in",
      async (f) => {
        const password = value(f, "password");
        await signedIn(await login(value(f, "user"), password), password);
      },
      "password",
    ),
  );
  (app.querySelector("input") as HTMLInputElement).focus();
}

async function signedIn(result: LoginResult, password: string): Promise<void> {
  if (result.kind === "second-factor") {
    show(
      form(
        "Enter your code",
        [...field("6-digit code from your authenticator app", "code", "text", "one-time-code")],
        "Continue",
        async (f) => signedIn(await secondFactor(result.mfaSession, value(f, "code")), password),
        "code",
      ),
    );
    (app.querySelector("input") as HTMLInputElement).focus();
    return;
  }
  saveSession(result.session);
  if (result.mustChangePassword) {
    newPassword(result.session, password);
  } else {
    open(result.session);
  }
}

function newPassword(s: Session, oldPassword: string): void {
  show(
    form(
      "Choose your password",
      [
        h("p", {}, "You signed in with a one-time password. Choose your own to continue."),
        ...field("New password", "new", "password", "new-password"),
      ],
      "Save password",
      async (f) => {
        await changePassword(s, oldPassword, value(f, "new"));
        open(s);
      },
    ),
  );
}

/** The organisation requires a second factor: set up an authenticator app before anything else. */
async function enrol(s: Session): Promise<void> {
  let e;
  try {
    e = await beginEnrolment(s);
  } catch (err) {
    // The server sets up a second factor only soon after a sign-in with the password.
    if (err instanceof ApiError && err.status === 403) {
      signOutNow("Sign in again to set up your authenticator app.");
      return;
    }
    throw err;
  }
  const qr = h("img", {
    src: `data:image/svg+xml;base64,${btoa(e.qrSvg)}`,
    alt: "QR code to scan with your authenticator app",
    width: 200,
    height: 200,
  });
  show(
    form(
      "Set up your authenticator app",
      [
        h("p", {}, "Your organisation asks for a second step at sign-in. Scan this code with an authenticator app:"),
        qr,
        h("p", {}, "or enter this key: ", h("code", { className: "secret" }, e.secret)),
        ...field("6-digit code from the app", "code", "text", "one-time-code"),
      ],
      "Turn on",
      async (f) => {
        const codes = await confirmEnrolment(s, value(f, "code"));
        show(
          h(
            "section",
            { className: "signin", "aria-label": "Recovery codes" },
            h("h1", {}, "Keep these recovery codes"),
            h("p", {}, "Each works once, if you lose your phone. Store them somewhere safe; they are not shown again."),
            h("ul", { className: "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
            h("button", { onclick: () => open(s) }, "Continue"),
          ),
        );
      },
    ),
  );
}

function open(s: Session): void {
  show(h("p", { className: "loading" }, "Loading your conversations…"));
  mustEnrolSecondFactor(s)
    .then((needed) => (needed ? enrol(s) : startChat(app, s, signOutNow)))
    .catch(() => startChat(app, s, signOutNow));
}

function signOutNow(reason?: string): void {
  forgetEverything();
  signIn(reason);
}


const saved = savedSession();
if (saved) open(saved);
else signIn();
