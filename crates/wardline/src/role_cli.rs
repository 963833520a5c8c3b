//! `wardline role ...`: roles from the command line (add, list, show, update, import, retire,
//! holders set, rota import and show), through the same service and rules as the administration API, audited with the
//! operating-system account that ran the command. Roles are read from the database on every
//! request, so a change made here while the server runs takes effect at once.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_service::roles::RoleService;
use wardline_service::roles::import::{RoleImportError, describe};
use wardline_service::roles::rota::{RotaFormat, RotaImportError};
use wardline_types::{Eligibility, Role, RoleDefinition, RoleId};

use crate::control::this_operator;

type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// Role commands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role.
    Add {
        /// Its id: lowercase letters, digits and -, such as med-reg-oncall.
        id: String,
        /// Its name, as staff search for it.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// List roles with their holders.
    List {
        /// Retired roles too.
        #[arg(long)]
        all: bool,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a role: its definition, holders and recent history.
    Show {
        /// The role id.
        id: String,
    },
    /// Change a role: each option given replaces that field (an eligibility option replaces the
    /// whole eligibility).
    Update {
        /// The role id.
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Create or update roles from CSV: columns id,name and optionally department, site, bleep,
    /// may_be_empty (yes/no), fallback, eligible_users, eligible_job_titles,
    /// eligible_departments (lists separated by ;). Any bad row: nothing is imported.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Retire a role: nobody holds it any more, its history is kept.
    Retire {
        /// The role id.
        id: String,
    },
    /// Who holds a role.
    #[command(subcommand)]
    Holders(HoldersCommand),
    /// The rota: scheduled shifts that change holders at their boundaries.
    #[command(subcommand)]
    Rota(RotaCommand),
}

/// `wardline role rota ...`
#[derive(Debug, Subcommand)]
pub enum RotaCommand {
    /// Import a rota, all or nothing: CSV with the header role,username,start,end[,note] and
    /// RFC 3339 times with an offset, or iCalendar VEVENTs with X-WARDLINE-ROLE,
    /// X-WARDLINE-USER and UTC DTSTART/DTEND. For each role it names, shifts not yet started
    /// within the span of its rows are replaced; boundaries already due are applied at once.
    Import {
        /// The rota file.
        file: PathBuf,
        /// csv or ical (default: ical for .ics/.ical files, csv otherwise).
        #[arg(long, value_parser = ["csv", "ical"])]
        format: Option<String>,
    },
    /// A role's rota shifts for the hours ahead.
    Show {
        /// The role id.
        id: String,
        /// How many hours ahead.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

/// `wardline role holders ...`
#[derive(Debug, Subcommand)]
pub enum HoldersCommand {
    /// Make exactly these people hold the role (none: nobody, if the role may be empty).
    Set {
        /// The role id.
        id: String,
        /// Usernames or user ids.
        users: Vec<String>,
        /// A note kept in the role's history.
        #[arg(long)]
        note: Option<String>,
    },
}

/// The optional fields of a role.
#[derive(Debug, Args)]
pub struct Fields {
    /// Department.
    #[arg(long)]
    department: Option<String>,
    /// Site.
    #[arg(long)]
    site: Option<String>,
    /// Bleep or extension number, shown to all staff.
    #[arg(long)]
    bleep: Option<String>,
    /// May nobody hold it? `no`: its last holder must hand it to a named successor.
    #[arg(long, value_parser = ["yes", "no"])]
    may_be_empty: Option<String>,
    /// The role messages go to while nobody holds this one ("" for none).
    #[arg(long)]
    fallback: Option<String>,
    /// A person who may hold it (repeat).
    #[arg(long = "eligible-user")]
    eligible_users: Vec<String>,
    /// A job title whose holders may hold it (repeat).
    #[arg(long = "eligible-job-title")]
    eligible_job_titles: Vec<String>,
    /// A department whose staff may hold it (repeat).
    #[arg(long = "eligible-department")]
    eligible_departments: Vec<String>,
}

fn id(raw: &str) -> Result<RoleId, Box<dyn std::error::Error>> {
    Ok(RoleService::parse_id(raw)?)
}

/// `fields` applied over `d`.
fn apply(s: &Services, mut d: RoleDefinition, f: Fields) -> Result<RoleDefinition, Box<dyn std::error::Error>> {
    let text = |v: Option<String>, old: Option<String>| match v {
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v),
        None => old,
    };
    d.department = text(f.department, d.department);
    d.site = text(f.site, d.site);
    d.bleep = text(f.bleep, d.bleep);
    if let Some(v) = f.may_be_empty {
        d.may_be_empty = v == "yes";
    }
    if let Some(fb) = f.fallback {
        d.fallback = if fb.trim().is_empty() { None } else { Some(id(&fb)?) };
    }
    if !(f.eligible_users.is_empty() && f.eligible_job_titles.is_empty() && f.eligible_departments.is_empty()) {
        let users = f.eligible_users.iter().map(|u| s.accounts.resolve(u)).collect::<Result<Vec<_>, _>>()?;
        d.eligibility = Eligibility { users, job_titles: f.eligible_job_titles, departments: f.eligible_departments };
    }
    Ok(d)
}

fn holders_text(r: &Role) -> String {
    if r.holders.is_empty() {
        return "-".into();
    }
    r.holders.iter().map(|h| h.user_id.to_string()).collect::<Vec<_>>().join(",")
}

/// Runs a role command.
pub async fn run(s: &Services, cmd: RoleCommand) -> CmdResult {
    let operator = this_operator();
    let by = By::Operator(&operator);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        RoleCommand::Add { id: raw, name, fields } => {
            let blank = RoleDefinition {
                id: id(&raw)?,
                name,
                department: None,
                site: None,
                bleep: None,
                eligibility: Eligibility::default(),
                may_be_empty: true,
                fallback: None,
            };
            let role = s.roles.create(by, apply(s, blank, fields)?).await?;
            writeln!(out, "created role {} ({})", role.definition.id, s.roles.user_id_of(&role.definition.id)?)?;
        }
        RoleCommand::List { all, json } => {
            let roles = s.roles.list(all).await?;
            if !json {
                writeln!(out, "ROLE\tNAME\tDEPARTMENT\tSITE\tBLEEP\tMAY_BE_EMPTY\tHOLDERS")?;
            }
            for r in roles {
                let d = &r.definition;
                if json {
                    let line = serde_json::json!({
                        "role_id": d.id, "name": d.name, "department": d.department, "site": d.site,
                        "bleep": d.bleep, "may_be_empty": d.may_be_empty, "retired": r.retired,
                        "holders": r.holders.iter().map(|h| &h.user_id).collect::<Vec<_>>(),
                    });
                    writeln!(out, "{line}")?;
                } else {
                    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        d.id,
                        d.name,
                        dash(&d.department),
                        dash(&d.site),
                        dash(&d.bleep),
                        if d.may_be_empty { "yes" } else { "no" },
                        holders_text(&r)
                    )?;
                }
            }
        }
        RoleCommand::Show { id: raw } => {
            let role_id = id(&raw)?;
            let r = s.roles.get(&role_id).await?;
            let history = s.roles.history(&role_id, 20).await?;
            let d = &r.definition;
            writeln!(out, "role:         {}{}", d.id, if r.retired { " (retired)" } else { "" })?;
            writeln!(out, "user id:      {}", s.roles.user_id_of(&d.id)?)?;
            writeln!(out, "name:         {}", d.name)?;
            for (k, v) in [("department:", &d.department), ("site:", &d.site), ("bleep:", &d.bleep)] {
                writeln!(out, "{k:<13} {}", v.as_deref().unwrap_or("-"))?;
            }
            writeln!(out, "may be empty: {}", if d.may_be_empty { "yes" } else { "no" })?;
            writeln!(out, "fallback:     {}", d.fallback.as_ref().map_or("-".into(), ToString::to_string))?;
            let e = &d.eligibility;
            let users: Vec<String> = e.users.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "eligible:     users [{}] job titles [{}] departments [{}]",
                users.join(", "),
                e.job_titles.join(", "),
                e.departments.join(", ")
            )?;
            writeln!(out, "holders:")?;
            for h in &r.holders {
                writeln!(out, "  {} since {} ({})", h.user_id, h.since.0, h.reason)?;
            }
            writeln!(out, "history (newest first):")?;
            for c in history {
                let who = |u: &Option<ruma::OwnedUserId>| u.as_ref().map_or("-".into(), ToString::to_string);
                writeln!(out, "  {} {} from {} to {} by {}", c.at.0, c.reason, who(&c.from), who(&c.to), who(&c.by))?;
            }
        }
        RoleCommand::Update { id: raw, name, fields } => {
            let current = s.roles.get(&id(&raw)?).await?;
            let mut d = apply(s, current.definition, fields)?;
            if let Some(n) = name {
                d.name = n;
            }
            let role = s.roles.update(by, d).await?;
            writeln!(out, "role {} is at version {}", role.definition.id, role.version)?;
        }
        RoleCommand::Import { file } => {
            let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            match s.roles.import_csv(by, &data).await {
                Ok(report) => writeln!(out, "{report}")?,
                Err(RoleImportError::BadRows(rows)) => {
                    return Err(format!("{}\n{} bad row(s); nothing was imported", describe(&rows), rows.len()).into());
                }
                Err(e) => return Err(e.to_string().into()),
            }
        }
        RoleCommand::Retire { id: raw } => {
            s.roles.retire(by, &id(&raw)?).await?;
            writeln!(out, "retired role {raw}")?;
        }
        RoleCommand::Holders(HoldersCommand::Set { id: raw, users, note }) => {
            let users = users.iter().map(|u| s.accounts.resolve(u)).collect::<Result<Vec<_>, _>>()?;
            let role = s.roles.set_holders(by, &id(&raw)?, users, note).await?;
            writeln!(out, "{} is held by {}", role.definition.id, holders_text(&role))?;
        }
        RoleCommand::Rota(RotaCommand::Import { file, format }) => {
            let ical = file.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "ics" | "ical"));
            let format = match format.as_deref() {
                Some(f) => RotaFormat::parse(f).ok_or("--format is csv or ical")?,
                None if ical => RotaFormat::Ical,
                None => RotaFormat::Csv,
            };
            let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            match s.roles.import_rota(by, format, &data).await {
                Ok(report) => writeln!(out, "{report}")?,
                Err(RotaImportError::BadRows(rows)) => {
                    return Err(format!("{}\n{} bad row(s); nothing was imported", describe(&rows), rows.len()).into());
                }
                Err(e) => return Err(e.to_string().into()),
            }
            // Applying is idempotent and safe beside a running server's own task.
            let applied = s.roles.apply_rota().await?;
            writeln!(out, "{} change(s) of holders due now applied", applied.changes.len())?;
        }
        RoleCommand::Rota(RotaCommand::Show { id: raw, hours }) => {
            let shifts = s.roles.rota(&id(&raw)?, hours).await?;
            writeln!(out, "USER\tSTART\tEND\tSTATE\tNOTE")?;
            for x in shifts {
                let state = match (x.started_at, x.ended_at, x.uncovered_at) {
                    (_, _, Some(_)) => "uncovered",
                    (_, Some(_), _) => "ended",
                    (Some(_), None, _) => "on shift",
                    (None, ..) => "not started",
                };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    x.shift.user_id,
                    x.shift.starts_at.to_rfc3339(),
                    x.shift.ends_at.to_rfc3339(),
                    state,
                    x.shift.note.as_deref().unwrap_or("-")
                )?;
            }
        }
    }
    Ok(())
}
