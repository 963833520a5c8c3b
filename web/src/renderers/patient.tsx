// The server's notice that a conversation's patient changed (`org.wardline.patient_context`,
// from its own member "Wardline" only): a compact system line saying who tied, changed or
// removed it. It never names the patient (the banner does, for the conversation's members).

import { PATIENT_CONTEXT } from "../patients";
import type { Renderer } from "./types";
import { text } from "./types";

export { PATIENT_CONTEXT };

export const patientRenderer: Renderer = {
  view: ({ item }) => {
    const n = item.content[PATIENT_CONTEXT] as { action?: unknown } | undefined;
    const action = typeof n?.action === "string" ? n.action : "";
    return (
      <div class={`escalation-line patient-line ${action}`} role="note">
        <span aria-hidden="true">{action === "removed" ? "− " : "+ "}</span>
        <span>{text(item.content.body, "The patient this conversation is about changed.")}</span>
      </div>
    );
  },
  preview: (c) => text(c.body, "The conversation's patient changed"),
};
