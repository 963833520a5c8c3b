//! Receipts, read markers, account data, tags and filters.

use std::sync::Arc;

use ruma::api::client::filter::FilterDefinition;
use ruma::{EventId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_store::{Receipt, Store};
use wardline_types::{MAX_EVENT_TYPE_BYTES, Membership, StreamPos};

use crate::audit::Actor;
use crate::core::Core;
use crate::messaging::{Arrival, Deliveries};
use crate::notifier::Notifier;
use crate::rooms::RoomService;
use crate::timeline::TimelineService;
use crate::{ServiceError, ServiceResult};

/// Receipts, account data, filters.
pub struct UserDataService {
    store: Arc<dyn Store>,
    notifier: Notifier,
    rooms: Arc<RoomService>,
    timeline: TimelineService,
    deliveries: Deliveries,
}

impl std::fmt::Debug for UserDataService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDataService").finish_non_exhaustive()
    }
}

/// The account data type of the fully-read marker.
pub const FULLY_READ: &str = "m.fully_read";

impl UserDataService {
    /// A user data service.
    pub fn new(core: &Core, rooms: Arc<RoomService>, timeline: TimelineService, deliveries: Deliveries) -> Self {
        Self { store: Arc::clone(&core.store), deliveries, notifier: core.notifier.clone(), rooms, timeline }
    }

    /// Records that `by`'s device has shown up to `event_id`, by a request that `arrived`: the
    /// receipt takes the time it arrived, and counts for what had been delivered to that device
    /// by then ([`crate::messaging::status`]).
    pub async fn receipt(
        &self,
        by: &Actor,
        room: &RoomId,
        receipt_type: &str,
        event_id: &EventId,
        thread_id: Option<String>,
        arrived: Arrival,
    ) -> ServiceResult<()> {
        let user: &UserId = &by.user_id;
        if !matches!(receipt_type, "m.read" | "m.read.private") {
            return Err(ServiceError::invalid(format!("unknown receipt type {receipt_type}")));
        }
        let audience = self.joined_audience(user, room).await?;
        let event = self.timeline.visible_event(user, room, event_id).await?;
        let device = by.device_id.clone();
        let settled = match &device {
            Some(d) => self.deliveries.settled(user, d, arrived).await,
            None => arrived.pos,
        };
        let stored = self
            .store
            .put_receipt(Receipt {
                room_id: room.to_owned(),
                user_id: user.to_owned(),
                receipt_type: receipt_type.to_owned(),
                thread_id,
                event_id: event_id.to_owned(),
                event_stream: event.stream,
                ts: arrived.ts,
                stream: StreamPos::ZERO,
                device_id: device,
                arrived: settled,
            })
            .await?;
        if stored.is_some() {
            if receipt_type == "m.read.private" {
                self.notifier.wake([user]);
            } else {
                self.notifier.wake(audience.iter().map(AsRef::as_ref));
            }
        }
        Ok(())
    }

    /// Sets the fully-read marker and, optionally, receipts (as [`UserDataService::receipt`]).
    pub async fn read_markers(
        &self,
        by: &Actor,
        room: &RoomId,
        fully_read: Option<&EventId>,
        read: Option<&EventId>,
        read_private: Option<&EventId>,
        arrived: Arrival,
    ) -> ServiceResult<()> {
        let user: &UserId = &by.user_id;
        if let Some(id) = fully_read {
            self.joined_audience(user, room).await?;
            self.timeline.visible_event(user, room, id).await?;
            self.put_account_data(user, Some(room), FULLY_READ, json!({ "event_id": id })).await?;
        }
        if let Some(id) = read {
            self.receipt(by, room, "m.read", id, None, arrived).await?;
        }
        if let Some(id) = read_private {
            self.receipt(by, room, "m.read.private", id, None, arrived).await?;
        }
        Ok(())
    }

    async fn joined_audience(&self, user: &UserId, room: &RoomId) -> ServiceResult<Vec<OwnedUserId>> {
        let (membership, audience) = self
            .rooms
            .with_state(room, |s| (s.membership(user), s.members_with(Membership::Join).cloned().collect()))
            .await?;
        if membership != Some(Membership::Join) {
            return Err(ServiceError::forbidden("you are not a member of this room"));
        }
        Ok(audience)
    }

    /// Members of `room` who should hear about typing by `user` (who must be joined).
    pub async fn typing_audience(&self, user: &UserId, room: &RoomId) -> ServiceResult<Vec<OwnedUserId>> {
        self.joined_audience(user, room).await
    }

    /// Sets account data, global or for a room.
    pub async fn put_account_data(
        &self,
        user: &UserId,
        room: Option<&RoomId>,
        kind: &str,
        content: Value,
    ) -> ServiceResult<()> {
        if !content.is_object() {
            return Err(ServiceError::BadJson("account data must be a JSON object".into()));
        }
        if kind.len() > MAX_EVENT_TYPE_BYTES {
            return Err(ServiceError::invalid(format!(
                "an account data type may be at most {MAX_EVENT_TYPE_BYTES} bytes long"
            )));
        }
        if kind == "m.push_rules" || kind == "m.fully_read" && room.is_none() || kind == wardline_types::dnd::DND_KIND {
            return Err(ServiceError::BadJson(format!("{kind} cannot be set here")));
        }
        if let Some(r) = room
            && self.rooms.with_state(r, |s| s.membership(user)).await?.is_none()
        {
            return Err(ServiceError::forbidden("you are not in this room"));
        }
        self.store.put_account_data(user, room, kind, content).await?;
        self.notifier.wake([user]);
        Ok(())
    }

    /// Reads account data.
    pub async fn account_data(&self, user: &UserId, room: Option<&RoomId>, kind: &str) -> ServiceResult<Value> {
        self.store
            .account_data(user, room, kind)
            .await?
            .ok_or_else(|| ServiceError::not_found("no account data of that type"))
    }

    /// The room's tags (`m.tag` content).
    pub async fn tags(&self, user: &UserId, room: &RoomId) -> ServiceResult<Value> {
        Ok(self.store.account_data(user, Some(room), "m.tag").await?.unwrap_or_else(|| json!({"tags": {}})))
    }

    /// Adds (`Some`) or removes (`None`) a tag.
    pub async fn set_tag(&self, user: &UserId, room: &RoomId, tag: &str, info: Option<Value>) -> ServiceResult<()> {
        let mut content = self.tags(user, room).await?;
        if !content.get("tags").is_some_and(Value::is_object) {
            content = json!({"tags": {}});
        }
        if let Some(tags) = content.get_mut("tags").and_then(Value::as_object_mut) {
            match info {
                Some(i) => {
                    tags.insert(tag.to_owned(), i);
                }
                None => {
                    tags.remove(tag);
                }
            }
        }
        self.put_account_data(user, Some(room), "m.tag", content).await
    }

    /// Stores a filter's JSON unchanged, once it is known to be a filter within the limits.
    pub async fn put_filter(&self, user: &UserId, json: &str) -> ServiceResult<String> {
        crate::filter::parse(json)?;
        Ok(self.store.put_filter(user, json).await?)
    }

    /// A stored filter's JSON.
    pub async fn filter(&self, user: &UserId, id: &str) -> ServiceResult<String> {
        self.store.filter(user, id).await?.ok_or_else(|| ServiceError::not_found("no such filter"))
    }

    /// A stored filter, parsed and checked against the limits (it may predate them).
    pub async fn filter_definition(&self, user: &UserId, id: &str) -> ServiceResult<FilterDefinition> {
        crate::filter::parse(&self.filter(user, id).await?)
    }
}
