// Priority messages and quick responses, as their content says them (the server's contract:
// README "Priority messages and quick responses" and "Escalation until someone accepts"):
// - `org.wardline.priority` {level: urgent | emergency} (routine is its absence);
// - `org.wardline.ask` {options: [{id, label, means}], first_accept, deadline_ms};
// - an answer: `org.wardline.response` {option, reason} on an m.room.message referring to it;
// - the server's notices about an escalation: `org.wardline.escalation` {message, kind, …}.
// Pure rules only: what a content is, the text without the server's fallback, what to send.

export const PRIORITY = "org.wardline.priority";
export const ASK = "org.wardline.ask";
export const RESPONSE = "org.wardline.response";
export const ESCALATION = "org.wardline.escalation";

export type Level = "routine" | "urgent" | "emergency";
export type Means = "accept" | "decline" | "info";

export interface AskOption {
  id: string;
  label: string;
  means: Means;
}

export interface Ask {
  options: AskOption[];
  first_accept?: boolean;
  deadline_ms?: number;
}

/** Most options a message may offer, and the longest label (the server's limits). */
export const MAX_OPTIONS = 6;
export const MAX_LABEL = 40;

/** The question of an urgent or emergency message that names no options. */
export const ACK_OR_DECLINE: AskOption[] = [
  { id: "acknowledge", label: "Acknowledge", means: "accept" },
  { id: "decline", label: "Decline", means: "decline" },
];

/** Ready-made quick responses for the composer. */
export const PRESETS: AskOption[] = [
  { id: "accept", label: "Accept patient", means: "accept" },
  { id: "on-my-way", label: "On my way 5 min", means: "accept" },
  { id: "decline", label: "Decline", means: "decline" },
];

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** The message's priority: routine unless its block says urgent or emergency. */
export function levelOf(content: Record<string, unknown>): Level {
  const level = obj(content[PRIORITY])?.level;
  return level === "urgent" || level === "emergency" ? level : "routine";
}

function isMeans(v: unknown): v is Means {
  return v === "accept" || v === "decline" || v === "info";
}

/** What the message asks (its options), or null if it asks nothing. */
export function askOf(content: Record<string, unknown>): Ask | null {
  const block = obj(content[ASK]);
  const options: AskOption[] = [];
  if (block && Array.isArray(block.options)) {
    for (const o of block.options) {
      const c = obj(o);
      if (c && typeof c.id === "string" && typeof c.label === "string" && isMeans(c.means)) {
        options.push({ id: c.id, label: c.label, means: c.means });
      }
    }
  }
  if (!block && levelOf(content) === "routine") return null;
  return {
    options: options.length ? options : ACK_OR_DECLINE,
    first_accept: block?.first_accept === true,
    deadline_ms: typeof block?.deadline_ms === "number" ? block.deadline_ms : undefined,
  };
}

/** A message that asks for answers (priority, or quick responses), not an answer itself. */
export function asks(content: Record<string, unknown>): boolean {
  return !obj(content[RESPONSE]) && (obj(content[PRIORITY]) !== null || obj(content[ASK]) !== null);
}

const TAGS = ["[URGENT] ", "[EMERGENCY] ", "[URGENT]", "[EMERGENCY]"];

/**
 * A priority message's text without what the server added for stock clients: the leading
 * "[URGENT] " (the badge says it) and the closing "\n\nReact 1️⃣ Acknowledge · 2️⃣ Decline"
 * (the buttons say it). Any other text is left as it is.
 */
export function withoutFallback(body: string): string {
  let text = body;
  const tag = TAGS.find((t) => text.startsWith(t));
  if (tag) text = text.slice(tag.length);
  const tail = text.lastIndexOf("\n\nReact 1️⃣");
  if (tail >= 0) text = text.slice(0, tail);
  return text;
}

/** The answer an event gives: the message it answers, the option and the reason. */
export interface Response {
  to: string;
  option: string;
  reason?: string;
}

export function responseOf(content: Record<string, unknown>): Response | null {
  const block = obj(content[RESPONSE]);
  const rel = obj(content["m.relates_to"]);
  if (!block || typeof block.option !== "string" || rel?.rel_type !== "m.reference" || typeof rel.event_id !== "string") {
    return null;
  }
  return { to: rel.event_id, option: block.option, reason: typeof block.reason === "string" && block.reason ? block.reason : undefined };
}

/** The content of an answer: the label (and reason) as its text, so any Matrix app shows it. */
export function responseContent(to: string, option: AskOption, reason: string): Record<string, unknown> {
  const why = reason.trim();
  return {
    msgtype: "m.text",
    body: why ? `${option.label} — ${why}` : option.label,
    "m.relates_to": { rel_type: "m.reference", event_id: to },
    [RESPONSE]: why ? { option: option.id, reason: why } : { option: option.id },
  };
}

/** A notice of the server's about an escalation. */
export interface EscalationNotice {
  message: string;
  kind: "renotify" | "add_cover" | "add" | "failsafe" | "accepted" | string;
  step?: number;
  reached: string[];
  by?: string;
  option?: string;
  firstAccept?: boolean;
}

export function escalationOf(content: Record<string, unknown>): EscalationNotice | null {
  const n = obj(content[ESCALATION]);
  if (!n || typeof n.message !== "string" || typeof n.kind !== "string") return null;
  return {
    message: n.message,
    kind: n.kind,
    step: typeof n.step === "number" ? n.step : undefined,
    reached: Array.isArray(n.reached) ? n.reached.filter((u): u is string => typeof u === "string") : [],
    by: typeof n.by === "string" ? n.by : undefined,
    option: typeof n.option === "string" ? n.option : undefined,
    firstAccept: n.first_accept === true,
  };
}

/** The server's own member (`@wardline:<server>`), who alone posts escalation notices. */
export function serverMember(me: string): string {
  const colon = me.indexOf(":");
  return colon < 0 ? "" : `@wardline${me.slice(colon)}`;
}

/** A failsafe notice that reached nobody: everyone must call switchboard. */
export function unreachable(content: Record<string, unknown>): boolean {
  const body = content.body;
  return typeof body === "string" && body.startsWith("FAILSAFE UNREACHABLE");
}

/** An option id from its label: a-z, 0-9 and "-", unique among `taken`. */
export function optionId(label: string, taken: string[]): string {
  const base =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 24) || "option";
  let id = base;
  for (let n = 2; taken.includes(id); n++) id = `${base}-${n}`;
  return id;
}

/** What is wrong with quick responses being written, in words, or "" when they can be sent. */
export function askProblem(options: AskOption[]): string {
  if (!options.length) return "";
  if (options.length > MAX_OPTIONS) return `At most ${MAX_OPTIONS} quick responses`;
  if (options.some((o) => !o.label.trim())) return "Every quick response needs a label";
  if (options.some((o) => o.label.trim().length > MAX_LABEL)) return `A label is at most ${MAX_LABEL} characters`;
  if (!options.some((o) => o.means === "accept")) return "At least one response must mean accept";
  return "";
}

/** The deadlines the composer offers, in minutes ("Tell me if nobody accepts in …"). */
export const DEADLINES = [5, 10, 15, 30, 60] as const;

/** The blocks a new message carries for this level and these quick responses. */
export function priorityContent(
  level: Level,
  options: AskOption[],
  firstAccept: boolean,
  deadlineMin = 0,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (level !== "routine") out[PRIORITY] = { level };
  if (options.length) {
    const ids: string[] = [];
    const named = options.map((o) => {
      const id = /^[a-z0-9_-]{1,32}$/.test(o.id) && !ids.includes(o.id) ? o.id : optionId(o.label, ids);
      ids.push(id);
      return { id, label: o.label.trim(), means: o.means };
    });
    out[ASK] = { options: named, first_accept: firstAccept, ...(deadlineMin > 0 ? { deadline_ms: deadlineMin * 60_000 } : {}) };
  } else if (firstAccept && level !== "routine") {
    out[ASK] = { options: ACK_OR_DECLINE, first_accept: true };
  }
  return out;
}

/** "Acknowledged", "Declined", or the option's own label ("On my way 5 min", an alarm's "Can't come"). */
export function answerWords(option: string, label: string): string {
  if (option === "acknowledge") return "Acknowledged";
  if (option === "decline" && (label === "Decline" || !label)) return "Declined";
  return label;
}
