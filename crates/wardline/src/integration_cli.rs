//! `wardline integration ...`: integration accounts (hospital systems) from the command line
//! (add, list, revoke, key add, key revoke, hl7 set|show|remove, wctp set|show|remove, wctp
//! recipient set|remove|list), through the same service and rules as the administration API, audited with the operating-system account that ran the command. Keys
//! are read from the database on every call, so a change made here while the server runs takes
//! effect at once.

use std::io::Write;

use clap::Subcommand;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_store::NewIntegration;
use wardline_types::alarm::AlarmKind;
use wardline_types::escalation::Target;
use wardline_types::hl7_binding::{Hl7Binding, R40Ack};
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::priority::Level;
use wardline_types::wctp_binding::{PriorityLevels, WctpBinding};

use crate::control::this_operator;

type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// Integration commands.
#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration account (then give it a key with `integration key add`).
    Add {
        /// Its id: lowercase letters, digits and -, such as nursecall-main.
        id: String,
        /// Its name, for people.
        #[arg(long)]
        name: String,
        /// What kind of system it is ("nurse call", "fire panel").
        #[arg(long)]
        kind: String,
        /// What it may do, once per scope: alarms.write, alarms.read, webhook.manage, hl7.alarms,
        /// hl7.adt, hl7.observations, wctp.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// The kinds of alarm it may raise, once per kind (none: any kind): nurse_call,
        /// staff_assist, cardiac_arrest, fire, monitor, clinical_alert, other.
        #[arg(long = "allowed-kind")]
        allowed_kinds: Vec<String>,
    },
    /// List integration accounts.
    List {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an integration account and every key of it.
    Revoke {
        /// The integration id.
        id: String,
    },
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The HL7 v2 sender it is (MLLP).
    #[command(subcommand)]
    Hl7(Hl7Command),
    /// The WCTP 1.3 sender it is (paging over HTTP/XML).
    #[command(subcommand)]
    Wctp(WctpCommand),
}

/// `wardline integration wctp ...`
#[derive(Debug, Subcommand)]
pub enum WctpCommand {
    /// Bind it to the WCTP sender id its pages carry (replacing any binding).
    Set {
        /// The integration id.
        id: String,
        /// The wctp-Originator senderID of its pages.
        #[arg(long)]
        sender_id: String,
        /// Where its wctp-StatusInfo and wctp-MessageReply reports are posted (https://, a host
        /// of integrations.webhook_hosts); none: no reports.
        #[arg(long)]
        reply_url: Option<String>,
        /// The priority of deliveryPriority HIGH, NORMAL and LOW, such as urgent,urgent,routine.
        #[arg(long, default_value = "urgent,urgent,routine")]
        levels: String,
        /// A multiple-choice answer that accepts the page, once per answer (none given: Accept,
        /// Yes, OK, Coming, On my way).
        #[arg(long = "accept")]
        accept_choices: Vec<String>,
        /// An answer that declines it, once per answer (none given: Reject, Decline, No, Busy).
        #[arg(long = "decline")]
        decline_choices: Vec<String>,
        /// The kind of alarm its pages are (nurse_call, staff_assist, other...).
        #[arg(long, default_value = "nurse_call")]
        default_kind: String,
        /// A recipient id no mapping names may be a role's bleep number.
        #[arg(long)]
        by_bleep: bool,
        /// A recipient id no mapping names may be a username.
        #[arg(long)]
        by_username: bool,
    },
    /// Show its binding and recipient mappings.
    Show {
        /// The integration id.
        id: String,
    },
    /// Remove its binding (its pages are then refused).
    Remove {
        /// The integration id.
        id: String,
    },
    /// Whom the recipient ids of its pages reach.
    #[command(subcommand)]
    Recipient(RecipientCommand),
}

/// `wardline integration wctp recipient ...`
#[derive(Debug, Subcommand)]
pub enum RecipientCommand {
    /// Map a recipient id to a person (`--user @nia:server`) or a role (`--role w7-nurse`).
    Set {
        /// The integration id.
        id: String,
        /// The recipient id its pages name.
        recipient_id: String,
        /// A person's user id.
        #[arg(long, conflicts_with = "role", required_unless_present = "role")]
        user: Option<String>,
        /// A role's id.
        #[arg(long)]
        role: Option<String>,
    },
    /// Remove a mapping.
    Remove {
        /// The integration id.
        id: String,
        /// The recipient id.
        recipient_id: String,
    },
    /// List the mappings, as JSON lines.
    List {
        /// The integration id.
        id: String,
    },
}

/// `wardline integration hl7 ...`
#[derive(Debug, Subcommand)]
pub enum Hl7Command {
    /// Bind it to the sender named in its messages' MSH-3 and MSH-4 (replacing any binding).
    Set {
        /// The integration id.
        id: String,
        /// MSH-3, the sending application (its first component).
        #[arg(long)]
        application: String,
        /// MSH-4, the sending facility (its first component; leave out if the sender leaves
        /// MSH-4 empty).
        #[arg(long, default_value = "")]
        facility: String,
        /// An address range it may connect from (`10.20.0.0/16`), once per range, at least one
        /// (`0.0.0.0/0` and `::/0` allow any host, knowingly).
        #[arg(long = "allow", required = true)]
        allowed_addresses: Vec<String>,
        /// A test system: processing ids T and D are taken from it.
        #[arg(long)]
        test: bool,
        /// The kind of alarm its reports raise (nurse_call, cardiac_arrest, monitor...).
        #[arg(long, default_value = "monitor")]
        default_kind: String,
        /// What its ORU^R40 reports are answered with: ack (ACK^R40^ACK) or ora_r41.
        #[arg(long, default_value = "ack")]
        r40_ack: String,
        /// host:port of its MLLP listener for alarm status (PCD-05 ORA^R41); must be listed in
        /// hl7.status_addresses.
        #[arg(long)]
        status_address: Option<String>,
        /// Send it the status of the alarms it raises over HL7 (needs --status-address).
        #[arg(long)]
        report_status: bool,
        /// The SHA-256 of the client certificate it must present over MLLP with TLS (64 hex
        /// digits, colons allowed).
        #[arg(long)]
        client_cert_sha256: Option<String>,
    },
    /// Show its binding.
    Show {
        /// The integration id.
        id: String,
    },
    /// Remove its binding (its messages are then refused).
    Remove {
        /// The integration id.
        id: String,
    },
}

/// `wardline integration key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a key: printed this once (only its hash is kept).
    Add {
        /// The integration id.
        id: String,
        /// What to call the key ("primary", "standby server").
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke one key.
    Revoke {
        /// The integration id.
        id: String,
        /// The key's id.
        key_id: String,
    },
}

fn integration_id(raw: &str) -> Result<IntegrationId, Box<dyn std::error::Error>> {
    Ok(IntegrationId::parse(raw)?)
}

/// Runs an integration command.
pub async fn run(s: &Services, cmd: IntegrationCommand) -> CmdResult {
    let operator = this_operator();
    let by = By::Operator(&operator);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        IntegrationCommand::Add { id, name, kind, scopes, allowed_kinds } => {
            let scopes = scopes
                .iter()
                .map(|n| IntegrationScope::parse(n).ok_or_else(|| format!("unknown scope {n:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            let allowed_kinds = allowed_kinds
                .iter()
                .map(|n| AlarmKind::parse(n).ok_or_else(|| format!("unknown kind of alarm {n:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            let new = NewIntegration { id: integration_id(&id)?, name, kind, scopes, allowed_kinds };
            let made = s.integrations.create(by, new).await?;
            writeln!(out, "created integration {} ({})", made.id, s.integrations.user_id(&made.id)?)?;
        }
        IntegrationCommand::List { json } => {
            if !json {
                writeln!(out, "INTEGRATION\tNAME\tKIND\tSCOPES\tALLOWED_KINDS\tACTIVE")?;
            }
            for i in s.integrations.list().await? {
                let scopes = i.scopes.iter().map(|x| x.name()).collect::<Vec<_>>().join(",");
                let kinds = i.allowed_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
                if json {
                    let line = serde_json::json!({
                        "integration_id": i.id, "name": i.name, "kind": i.kind, "scopes": i.scopes,
                        "allowed_kinds": i.allowed_kinds, "active": i.active,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    let kinds = if kinds.is_empty() { "any".to_owned() } else { kinds };
                    let active = if i.active { "yes" } else { "revoked" };
                    writeln!(out, "{}\t{}\t{}\t{scopes}\t{kinds}\t{active}", i.id, i.name, i.kind)?;
                }
            }
        }
        IntegrationCommand::Revoke { id } => {
            let i = s.integrations.revoke(by, &integration_id(&id)?).await?;
            writeln!(out, "revoked integration {} and its keys", i.id)?;
        }
        IntegrationCommand::Key(KeyCommand::Add { id, label }) => {
            let made = s.integrations.add_key(by, &integration_id(&id)?, label, None).await?;
            writeln!(out, "key id: {}", made.key.key_id)?;
            writeln!(out, "key:    {}", made.secret_key)?;
            writeln!(out, "(shown this once: only its hash is kept)")?;
        }
        IntegrationCommand::Key(KeyCommand::Revoke { id, key_id }) => {
            s.integrations.revoke_key(by, &integration_id(&id)?, &key_id).await?;
            writeln!(out, "revoked key {key_id}")?;
        }
        IntegrationCommand::Hl7(Hl7Command::Set {
            id,
            application,
            facility,
            allowed_addresses,
            test,
            default_kind,
            r40_ack,
            status_address,
            report_status,
            client_cert_sha256,
        }) => {
            let binding = Hl7Binding {
                sending_application: application,
                sending_facility: facility,
                allowed_addresses: allowed_addresses
                    .iter()
                    .map(|a| a.parse().map_err(|_| format!("not an address range (such as 10.20.0.0/16): {a:?}")))
                    .collect::<Result<_, _>>()?,
                test,
                default_kind: AlarmKind::parse(&default_kind)
                    .ok_or_else(|| format!("unknown kind of alarm {default_kind:?}"))?,
                r40_ack: R40Ack::parse(&r40_ack)
                    .ok_or_else(|| format!("r40-ack is ack or ora_r41, not {r40_ack:?}"))?,
                status_address,
                report_status,
                client_cert_sha256,
            };
            let id = integration_id(&id)?;
            s.integrations.set_hl7(by, &id, Some(binding)).await?;
            writeln!(out, "bound integration {id} to its HL7 sender")?;
        }
        IntegrationCommand::Hl7(Hl7Command::Show { id }) => {
            let binding = s.integrations.hl7(&integration_id(&id)?).await?;
            writeln!(out, "{}", serde_json::json!({ "hl7": binding }))?;
        }
        IntegrationCommand::Wctp(cmd) => wctp(s, by, cmd, &mut out).await?,
        IntegrationCommand::Hl7(Hl7Command::Remove { id }) => {
            let id = integration_id(&id)?;
            s.integrations.set_hl7(by, &id, None).await?;
            writeln!(out, "removed the HL7 binding of integration {id}")?;
        }
    }
    Ok(())
}

/// Runs a `wctp` command.
async fn wctp(s: &Services, by: By<'_>, cmd: WctpCommand, out: &mut impl Write) -> CmdResult {
    match cmd {
        WctpCommand::Set {
            id,
            sender_id,
            reply_url,
            levels,
            accept_choices,
            decline_choices,
            default_kind,
            by_bleep,
            by_username,
        } => {
            let parsed: Vec<Level> = levels
                .split(',')
                .map(|l| {
                    Level::parse(l.trim()).ok_or_else(|| format!("unknown priority {l:?} (routine, urgent, emergency)"))
                })
                .collect::<Result<_, _>>()?;
            let [high, normal, low] = parsed[..] else {
                return Err("levels: three priorities, for HIGH, NORMAL and LOW (urgent,urgent,routine)".into());
            };
            let mut binding: WctpBinding = serde_json::from_value(serde_json::json!({ "sender_id": sender_id }))?;
            binding.reply_url = reply_url;
            binding.levels = PriorityLevels { high, normal, low };
            binding.by_bleep = by_bleep;
            binding.by_username = by_username;
            if !accept_choices.is_empty() {
                binding.accept_choices = accept_choices;
            }
            if !decline_choices.is_empty() {
                binding.decline_choices = decline_choices;
            }
            binding.default_kind =
                AlarmKind::parse(&default_kind).ok_or_else(|| format!("unknown kind of alarm {default_kind:?}"))?;
            let id = integration_id(&id)?;
            s.outbox.set_wctp(by, &id, Some(binding)).await?;
            writeln!(out, "bound integration {id} to its WCTP sender id")?;
        }
        WctpCommand::Show { id } => {
            let id = integration_id(&id)?;
            let binding = s.outbox.wctp(&id).await?;
            let recipients = s.outbox.wctp_recipients(&id).await?;
            writeln!(out, "{}", serde_json::json!({ "wctp": binding, "recipients": recipients }))?;
        }
        WctpCommand::Remove { id } => {
            let id = integration_id(&id)?;
            s.outbox.set_wctp(by, &id, None).await?;
            writeln!(out, "removed the WCTP binding of integration {id}")?;
        }
        WctpCommand::Recipient(RecipientCommand::Set { id, recipient_id, user, role }) => {
            let target = match (user, role) {
                (Some(u), None) => Target::User { user_id: ruma::OwnedUserId::try_from(u.as_str())? },
                (None, Some(r)) => Target::Role { role: wardline_types::RoleId::parse(&r)? },
                _ => return Err("give --user or --role".into()),
            };
            let id = integration_id(&id)?;
            s.outbox.set_wctp_recipient(by, &id, &recipient_id, Some(target)).await?;
            writeln!(out, "mapped recipient {recipient_id:?} of integration {id}")?;
        }
        WctpCommand::Recipient(RecipientCommand::Remove { id, recipient_id }) => {
            let id = integration_id(&id)?;
            let removed = s.outbox.set_wctp_recipient(by, &id, &recipient_id, None).await?;
            let what = if removed { "removed" } else { "was not mapped:" };
            writeln!(out, "{what} recipient {recipient_id:?} of integration {id}")?;
        }
        WctpCommand::Recipient(RecipientCommand::List { id }) => {
            for r in s.outbox.wctp_recipients(&integration_id(&id)?).await? {
                writeln!(out, "{}", serde_json::json!(r))?;
            }
        }
    }
    Ok(())
}
