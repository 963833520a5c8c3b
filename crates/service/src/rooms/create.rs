//! `createRoom`.

use ruma::{OwnedRoomId, OwnedUserId, UserId};
use serde_json::{Map, Value, json};
use wardline_types::kinds;

use super::{RoomService, random_id};
use crate::audit::Actor;
use crate::ratelimit::LimitKind;
use crate::{ServiceError, ServiceResult};

/// The room version Wardline creates.
pub const ROOM_VERSION: &str = "11";

/// The presets Wardline offers (no public rooms: this is a closed organisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// Invite only, history shared with members, invitees have default power.
    #[default]
    PrivateChat,
    /// Like private chat, but every invitee gets the creator's power level.
    TrustedPrivateChat,
}

/// A `createRoom` request.
#[derive(Debug, Clone, Default)]
pub struct CreateRoom {
    /// The preset.
    pub preset: Preset,
    /// Room name.
    pub name: Option<String>,
    /// Topic.
    pub topic: Option<String>,
    /// Users to invite.
    pub invite: Vec<OwnedUserId>,
    /// A direct chat?
    pub is_direct: bool,
    /// Extra state events: (type, state_key, content).
    pub initial_state: Vec<(String, String, Value)>,
    /// Merged over the default power levels.
    pub power_level_content_override: Option<Map<String, Value>>,
    /// Extra content for the create event.
    pub creation_content: Option<Map<String, Value>>,
    /// Room version asked for.
    pub room_version: Option<String>,
}

impl RoomService {
    /// Creates a room with `creator` as its first member; returns its id.
    pub async fn create_room(&self, by: &Actor, req: CreateRoom) -> ServiceResult<OwnedRoomId> {
        let creator: &UserId = &by.user_id;
        if let Some(v) = &req.room_version
            && v != ROOM_VERSION
        {
            return Err(ServiceError::UnsupportedRoomVersion);
        }
        for user in &req.invite {
            self.check_in_organisation(user).await?;
            self.limiter.check(LimitKind::Invite, creator.as_str())?;
        }
        let room_id = OwnedRoomId::try_from(format!("!{}:{}", &random_id()[..18], self.server_name))
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut create = req.creation_content.clone().unwrap_or_default();
        // Only Wardline creates a broadcast conversation (`rooms/broadcast_room.rs`).
        create.remove(wardline_types::broadcast::BROADCAST);
        create.insert("room_version".into(), json!(ROOM_VERSION));
        create.insert("creator".into(), json!(creator));
        create.insert("m.federate".into(), json!(false));

        let mut users = Map::new();
        users.insert(creator.to_string(), json!(100));
        if req.preset == Preset::TrustedPrivateChat {
            for u in &req.invite {
                users.insert(u.to_string(), json!(100));
            }
        }
        let mut power = json!({
            "users": users, "users_default": 0, "events_default": 0, "state_default": 50,
            "ban": 50, "kick": 50, "redact": 50, "invite": 0,
            "events": {
                "m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
                "m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100,
                "m.room.server_acl": 100, "m.room.encryption": 100
            },
            "notifications": {"room": 50}
        });
        if let (Some(over), Some(obj)) = (&req.power_level_content_override, power.as_object_mut()) {
            for (k, v) in over {
                obj.insert(k.clone(), v.clone());
            }
        }
        let me = self.store.account(creator).await?;
        let mut join = json!({"membership": "join"});
        if let Some(a) = &me {
            join["displayname"] = json!(a.display_name);
            if a.avatar_url.is_some() {
                join["avatar_url"] = json!(a.avatar_url);
            }
        }
        let state = |k: &str, c: Value| (k.to_owned(), String::new(), c);
        let mut plan: Vec<(String, String, Value)> = vec![
            state(kinds::CREATE, Value::Object(create)),
            (kinds::MEMBER.into(), creator.to_string(), join),
            state(kinds::POWER_LEVELS, power),
            state(kinds::JOIN_RULES, json!({"join_rule": "invite"})),
            state(kinds::HISTORY_VISIBILITY, json!({"history_visibility": "shared"})),
            state(kinds::GUEST_ACCESS, json!({"guest_access": "forbidden"})),
        ];
        for (kind, key, content) in &req.initial_state {
            if matches!(kind.as_str(), kinds::CREATE | kinds::MEMBER) {
                return Err(ServiceError::invalid(format!("{kind} cannot be set in initial_state")));
            }
            plan.push((kind.clone(), key.clone(), content.clone()));
        }
        if let Some(name) = &req.name {
            plan.push(state(kinds::NAME, json!({"name": name})));
        }
        if let Some(topic) = &req.topic {
            plan.push(state(kinds::TOPIC, json!({"topic": topic})));
        }
        // Roles are brought in once the room exists (`role_seats.rs`): they join at once.
        let (roles, people): (Vec<&OwnedUserId>, Vec<&OwnedUserId>) =
            req.invite.iter().partition(|u| self.role_of(u).is_some());
        for user in people {
            let mut content = json!({"membership": "invite"});
            if req.is_direct {
                content["is_direct"] = json!(true);
            }
            if let Some(a) = self.store.account(user).await? {
                content["displayname"] = json!(a.display_name);
            }
            plan.push((kinds::MEMBER.into(), user.to_string(), content));
        }
        let events = plan
            .into_iter()
            .map(|(kind, key, content)| self.new_event(&room_id, creator, &kind, Some(key), content))
            .collect();
        let mut slot = self.lock(&room_id).await?;
        self.append(by, &mut slot, events).await?;
        drop(slot);
        for user in roles {
            if let Some(role) = self.role_of(user) {
                self.invite_role(&room_id, by, &role).await?;
            }
        }
        Ok(room_id)
    }
}
