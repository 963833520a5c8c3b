// The screens before the conversations: sign-in, second factor, first own password, setting up
// the authenticator app, recovery codes.

import { open, submitCode, submitEnrolmentCode, submitNewPassword, submitPassword } from "../auth";
import type { Screen } from "../state";
import { Field, Form, value } from "./Form";

export function SignIn({ notice }: { notice?: string }) {
  return (
    <Form title="Sign in to Wardline" submit="Sign in" step="password" onSubmit={(f) => submitPassword(value(f, "user"), value(f, "password"))}>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <Field label="Username" name="user" autocomplete="username" />
      <Field label="Password" name="password" type="password" autocomplete="current-password" />
    </Form>
  );
}

export function SecondFactor({ screen }: { screen: Extract<Screen, { kind: "code" }> }) {
  return (
    <Form
      title="Enter your code"
      submit="Continue"
      step="code"
      onSubmit={(f) => submitCode(screen.mfaSession, value(f, "code"), screen.password)}
    >
      <Field label="6-digit code from your authenticator app" name="code" autocomplete="one-time-code" />
    </Form>
  );
}

export function NewPassword({ screen }: { screen: Extract<Screen, { kind: "new-password" }> }) {
  return (
    <Form
      title="Choose your password"
      submit="Save password"
      onSubmit={(f) => submitNewPassword(screen.session, screen.oldPassword, value(f, "new"))}
    >
      <p>You signed in with a one-time password. Choose your own to continue.</p>
      <Field label="New password" name="new" type="password" autocomplete="new-password" />
    </Form>
  );
}

export function Enrol({ screen }: { screen: Extract<Screen, { kind: "enrol" }> }) {
  const e = screen.enrolment;
  return (
    <Form title="Set up your authenticator app" submit="Turn on" onSubmit={(f) => submitEnrolmentCode(screen.session, value(f, "code"))}>
      <p>Your organisation asks for a second step at sign-in. Scan this code with an authenticator app:</p>
      <img
        src={`data:image/svg+xml;base64,${btoa(e.qrSvg)}`}
        alt="QR code to scan with your authenticator app"
        width={200}
        height={200}
      />
      <p>
        or enter this key: <code class="secret">{e.secret}</code>
      </p>
      <Field label="6-digit code from the app" name="code" autocomplete="one-time-code" />
    </Form>
  );
}

export function RecoveryCodes({ screen }: { screen: Extract<Screen, { kind: "recovery-codes" }> }) {
  return (
    <section class="signin" aria-label="Recovery codes">
      <h1>Keep these recovery codes</h1>
      <p>Each works once, if you lose your phone. Store them somewhere safe; they are not shown again.</p>
      <ul class="recovery-codes">
        {screen.codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <button onClick={() => open(screen.session)}>Continue</button>
    </section>
  );
}
