//! The Matrix client-server API.

pub mod account_data;
pub mod devices;
pub mod discovery;
pub mod format;
pub mod media;
pub mod messages;
pub mod profile;
pub mod push_rules;
pub mod pushers;
pub mod receipts;
pub mod relations;
pub mod rooms;
pub mod search;
pub mod session;
pub mod state;
pub mod sync;
pub mod threads;

use ruma::api::client::relations as rel;
use ruma::api::client::{
    account, authenticated_media as auth_media, config, context, device, discovery as disc, filter,
    media as legacy_media, membership, message, presence, profile as prof, push, read_marker, receipt, redact, room,
    session as sess, state as st, sync::sync_events, tag, typing, user_directory,
};

use crate::routes::Routes;

/// Every client-server endpoint Wardline offers.
#[allow(deprecated)] // the legacy media download paths, routed to refuse them
pub fn routes() -> Routes {
    Routes::new()
        .ruma::<disc::get_supported_versions::Request, _, _>(discovery::versions)
        .ruma::<disc::discover_homeserver::Request, _, _>(discovery::well_known)
        .ruma::<disc::get_capabilities::v3::Request, _, _>(discovery::capabilities)
        .ruma::<sess::get_login_types::v3::Request, _, _>(session::login_types)
        .ruma::<sess::login::v3::Request, _, _>(session::login)
        .ruma::<sess::refresh_token::v3::Request, _, _>(session::refresh)
        .ruma::<sess::logout::v3::Request, _, _>(session::logout)
        .ruma::<sess::logout_all::v3::Request, _, _>(session::logout_all)
        .ruma::<account::whoami::v3::Request, _, _>(session::whoami)
        .ruma::<account::register::v3::Request, _, _>(session::register)
        .ruma::<account::change_password::v3::Request, _, _>(session::change_password)
        .ruma::<device::get_devices::v3::Request, _, _>(devices::list)
        .ruma::<device::get_device::v3::Request, _, _>(devices::get)
        .ruma::<device::update_device::v3::Request, _, _>(devices::update)
        .ruma::<device::delete_device::v3::Request, _, _>(devices::delete)
        .ruma::<device::delete_devices::v3::Request, _, _>(devices::delete_many)
        .ruma::<sync_events::v3::Request, _, _>(sync::sync)
        .ruma::<filter::create_filter::v3::Request, _, _>(sync::create_filter)
        .ruma::<filter::get_filter::v3::Request, _, _>(sync::get_filter)
        .ruma::<room::create_room::v3::Request, _, _>(rooms::create)
        .ruma::<membership::invite_user::v3::Request, _, _>(rooms::invite)
        .ruma::<membership::join_room_by_id::v3::Request, _, _>(rooms::join_by_id)
        .ruma::<membership::join_room_by_id_or_alias::v3::Request, _, _>(rooms::join_by_id_or_alias)
        .ruma::<membership::leave_room::v3::Request, _, _>(rooms::leave)
        .ruma::<membership::forget_room::v3::Request, _, _>(rooms::forget)
        .ruma::<membership::kick_user::v3::Request, _, _>(rooms::kick)
        .ruma::<membership::ban_user::v3::Request, _, _>(rooms::ban)
        .ruma::<membership::unban_user::v3::Request, _, _>(rooms::unban)
        .ruma::<membership::joined_rooms::v3::Request, _, _>(rooms::joined)
        .ruma::<membership::get_member_events::v3::Request, _, _>(rooms::members)
        .ruma::<membership::joined_members::v3::Request, _, _>(rooms::joined_members)
        .ruma::<ruma::api::client::directory::get_public_rooms::v3::Request, _, _>(rooms::public_rooms)
        .ruma::<ruma::api::client::directory::get_public_rooms_filtered::v3::Request, _, _>(
            rooms::public_rooms_filtered,
        )
        .ruma::<st::get_state_events::v3::Request, _, _>(state::all)
        .ruma_with_empty_last::<st::get_state_event_for_key::v3::Request, _, _>(state::get)
        .ruma_with_empty_last::<st::send_state_event::v3::Request, _, _>(state::put)
        .ruma::<message::send_message_event::v3::Request, _, _>(messages::send)
        .ruma::<message::get_message_events::v3::Request, _, _>(messages::messages)
        .ruma::<room::get_room_event::v3::Request, _, _>(messages::event)
        .ruma::<context::get_context::v3::Request, _, _>(messages::context)
        .ruma::<redact::redact_event::v3::Request, _, _>(messages::redact)
        .ruma::<rel::get_relating_events::v1::Request, _, _>(relations::all)
        .ruma::<rel::get_relating_events_with_rel_type::v1::Request, _, _>(relations::by_rel_type)
        .ruma::<rel::get_relating_events_with_rel_type_and_event_type::v1::Request, _, _>(
            relations::by_rel_and_event_type,
        )
        .ruma::<ruma::api::client::threads::get_threads::v1::Request, _, _>(threads::threads)
        .ruma::<ruma::api::client::search::search_events::v3::Request, _, _>(search::search)
        .ruma::<receipt::create_receipt::v3::Request, _, _>(receipts::receipt)
        .ruma::<read_marker::set_read_marker::v3::Request, _, _>(receipts::read_markers)
        .ruma::<typing::create_typing_event::v3::Request, _, _>(receipts::typing)
        .ruma::<presence::get_presence::v3::Request, _, _>(receipts::get_presence)
        .ruma::<presence::set_presence::v3::Request, _, _>(receipts::set_presence)
        .ruma::<prof::get_profile::v3::Request, _, _>(profile::get)
        .ruma::<prof::get_display_name::v3::Request, _, _>(profile::get_name)
        .ruma::<prof::set_display_name::v3::Request, _, _>(profile::set_name)
        .ruma::<prof::get_avatar_url::v3::Request, _, _>(profile::get_avatar)
        .ruma::<prof::set_avatar_url::v3::Request, _, _>(profile::set_avatar)
        .ruma::<user_directory::search_users::v3::Request, _, _>(profile::search)
        .ruma::<config::set_global_account_data::v3::Request, _, _>(account_data::set_global)
        .ruma::<config::get_global_account_data::v3::Request, _, _>(account_data::get_global)
        .ruma::<config::set_room_account_data::v3::Request, _, _>(account_data::set_room)
        .ruma::<config::get_room_account_data::v3::Request, _, _>(account_data::get_room)
        .ruma::<tag::get_tags::v3::Request, _, _>(account_data::tags)
        .ruma::<tag::create_tag::v3::Request, _, _>(account_data::put_tag)
        .ruma::<tag::delete_tag::v3::Request, _, _>(account_data::delete_tag)
        .ruma::<push::get_pushrules_all::v3::Request, _, _>(push_rules::all)
        .ruma::<push::get_pushrules_global_scope::v3::Request, _, _>(push_rules::global)
        .ruma::<push::get_pushrule::v3::Request, _, _>(push_rules::get)
        .ruma::<push::set_pushrule::v3::Request, _, _>(push_rules::put)
        .ruma::<push::delete_pushrule::v3::Request, _, _>(push_rules::delete)
        .ruma::<push::get_pushrule_enabled::v3::Request, _, _>(push_rules::get_enabled)
        .ruma::<push::set_pushrule_enabled::v3::Request, _, _>(push_rules::set_enabled)
        .ruma::<push::get_pushrule_actions::v3::Request, _, _>(push_rules::get_actions)
        .ruma::<push::set_pushrule_actions::v3::Request, _, _>(push_rules::set_actions)
        .ruma::<push::get_notifications::v3::Request, _, _>(push_rules::notifications)
        .ruma::<push::get_pushers::v3::Request, _, _>(pushers::list)
        .ruma::<push::set_pusher::v3::Request, _, _>(pushers::set)
        .ruma::<legacy_media::create_content::v3::Request, _, _>(media::upload)
        .ruma::<legacy_media::create_mxc_uri::v1::Request, _, _>(media::create)
        .ruma::<legacy_media::create_content_async::v3::Request, _, _>(media::upload_to)
        .ruma::<auth_media::get_content::v1::Request, _, _>(media::download)
        .ruma::<auth_media::get_content_as_filename::v1::Request, _, _>(media::download_as)
        .ruma::<auth_media::get_content_thumbnail::v1::Request, _, _>(media::thumbnail)
        .ruma::<auth_media::get_media_config::v1::Request, _, _>(media::config)
        // Deprecated paths, routed only to refuse them.
        .ruma::<legacy_media::get_content::v3::Request, _, _>(media::legacy)
        .ruma::<legacy_media::get_content_as_filename::v3::Request, _, _>(media::legacy)
        .ruma::<legacy_media::get_content_thumbnail::v3::Request, _, _>(media::legacy)
}
