// Signing in and out against Wardline's API. Only what the open tab needs is kept, in
// sessionStorage (gone when the tab closes), and it is wiped at sign-out.

export interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
}

const KEY = "wardline.session";

export function savedSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function forgetEverything(): void {
  sessionStorage.clear();
  localStorage.clear();
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error ?? `HTTP ${status}`));
  }
  get errcode(): string {
    return String(this.body.errcode ?? "");
  }
}

export async function api(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const resp = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const json = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  if (!resp.ok) throw new ApiError(resp.status, json);
  return json;
}

export type LoginResult =
  | { kind: "signed-in"; session: Session; mustChangePassword: boolean }
  | { kind: "second-factor"; mfaSession: string };

function asResult(r: Record<string, unknown>): LoginResult {
  return {
    kind: "signed-in",
    session: { userId: String(r.user_id), deviceId: String(r.device_id), accessToken: String(r.access_token) },
    mustChangePassword: r["org.wardline.password_change_required"] === true,
  };
}

export async function login(user: string, password: string): Promise<LoginResult> {
  try {
    const r = await api("/_matrix/client/v3/login", {
      type: "m.login.password",
      identifier: { type: "m.id.user", user },
      password,
      initial_device_display_name: `Wardline web (${navigator.platform || "browser"})`,
    });
    return asResult(r);
  } catch (e) {
    if (e instanceof ApiError && e.errcode === "ORG.WARDLINE.MFA_REQUIRED") {
      return { kind: "second-factor", mfaSession: String(e.body.session) };
    }
    throw e;
  }
}

export async function secondFactor(mfaSession: string, code: string): Promise<LoginResult> {
  const recovery = code.includes("-") || code.length > 8;
  const r = await api("/_matrix/client/v3/login", {
    type: recovery ? "org.wardline.login.recovery_code" : "org.wardline.login.totp",
    session: mfaSession,
    code: code.trim(),
  });
  return asResult(r);
}

export async function changePassword(s: Session, oldPassword: string, newPassword: string): Promise<void> {
  await api(
    "/_matrix/client/v3/account/password",
    {
      new_password: newPassword,
      // Every other session ends with a password change: someone who knew the old password
      // may be signed in somewhere.
      logout_devices: true,
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: s.userId }, password: oldPassword },
    },
    s.accessToken,
  );
}

async function get(path: string, token: string): Promise<Record<string, unknown>> {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const json = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  if (!resp.ok) throw new ApiError(resp.status, json);
  return json;
}

/** Does the organisation require a second factor this user has not set up yet? */
export async function mustEnrolSecondFactor(s: Session): Promise<boolean> {
  const status = await get("/_wardline/client/v1/mfa", s.accessToken);
  return status.required === true && status.totp !== true;
}

export interface Enrolment {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

export async function beginEnrolment(s: Session): Promise<Enrolment> {
  const r = await api("/_wardline/client/v1/mfa/totp", {}, s.accessToken);
  return { secret: String(r.secret), otpauthUri: String(r.otpauth_uri), qrSvg: String(r.qr_svg) };
}

/** Confirms the set-up with a first code; returns the recovery codes (shown once). */
export async function confirmEnrolment(s: Session, code: string): Promise<string[]> {
  const r = await api("/_wardline/client/v1/mfa/totp/confirm", { code: code.trim() }, s.accessToken);
  return (r.recovery_codes as string[]) ?? [];
}
