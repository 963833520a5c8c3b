// The way in: password, second factor, a first password of one's own, setting up the
// authenticator app the organisation requires; and the way out. Moves the store's screen.

import { sweepOrphans } from "./blobstore";
import { signOut as endChat, startChat } from "./chat";
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
import { store } from "./state";

/** What went wrong, in words for the step the person is at. */
export type Step = "password" | "code" | "other";

export function errorMessage(e: unknown, step: Step = "other"): string {
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

export async function submitPassword(user: string, password: string): Promise<void> {
  await signedIn(await login(user, password), password);
}

export async function submitCode(mfaSession: string, code: string, password: string): Promise<void> {
  await signedIn(await secondFactor(mfaSession, code), password);
}

async function signedIn(result: LoginResult, password: string): Promise<void> {
  if (result.kind === "second-factor") {
    store.update({ screen: { kind: "code", mfaSession: result.mfaSession, password } });
    return;
  }
  saveSession(result.session);
  if (result.mustChangePassword) {
    store.update({ screen: { kind: "new-password", session: result.session, oldPassword: password } });
  } else {
    open(result.session);
  }
}

export async function submitNewPassword(s: Session, oldPassword: string, newPassword: string): Promise<void> {
  await changePassword(s, oldPassword, newPassword);
  open(s);
}

export async function submitEnrolmentCode(s: Session, code: string): Promise<void> {
  const codes = await confirmEnrolment(s, code);
  store.update({ screen: { kind: "recovery-codes", session: s, codes } });
}

/** The organisation requires a second factor: set up an authenticator app before anything else. */
async function enrol(s: Session): Promise<void> {
  try {
    const enrolment = await beginEnrolment(s);
    store.update({ screen: { kind: "enrol", session: s, enrolment } });
  } catch (err) {
    // The server sets up a second factor only soon after a sign-in with the password.
    if (err instanceof ApiError && err.status === 403) {
      signedOut("Sign in again to set up your authenticator app.");
      return;
    }
    throw err;
  }
}

export function open(s: Session): void {
  store.update({ screen: { kind: "loading" } });
  mustEnrolSecondFactor(s)
    .then((needed) => (needed ? enrol(s) : startChat(s, signedOut)))
    .catch(() => startChat(s, signedOut));
}

function signedOut(reason?: string): void {
  forgetEverything();
  store.update({ screen: { kind: "sign-in", notice: reason } });
}

export async function signOut(): Promise<void> {
  await endChat();
  signedOut();
}

export function boot(): void {
  const saved = savedSession();
  // Files left by sessions that are gone go now, not only at the next sign-in (M7).
  sweepOrphans(saved?.deviceId ?? null).catch(() => undefined);
  if (saved) open(saved);
  else store.update({ screen: { kind: "sign-in" } });
}
