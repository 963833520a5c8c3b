//! `wardline room ...`: conversations from the command line, for administrators and
//! investigations. Room names and member lists can name patients, so every listing is recorded
//! in the audit trail like an export, with the operating-system account that asked.

use clap::Subcommand;
use ruma::OwnedRoomId;
use std::io::Write;
use wardline_service::Services;
use wardline_service::audit_report;
use wardline_types::Membership;

use crate::audit_cli::{audit_export, write_out};

/// Room commands.
#[derive(Debug, Subcommand)]
pub enum RoomCommand {
    /// List every conversation: id, name, members joined and invited, creator.
    List {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List a conversation's members: who has joined, is invited, has left or is banned, and
    /// their power level.
    Members {
        /// The room id.
        room: String,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a readable transcript of a conversation: who said what and when, whose devices each
    /// message reached and when, who read it and when.
    Transcript {
        /// The room id.
        room: String,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

fn room_id(raw: &str) -> Result<OwnedRoomId, String> {
    OwnedRoomId::try_from(raw).map_err(|e| format!("{raw} is not a room id: {e}"))
}

/// Runs a room command.
pub async fn run(services: &Services, cmd: RoomCommand) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        RoomCommand::List { json } => list(services, json).await,
        RoomCommand::Members { room, json } => members(services, &room_id(&room)?, json).await,
        RoomCommand::Transcript { room, output } => {
            let room_id = room_id(&room)?;
            let text = audit_report::transcript(services.store().as_ref(), &room_id).await?;
            // Recorded before it is written out: the transcript leaves only if its record is kept.
            audit_export(services, "transcript".into(), Some(room_id.to_string())).await?;
            write_out(output.as_ref(), &text)?;
            Ok(())
        }
    }
}

async fn list(services: &Services, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let rooms = services.store().room_ids().await?;
    // Recorded first: the listing is shown only if its record is kept.
    audit_export(services, format!("room list rooms={}", rooms.len()), None).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !json {
        writeln!(out, "ROOM\tNAME\tJOINED\tINVITED\tCREATOR")?;
    }
    for id in rooms {
        let state = services.rooms.state(&id).await?;
        let name = state.content_str("m.room.name", "name").filter(|n| !n.is_empty());
        let joined = state.members_with(Membership::Join).count();
        let invited = state.members_with(Membership::Invite).count();
        let creator = state.creator().map(ToString::to_string);
        if json {
            let line = serde_json::json!({
                "room_id": id, "name": name, "joined": joined, "invited": invited, "creator": creator,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{id}\t{}\t{joined}\t{invited}\t{}", name.unwrap_or("-"), creator.as_deref().unwrap_or("-"))?;
        }
    }
    Ok(())
}

async fn members(services: &Services, room: &OwnedRoomId, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let state = services.rooms.state(room).await.map_err(|e| format!("{room}: {e}"))?;
    if !state.exists() {
        return Err(format!("{room}: no such room").into());
    }
    let mut members = services.store().members(room).await?;
    members.sort_by(|a, b| a.0.cmp(&b.0));
    audit_export(services, format!("room members members={}", members.len()), Some(room.to_string())).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !json {
        writeln!(out, "USER\tMEMBERSHIP\tPOWER LEVEL")?;
    }
    for (user, membership) in members {
        let power = state.power().user(&user);
        if json {
            let line = serde_json::json!({ "user_id": user, "membership": membership.as_str(), "power_level": power });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{user}\t{}\t{power}", membership.as_str())?;
        }
    }
    Ok(())
}
