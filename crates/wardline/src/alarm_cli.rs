//! `wardline alarm-rule ...`: the rules that route alarms, from the command line (list, set
//! from a JSON file, remove), through the same service and checks as the administration API,
//! audited with the operating-system account that ran the command.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_types::alarm_rule::{AlarmRule, RuleId};

use crate::control::this_operator;

type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// Alarm rule commands.
#[derive(Debug, Subcommand)]
pub enum AlarmRuleCommand {
    /// List the rules in the order they are tried, and the failsafe rule in force.
    List {
        /// JSON lines (each rule with its version) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Save a rule from a JSON file (as `PUT /_wardline/admin/v1/alarm_rules/{ruleId}` takes it,
    /// with its `id`): created if new, else replaced at the `version` the file gives.
    Set {
        /// The file ("-": standard input).
        file: PathBuf,
    },
    /// Remove a rule (removing the failsafe rule brings back the built-in one).
    Remove {
        /// The rule's id.
        id: String,
    },
}

/// Runs an alarm rule command.
pub async fn run(s: &Services, cmd: AlarmRuleCommand) -> CmdResult {
    let operator = this_operator();
    let by = By::Operator(&operator);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        AlarmRuleCommand::List { json } => {
            let rules = s.alarms.rules().await?;
            if json {
                for r in &rules {
                    writeln!(out, "{}", serde_json::json!({ "rule": r.rule, "version": r.version }))?;
                }
                return Ok(());
            }
            writeln!(out, "POSITION\tRULE\tNAME\tMODE\tLEVEL\tTARGETS\tENABLED\tVERSION")?;
            for r in &rules {
                let a = &r.rule.action;
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.rule.position,
                    r.rule.id,
                    r.rule.name,
                    a.mode.as_str(),
                    a.level.as_str(),
                    a.targets.len(),
                    if r.rule.enabled { "yes" } else { "no" },
                    r.version
                )?;
            }
            let failsafe = s.alarms.failsafe_rule().await?;
            let set = rules.iter().any(|r| r.rule.id.is_failsafe());
            writeln!(
                out,
                "failsafe: {} target(s){}",
                failsafe.action.targets.len(),
                if set { "" } else { " (built in: the administrators)" }
            )?;
        }
        AlarmRuleCommand::Set { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)?
            };
            let mut value: serde_json::Value = serde_json::from_str(&text)?;
            let version = match value.as_object_mut().and_then(|o| o.remove("version")) {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or("version is the version read (a number)")?),
            };
            let rule: AlarmRule = serde_json::from_value(value)?;
            let version = s.alarms.set_rule(by, &rule, version).await?;
            writeln!(out, "saved rule {} (version {version})", rule.id)?;
        }
        AlarmRuleCommand::Remove { id } => {
            let id = RuleId::parse(&id)?;
            if !s.alarms.remove_rule(by, &id).await? {
                return Err(format!("there is no rule {id}").into());
            }
            writeln!(out, "removed rule {id}")?;
        }
    }
    Ok(())
}
