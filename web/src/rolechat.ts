// Conversations with a role. A role has its own Matrix user id (`@role.<id>:server`), joined to
// the conversation with `org.wardline.role` in its membership; whoever holds the role is seated
// in the room because of it (`org.wardline.seat` in their membership, their name in the room
// "Dr Priya Shah (Medical Registrar On-call)" for clients that know nothing of roles), and what
// they send carries `org.wardline.as_role`, stamped by the server. A role's fallback may join
// too (`org.wardline.fallback_for`). Here: which role a conversation is with, what it is called,
// who sent a message as which role, and opening (or reusing) a conversation with a role.

import { openRoom } from "./conversation";
import { ClientEvent, EventType, KnownMembership } from "./mx";
import type { MatrixEvent, Room } from "./mx";
import { personName, roleIdOfUser } from "./roles";
import { matrix, me } from "./signedin";

export const ROLE = "org.wardline.role";
export const SEAT = "org.wardline.seat";
export const AS_ROLE = "org.wardline.as_role";
export const FALLBACK_FOR = "org.wardline.fallback_for";

export interface RoleRef {
  id: string;
  name: string;
}

function present(membership: string | undefined): boolean {
  return membership === KnownMembership.Join || membership === KnownMembership.Invite;
}

function memberContent(room: Room, userId: string): Record<string, unknown> {
  return room.getMember(userId)?.events.member?.getContent() ?? {};
}

function ref(v: unknown): RoleRef | null {
  const r = v as { id?: unknown; name?: unknown } | null;
  return r && typeof r === "object" && typeof r.id === "string" && typeof r.name === "string" ? { id: r.id, name: r.name } : null;
}

/** The role a conversation is with: a role's user in it that is not there as a fallback. */
export function roleOfRoom(room: Room): (RoleRef & { userId: string }) | null {
  for (const m of room.getMembers()) {
    const id = roleIdOfUser(m.userId);
    if (!id || !present(m.membership)) continue;
    const content = memberContent(room, m.userId);
    // Brought in as a role (its user also writes the notices of handovers, elsewhere), and
    // not as another role's fallback.
    const said = ref(content[ROLE]);
    if (!said || typeof content[FALLBACK_FOR] === "string") continue;
    return { id, name: said.name, userId: m.userId };
  }
  return null;
}

/** The role someone is seated in this conversation for ("org.wardline.seat"), if any. */
export function seatOf(room: Room, userId: string): RoleRef | null {
  const seat = memberContent(room, userId)[SEAT] as { role?: unknown; name?: unknown } | undefined;
  return seat && typeof seat.role === "string" && typeof seat.name === "string" ? { id: seat.role, name: seat.name } : null;
}

/** "Dr Priya Shah (Medical Registrar On-call)" less the role: the person's own name. */
function withoutRole(name: string, role: string): string {
  const suffix = ` (${role})`;
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

/** Someone's name in a conversation: their own, never the role they are seated for. */
export function nameIn(room: Room, userId: string): string {
  const m = room.getMember(userId);
  const seat = seatOf(room, userId);
  if (seat) return personName(userId, withoutRole(m?.name ?? userId, seat.name));
  // Gone (a role handed over): their membership no longer says their name.
  if (!m || !present(m.membership)) return personName(userId, m && m.name !== userId ? m.name : undefined);
  return m.name;
}

/** The role a message was sent as, stamped by the server. */
export function asRoleOf(content: Record<string, unknown>): RoleRef | null {
  return ref(content[AS_ROLE]);
}

/**
 * Who sent a message: for one sent as a role, the person's own name (their profile, or their
 * name in the room at the time less the role) and the role; never the role alone.
 */
export function senderOf(room: Room, e: MatrixEvent): { name: string; asRole?: string } {
  const userId = e.getSender() ?? "";
  const role = asRoleOf(e.getContent());
  if (!role) return { name: nameIn(room, userId) };
  const then = e.sender?.name ?? room.getMember(userId)?.name ?? userId;
  return { name: personName(userId, withoutRole(then, role.name)), asRole: role.name };
}

/** Others in a conversation who are people (not roles, not seated for a role), by name. */
function people(room: Room): string[] {
  return room
    .getMembers()
    .filter((m) => m.userId !== me() && present(m.membership) && !roleIdOfUser(m.userId) && !seatOf(room, m.userId))
    .map((m) => m.name);
}

/**
 * A conversation's name: its own when it has one; with a role, the role's ("Medical Registrar
 * On-call"), or for whoever holds the role, who wrote to it ("Nora Quinn · for Medical
 * Registrar On-call"; "…, via Switchboard" for the holder of its fallback).
 */
export function conversationName(room: Room): string {
  const role = roleOfRoom(room);
  if (!role || room.currentState.getStateEvents(EventType.RoomName, "")?.getContent().name) return room.name;
  const mine = seatOf(room, me());
  if (!mine) return role.name;
  const others = people(room);
  // Seated as the role's fallback (switchboard for a role nobody holds): said too.
  const via = mine.id === role.id ? "" : `, via ${mine.name}`;
  return others.length ? `${others.join(", ")} · for ${role.name}${via}` : `${role.name}${via}`;
}

/** My conversation with this role alone (me, the role, who holds it), if there is one. */
export function chatWithRole(roleUserId: string): string | null {
  const found = matrix()
    .getRooms()
    .filter((r) => r.getMyMembership() === KnownMembership.Join)
    .filter((r) => present(r.getMember(roleUserId)?.membership))
    .filter((r) => !r.currentState.getStateEvents(EventType.RoomName, "")?.getContent().name)
    .filter((r) => people(r).length === 0)
    .sort((a, b) => b.getLastActiveTimestamp() - a.getLastActiveTimestamp());
  return found[0]?.roomId ?? null;
}

/** Resolves once the sync has brought the room. */
function arrived(roomId: string): Promise<void> {
  const c = matrix();
  return new Promise<void>((resolve) => {
    const ready = () => {
      if (!c.getRoom(roomId)) return;
      c.off(ClientEvent.Room, ready);
      resolve();
    };
    c.on(ClientEvent.Room, ready);
    ready();
  });
}

/** Opens my conversation with a role, starting one if there is none (a direct conversation). */
export async function messageRole(roleUserId: string): Promise<void> {
  const existing = chatWithRole(roleUserId);
  if (existing) {
    openRoom(existing);
    return;
  }
  const { room_id } = await matrix().createRoom({ invite: [roleUserId], is_direct: true });
  await arrived(room_id);
  openRoom(room_id);
}
