// Under a conversation with a role (in the list and its header): who holds the role now —
// "Dr Priya Shah on shift · bleep 1234", "You are on shift", or "Nobody on shift — goes to
// Switchboard". Read again from the server whenever someone joins or leaves the conversation
// (the role changing hands seats the new holder).

import { useEffect } from "preact/hooks";

import { RoomMemberEvent } from "../mx";
import { openRolePage } from "../rolepanel";
import { want } from "../roles";
import { hasClient, matrix, me } from "../signedin";
import { useStore } from "../state";
import { Nobody } from "./RoleStatus";
import { Who } from "./Who";

export function RoleLine({ roleId, roomId, link }: { roleId: string; roomId: string; link?: boolean }) {
  const role = useStore((s) => s.oncall.roles[roleId]);
  useEffect(() => {
    // The header reads the role afresh each time the conversation is opened.
    want(roleId, Boolean(link));
    if (!hasClient()) return undefined;
    const c = matrix();
    const changed = (_e: unknown, member: { roomId: string }) => {
      if (member.roomId === roomId) want(roleId, true);
    };
    c.on(RoomMemberEvent.Membership, changed);
    return () => {
      c.off(RoomMemberEvent.Membership, changed);
    };
  }, [roleId, roomId]);
  if (!role) return null;
  const mine = role.holders.some((h) => h.user_id === me());
  const others = role.holders.filter((h) => h.user_id !== me());
  const text = !role.holders.length ? (
    <Nobody role={role} />
  ) : (
    <>
      {mine && `You are on shift as ${role.name}`}
      {mine && others.length > 0 && ", with "}
      {others.map((h, i) => (
        <span key={h.user_id}>
          {i > 0 && ", "}
          <Who userId={h.user_id} />
        </span>
      ))}
      {!mine && " on shift"}
      {role.bleep && ` · bleep ${role.bleep}`}
    </>
  );
  if (!link) return <span class="role-line">{text}</span>;
  return (
    <button type="button" class="role-line plain" title={`${role.name}: who is on shift, rota and history`} onClick={() => openRolePage(roleId)}>
      {text}
    </button>
  );
}
