//! Conformance of what `/sync`'s `device_lists` is built from: device list changes in the
//! stream ([`crate::SessionStore::device_list_changes`]) and the change of a room's members.

use ruma::{OwnedDeviceId, OwnedUserId, device_id, owned_room_id, owned_user_id};
use serde_json::json;
use wardline_types::{Timestamp, kinds};

use super::{account, event, fail};
use crate::{ChangeTopic, NewSession, PosRange, Store, StoreResult};

fn session(user: &OwnedUserId, device: &str, name: Option<&str>, token: &str) -> NewSession {
    NewSession {
        user_id: user.clone(),
        device_id: device.into(),
        device_name: name.map(Into::into),
        token_hash: token.into(),
        refresh_hash: None,
        expires_at: None,
        created_at: Timestamp(1),
        ip: None,
    }
}

pub(super) async fn device_lists(s: &impl Store) -> StoreResult<()> {
    let gus = s.create_account(account("gus"), Timestamp(1)).await?.user_id;
    let changed_in = |from| async move { s.device_list_changes(PosRange::new(from, s.current_pos())).await };

    let start = s.current_pos();
    let serial = s.commit_serial();
    s.create_session(session(&gus, "G1", Some("ward pc"), "g1")).await?;
    check!(s.current_pos() > start, "a new device takes a position");
    check!(s.last_change(&ChangeTopic::DeviceLists).serial > serial, "and marks device lists");
    check!(changed_in(start).await? == [gus.clone()], "a new device is a change");

    let at = s.current_pos();
    s.create_session(session(&gus, "G1", None, "g1b")).await?;
    s.create_session(session(&gus, "G1", Some("ward pc"), "g1c")).await?;
    check!(changed_in(at).await?.is_empty(), "signing in again on the same device, same name, is none");
    s.create_session(session(&gus, "G1", Some("theatre pc"), "g1d")).await?;
    check!(changed_in(at).await? == [gus.clone()], "a new name is a change");

    let at = s.current_pos();
    s.set_device_name(&gus, device_id!("G1"), Some("nurses' station".into())).await?;
    check!(changed_in(at).await? == [gus.clone()], "renaming is a change");

    let at = s.current_pos();
    s.create_session(session(&gus, "G2", None, "g2")).await?;
    s.create_session(session(&gus, "G3", None, "g3")).await?;
    check!(changed_in(at).await? == [gus.clone()], "each user once");
    let at = s.current_pos();
    check!(s.delete_devices(&gus, &[OwnedDeviceId::from("nope")]).await?.is_empty(), "nothing deleted");
    check!(changed_in(at).await?.is_empty(), "deleting no device is no change");
    s.delete_devices(&gus, &[OwnedDeviceId::from("G2")]).await?;
    check!(changed_in(at).await? == [gus.clone()], "deleting a device is a change");
    let at = s.current_pos();
    s.delete_all_devices(&gus, Some(device_id!("G1"))).await?;
    check!(changed_in(at).await? == [gus.clone()], "ending all other sessions is a change");
    let at = s.current_pos();
    s.delete_all_devices(&gus, Some(device_id!("G1"))).await?;
    check!(changed_in(at).await?.is_empty(), "ending none is no change");

    // A member event marks the room's members; a message does not.
    let room = owned_room_id!("!devices:localhost");
    let create = event(&room, "dl-create", &gus, kinds::CREATE, Some(""), json!({"creator": gus}));
    s.append_events(vec![create], vec![]).await?;
    let serial = s.last_change(&ChangeTopic::RoomMembers(room.clone())).serial;
    let msg = event(&room, "dl-msg", &gus, kinds::MESSAGE, None, json!({"body": "x"}));
    s.append_events(vec![msg], vec![]).await?;
    check!(s.last_change(&ChangeTopic::RoomMembers(room.clone())).serial == serial, "a message is no member change");
    let hal = owned_user_id!("@hal:localhost");
    let join = event(&room, "dl-join", &hal, kinds::MEMBER, Some(hal.as_str()), json!({"membership": "join"}));
    s.append_events(vec![join], vec![]).await?;
    check!(s.last_change(&ChangeTopic::RoomMembers(room)).serial > serial, "a join is a member change");
    Ok(())
}
