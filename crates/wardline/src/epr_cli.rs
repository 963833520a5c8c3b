//! `wardline epr ...`: the connection to the electronic patient record, from the command line.
//!
//! - `epr check` reads the configuration, asks the EPR for its CapabilityStatement and says what
//!   it supports of what Wardline uses (FHIR version, software; `Patient`, `Encounter`,
//!   `Location`, `Communication`, `DocumentReference`: their interactions and search
//!   parameters), then tries the credentials with a search that finds nobody
//!   (`Patient?_id=wardline-connection-test`). It fails (exit status 1) when either fails.
//! - `epr jwks` prints the public half of the SMART Backend Services key as a JWK set, the
//!   form the EPR's administrators register it in.
//!
//! Neither opens the database: they need only the configuration.

use std::io::Write;
use std::sync::Arc;

use clap::Subcommand;
use serde_json::Value;
use wardline_service::Config;
use wardline_service::patients::EprClient;
use wardline_types::SystemClock;

type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// The resources Wardline reads or writes, and the search parameters it uses of each.
const USED: [(&str, &[&str]); 5] = [
    ("Patient", &["_id", "identifier", "family", "given", "birthdate"]),
    ("Encounter", &["subject", "status"]),
    ("Location", &[]),
    ("Communication", &[]),
    ("DocumentReference", &[]),
];

/// The id searched for to try the credentials: no patient has it.
const CONNECTION_TEST_ID: &str = "wardline-connection-test";

/// EPR commands.
#[derive(Debug, Subcommand)]
pub enum EprCommand {
    /// Check the connection to the EPR: what it supports, and that it takes Wardline's
    /// credentials.
    Check,
    /// Print the public JWK set of the SMART Backend Services key (epr.auth.private_key_file),
    /// to register with the EPR.
    Jwks,
}

/// Runs an EPR command.
pub async fn run(config: &Config, cmd: EprCommand) -> CmdResult {
    let client = EprClient::from_settings(&config.epr, Arc::new(SystemClock))?
        .ok_or("no EPR is configured: set epr.base_url (WARDLINE_EPR__BASE_URL)")?;
    let mut out = std::io::stdout().lock();
    match cmd {
        EprCommand::Check => check(&client, &mut out).await,
        EprCommand::Jwks => {
            let jwks = client.jwks().ok_or("epr.auth.method is not smart: there is no key to publish")?;
            writeln!(out, "{}", serde_json::to_string_pretty(&jwks)?)?;
            Ok(())
        }
    }
}

async fn check(client: &EprClient, out: &mut impl Write) -> CmdResult {
    writeln!(out, "EPR: {}", client.base())?;
    let caps = match client.capabilities().await {
        Ok(caps) => caps,
        Err(e) => {
            writeln!(out, "capabilities: FAILED: {e}")?;
            return Err(format!("the EPR's CapabilityStatement could not be read: {e}").into());
        }
    };
    for line in summary(&caps) {
        // What the EPR says is printed without control characters (no escape sequences reach
        // the operator's terminal).
        let line: String = line.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        writeln!(out, "{line}")?;
    }
    if caps.get("fhirVersion").and_then(Value::as_str).is_some_and(|v| !v.starts_with("4.0")) {
        writeln!(out, "version: FAILED: Wardline speaks FHIR R4 (4.0.x)")?;
        return Err("the EPR does not speak FHIR R4".into());
    }
    match client.get("Patient", &[("_id", CONNECTION_TEST_ID.to_owned()), ("_count", "1".to_owned())]).await {
        Ok(bundle) => {
            let found = bundle.get("entry").and_then(Value::as_array).map_or(0, Vec::len);
            if found > 0 {
                // A search for an id nobody has found someone: the EPR ignores search
                // parameters, and would answer any search with the wrong patients.
                writeln!(out, "search: FAILED: a search for nobody found {found} patient(s)")?;
                return Err("the EPR ignores search parameters: Wardline cannot search it safely".into());
            }
            writeln!(out, "credentials: OK (a patient search was answered, finding nobody, as it should)")?;
            Ok(())
        }
        Err(e) => {
            writeln!(out, "credentials: FAILED: {e}")?;
            Err(format!("the EPR did not answer a patient search: {e}").into())
        }
    }
}

/// What a CapabilityStatement says of what Wardline uses, one line each: the FHIR version and
/// software, then each resource Wardline uses with its interactions and search parameters (and
/// those Wardline uses that it lacks), or that it is not supported.
fn summary(caps: &Value) -> Vec<String> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("?").to_owned();
    let software = match (caps.pointer("/software/name"), caps.pointer("/software/version")) {
        (None, _) => "?".to_owned(),
        (name, None) => text(name),
        (name, version) => format!("{} {}", text(name), text(version)),
    };
    let mut lines = vec![format!("FHIR version: {}", text(caps.get("fhirVersion"))), format!("software: {software}")];
    let resources: Vec<&Value> = caps
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("mode").and_then(Value::as_str).is_none_or(|m| m == "server"))
        .filter_map(|r| r.get("resource").and_then(Value::as_array))
        .flatten()
        .collect();
    for (kind, needed) in USED {
        let Some(r) = resources.iter().find(|r| r.get("type").and_then(Value::as_str) == Some(kind)) else {
            lines.push(format!("{kind}: not supported"));
            continue;
        };
        let codes = |field: &str, key: &str| -> Vec<String> {
            r.get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i.get(key).and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        let interactions = codes("interaction", "code");
        let params = codes("searchParam", "name");
        let mut line = format!("{kind}: interactions {}; search {}", list(&interactions), list(&params));
        let missing: Vec<&str> = needed.iter().copied().filter(|p| !params.iter().any(|x| x == p)).collect();
        if !missing.is_empty() {
            line.push_str(&format!(" (Wardline also uses: {})", missing.join(", ")));
        }
        lines.push(line);
    }
    lines
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_summary_says_what_is_supported_and_what_wardline_lacks() {
        let caps = json!({
            "resourceType": "CapabilityStatement", "fhirVersion": "4.0.1",
            "software": {"name": "Test EPR", "version": "2.1"},
            "rest": [{"mode": "server", "resource": [
                {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": "identifier"}, {"name": "family"}, {"name": "birthdate"}]},
                {"type": "Encounter", "interaction": [{"code": "search-type"}],
                 "searchParam": [{"name": "subject"}, {"name": "status"}]},
                {"type": "Location", "interaction": [{"code": "read"}]}
            ]}]
        });
        assert_eq!(
            summary(&caps),
            vec![
                "FHIR version: 4.0.1",
                "software: Test EPR 2.1",
                "Patient: interactions read, search-type; search identifier, family, birthdate (Wardline also uses: _id, given)",
                "Encounter: interactions search-type; search subject, status",
                "Location: interactions read; search none",
                "Communication: not supported",
                "DocumentReference: not supported",
            ]
        );
        assert_eq!(summary(&json!({}))[..2], ["FHIR version: ?".to_owned(), "software: ?".to_owned()]);
    }
}
