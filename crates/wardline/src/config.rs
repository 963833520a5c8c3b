//! Loading the configuration in layers: defaults, then a TOML file, then `WARDLINE_*`
//! environment variables (`__` between nested names), then command-line flags.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use wardline_service::Config;

/// Environment variables that are not settings.
const NOT_SETTINGS: &[&str] =
    &["WARDLINE_CONFIG", "WARDLINE_LOG", "WARDLINE_BIN", crate::test_clock::VARIABLE, crate::test_hooks::VARIABLE];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path} is not valid TOML: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// A setting has the wrong type or is unknown.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Flags that override the other layers.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--server-name`.
    pub server_name: Option<String>,
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Parses an environment value as a TOML scalar (number, boolean) or array
/// (`["10.0.0.0/8", "192.0.2.7/32"]`), or else as a string.
fn env_value(raw: &str) -> Value {
    let parsed: Option<toml::Value> =
        toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v"));
    match parsed {
        Some(
            v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) | toml::Value::Array(_)),
        ) => serde_json::to_value(v).unwrap_or_else(|_| Value::String(raw.to_owned())),
        _ => Value::String(raw.to_owned()),
    }
}

/// Applies `WARDLINE_*` variables; returns warnings for variables that name no setting.
fn apply_env(config: &mut Value, vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("WARDLINE_") else { continue };
        if NOT_SETTINGS.contains(&name.as_str()) {
            continue;
        }
        let pointer: String = rest.split("__").map(|p| format!("/{}", p.to_lowercase())).collect();
        match config.pointer_mut(&pointer) {
            Some(target) if !target.is_object() && !rest.split("__").any(str::is_empty) => *target = env_value(&raw),
            _ => warnings.push(format!("ignoring {name}: there is no such setting")),
        }
    }
    warnings
}

/// The configuration, with what loading it found.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Warnings to print.
    pub warnings: Vec<String>,
    /// Whether a server name was set (file, environment or flag) rather than left to its
    /// default.
    pub server_name_chosen: bool,
}

/// Loads the configuration. Returns it with any warnings to print.
#[cfg(test)]
pub fn load(
    file: Option<&Path>,
    env: impl Iterator<Item = (String, String)>,
    flags: &Overrides,
) -> Result<(Config, Vec<String>), ConfigError> {
    load_layers(file, env, flags).map(|l| (l.config, l.warnings))
}

/// Loads the configuration, layer by layer.
pub fn load_layers(
    file: Option<&Path>,
    env: impl Iterator<Item = (String, String)>,
    flags: &Overrides,
) -> Result<Loaded, ConfigError> {
    let mut value = serde_json::to_value(Config::default()).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    // `public_base_url` defaults to unset; make it addressable from the environment.
    if let Some(obj) = value.as_object_mut() {
        obj.entry("public_base_url").or_insert(Value::Null);
    }
    let mut in_file = false;
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|source| ConfigError::Toml { path: path.to_owned(), source })?;
        in_file = table.contains_key("server_name");
        let json = serde_json::to_value(table).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        merge(&mut value, json);
    }
    let env: Vec<(String, String)> = env.collect();
    let in_env = env.iter().any(|(k, _)| k == "WARDLINE_SERVER_NAME");
    let warnings = apply_env(&mut value, env.into_iter());
    let mut flag_values = Map::new();
    if let Some(d) = &flags.data_dir {
        flag_values.insert("data_dir".into(), Value::String(d.display().to_string()));
    }
    if let Some(l) = &flags.listen {
        flag_values.insert("listen".into(), Value::String(l.clone()));
    }
    if let Some(n) = &flags.server_name {
        flag_values.insert("server_name".into(), Value::String(n.clone()));
    }
    merge(&mut value, Value::Object(flag_values));
    let config: Config = serde_json::from_value(value).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let server_name_chosen = in_file || in_env || flags.server_name.is_some();
    Ok(Loaded { config, warnings, server_name_chosen })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn defaults_alone_work() -> Result<(), ConfigError> {
        let (c, w) = load(None, env(&[]), &Overrides::default())?;
        assert_eq!(c, Config::default());
        assert!(w.is_empty());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8008");
        assert_eq!(c.server_name, "localhost");
        Ok(())
    }

    #[test]
    fn a_server_name_is_chosen_in_any_layer_even_as_localhost() -> Result<(), Box<dyn std::error::Error>> {
        let chosen = |file: Option<&Path>, vars: &[(&str, &str)], flag: Option<&str>| {
            let flags = Overrides { server_name: flag.map(Into::into), ..Overrides::default() };
            load_layers(file, env(vars), &flags).map(|l| l.server_name_chosen)
        };
        let dir = tempfile::tempdir()?;
        let named = dir.path().join("named.toml");
        std::fs::write(&named, "server_name = \"localhost\"\n")?;
        let unnamed = dir.path().join("unnamed.toml");
        std::fs::write(&unnamed, "listen = \"0.0.0.0:8008\"\n")?;
        assert!(!chosen(None, &[], None)?);
        assert!(!chosen(Some(&unnamed), &[("WARDLINE_LISTEN", "0.0.0.0:8008")], None)?);
        assert!(chosen(Some(&named), &[], None)?, "localhost written in the file is a choice");
        assert!(chosen(None, &[("WARDLINE_SERVER_NAME", "chat.example")], None)?);
        assert!(chosen(None, &[], Some("localhost"))?);
        Ok(())
    }

    #[test]
    fn layers_override_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("wardline.toml");
        std::fs::write(
            &file,
            "server_name = \"from-file\"\nlisten = \"127.0.0.1:9000\"\n[rate_limits]\nenabled = true\n[rate_limits.login]\nper_second = 1.5\nburst = 3\n",
        )?;
        let vars = env(&[
            ("WARDLINE_SERVER_NAME", "from-env"),
            ("WARDLINE_RATE_LIMITS__ENABLED", "false"),
            ("WARDLINE_SYNC__MAX_TIMEOUT_MS", "5000"),
            ("WARDLINE_PUBLIC_BASE_URL", "https://chat.example.nhs.uk"),
            ("WARDLINE_RATE_LIMTIS__ENABLED", "false"),
            ("WARDLINE_LOG", "debug"),
        ]);
        let flags = Overrides { server_name: Some("from-flag".into()), ..Overrides::default() };
        let (c, warnings) = load(Some(&file), vars, &flags)?;
        assert_eq!(c.server_name, "from-flag");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert!(!c.rate_limits.enabled, "env beats file");
        assert!((c.rate_limits.login.per_second - 1.5).abs() < f64::EPSILON);
        assert_eq!(c.rate_limits.login.burst, 3);
        assert_eq!(c.sync.max_timeout_ms, 5000);
        assert_eq!(c.public_base_url.as_deref(), Some("https://chat.example.nhs.uk"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("WARDLINE_RATE_LIMTIS__ENABLED"));
        Ok(())
    }

    #[test]
    fn lists_and_proxy_settings_come_from_the_environment() -> Result<(), ConfigError> {
        let vars = env(&[
            ("WARDLINE_TRUSTED_PROXIES", r#"["10.0.0.0/8", "192.0.2.7/32"]"#),
            ("WARDLINE_FORWARDED_HEADER", "forwarded"),
            ("WARDLINE_HTTP__HEADER_READ_TIMEOUT_SECS", "5"),
            ("WARDLINE_PRESENCE__IDLE_AFTER_SECS", "60"),
        ]);
        let (c, w) = load(None, vars, &Overrides::default())?;
        assert!(w.is_empty(), "{w:?}");
        let nets: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32"]);
        assert_eq!(c.forwarded_header, wardline_service::config::ForwardedHeader::Forwarded);
        assert_eq!(c.http.header_read_timeout_secs, 5);
        assert_eq!(
            (c.presence.idle_after_secs, c.presence.offline_after_secs),
            (60, 120),
            "one field, the other default"
        );
        let bad = env(&[("WARDLINE_TRUSTED_PROXIES", r#"["not-a-network"]"#)]);
        assert!(matches!(load(None, bad, &Overrides::default()), Err(ConfigError::Invalid(_))));
        Ok(())
    }

    #[test]
    fn push_gateways_come_from_the_environment_as_one_url_or_a_list() -> Result<(), ConfigError> {
        let url = "https://push.example.nhs.uk/_matrix/push/v1/notify";
        let (c, w) = load(None, env(&[("WARDLINE_PUSH__GATEWAY_URLS", url)]), &Overrides::default())?;
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.push.gateway_urls, [url]);
        let list = format!(r#"["{url}", "https://other.example/_matrix/push/v1/notify"]"#);
        let pairs = [("WARDLINE_PUSH__GATEWAY_URLS", list.as_str()), ("WARDLINE_PUSH__MAX_ATTEMPTS", "2")];
        let (c, _) = load(None, env(&pairs), &Overrides::default())?;
        assert_eq!(c.push.gateway_urls.len(), 2);
        assert_eq!(c.push.max_attempts, 2);
        assert!(c.push.webpush_hosts.iter().any(|h| h == "fcm.googleapis.com"), "the default push services");
        Ok(())
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("wardline.toml");
        std::fs::write(&file, "sever_name = \"typo\"\n")?;
        assert!(matches!(load(Some(&file), env(&[]), &Overrides::default()), Err(ConfigError::Invalid(_))));
        Ok(())
    }

    #[test]
    fn readme_documents_every_setting() -> Result<(), Box<dyn std::error::Error>> {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))?;
        let mut value = serde_json::to_value(Config::default())?;
        if let Some(o) = value.as_object_mut() {
            o.entry("public_base_url").or_insert(Value::Null);
        }
        fn keys(prefix: &str, v: &Value, out: &mut Vec<String>) {
            if let Value::Object(m) = v {
                for (k, v) in m {
                    let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    if v.is_object() { keys(&path, v, out) } else { out.push(path) }
                }
            }
        }
        let mut all = Vec::new();
        keys("", &value, &mut all);
        for key in all {
            assert!(readme.contains(&format!("`{key}`")), "README.md does not document `{key}`");
        }
        Ok(())
    }
}
