//! What a hospital IT administrator meets on the first day: commands that never create or
//! upgrade a database behind the server's back, a server name chosen on purpose, and the
//! command line able to do what the admin API does, at once and on the record.

use std::os::unix::fs::MetadataExt;

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Server, cli};

fn login_body(user: &str, password: &str) -> Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})
}

/// The audit records about `user`, as `wardline audit export` writes them.
fn audit_about(s: &Server, user: &str) -> Vec<Value> {
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export", "--user", user], None);
    assert!(ok, "{err}");
    out.lines().map(|l| serde_json::from_str(l).expect("a JSON record")).collect()
}

#[test]
fn only_serve_creates_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("not-the-data-dir");
    for args in [
        &["user", "add", "ada"][..],
        &["user", "list"],
        &["user", "deactivate", "ada"],
        &["room", "list"],
        &["audit", "verify"],
        &["audit", "public-key"],
    ] {
        let (ok, _, err) = cli(&elsewhere, args, Some("a fine long passphrase\n"));
        assert!(!ok, "{args:?} must fail");
        assert!(err.contains("no Wardline database in"), "{args:?}: {err}");
        assert!(err.contains(&elsewhere.display().to_string()), "names where it looked: {err}");
        assert!(!elsewhere.exists(), "{args:?} created {}", elsewhere.display());
    }
    // An existing but empty directory stays empty.
    std::fs::create_dir(&elsewhere).unwrap();
    let (ok, _, _) = cli(&elsewhere, &["user", "add", "ada"], Some("a fine long passphrase\n"));
    assert!(!ok);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = Server::start();
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another Wardline server is running"), "{err}");
    // The first still has its control socket: commands reach it.
    let (ok, out, err) = cli(&s.data_dir, &["user", "unlock", "admin"], None);
    assert!(ok && out.contains("was not locked out"), "{out}{err}");
}

#[test]
fn commands_refuse_a_database_of_another_schema_and_leave_it_as_it_is() {
    let mut s = Server::start();
    assert!(s.terminate());
    let db = s.data_dir.join("wardline.db");
    let version = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0)).unwrap()
    };
    let conn = rusqlite::Connection::open(&db).unwrap();
    let latest = version(&conn);
    // Older: as if this Wardline had just been installed over the previous one.
    conn.execute("DELETE FROM schema_migrations WHERE version = ?1", [latest]).unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["user", "list"], None);
    assert!(!ok);
    assert!(err.contains("start `wardline serve`"), "{err}");
    assert_eq!(version(&conn), latest - 1, "the command did not upgrade the database");
    // Newer: written by a later Wardline.
    conn.execute("INSERT INTO schema_migrations VALUES (?1, 0), (?2, 0)", [latest, latest + 1]).unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["user", "list"], None);
    assert!(!ok);
    assert!(err.contains("newer Wardline"), "{err}");
    assert_eq!(version(&conn), latest + 1);
}

#[test]
fn the_default_server_name_is_refused_beyond_loopback_on_a_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("default server name") && err.contains("--server-name"), "{err}");
    assert!(!data.join("wardline.db").exists(), "nothing was bound to the wrong name");
}

#[tokio::test]
async fn the_first_start_says_which_server_name_the_data_is_bound_to() {
    let s = Server::start();
    assert!(
        s.stdout_lines.iter().any(|l| l.contains("server name \"localhost\"") && l.contains("for good")),
        "{:?}",
        s.stdout_lines
    );
}

#[tokio::test]
async fn account_commands_reach_the_running_server_at_once_and_name_who_ran_them() {
    let s = Server::start();
    let uid = std::fs::metadata(&s.data_dir).unwrap().uid();
    let ada = s.user("ada").await;
    s.user("bea").await;

    // Log out everywhere: her open session ends at once.
    let (ok, out, err) = cli(&s.data_dir, &["user", "logout", "ada"], None);
    assert!(ok, "{out}{err}");
    let (st, _) = ada.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 401, "the session ended when the command returned");

    // Locked out by failed sign-ins, unlocked from the command line (the lockout lives in
    // the running server).
    for _ in 0..10 {
        s.client().post("/_matrix/client/v3/login", login_body("bea", "guess guess guess")).await;
    }
    let (st, _) = s.client().post("/_matrix/client/v3/login", login_body("bea", PASSWORD)).await;
    assert_eq!(st, 429, "locked out");
    let (ok, out, err) = cli(&s.data_dir, &["user", "unlock", "bea"], None);
    assert!(ok && out.contains("no longer locked out"), "{out}{err}");
    s.login("bea", PASSWORD).await;
    let (ok, out, _) = cli(&s.data_dir, &["user", "unlock", "bea"], None);
    assert!(ok && out.contains("was not locked out"), "{out}");

    // A password reset: a one-time password, the old one refused, every session ended.
    let bea = s.login("bea", PASSWORD).await;
    let (ok, out, err) = cli(&s.data_dir, &["user", "reset-password", "@bea:localhost"], None);
    assert!(ok, "{out}{err}");
    let one_time = out.lines().find_map(|l| l.split("next sign-in): ").nth(1)).expect("password printed").trim();
    let (st, _) = bea.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 401);
    let (st, _) = s.client().post("/_matrix/client/v3/login", login_body("bea", PASSWORD)).await;
    assert_eq!(st, 403, "the old password no longer works");
    let again = s.login("bea", one_time).await;
    let (st, b) = again.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!((st, b["org.wardline.password_change_required"].as_bool()), (403, Some(true)));

    // Deactivate, then reactivate.
    assert!(cli(&s.data_dir, &["user", "deactivate", "ada"], None).0);
    let (st, b) = s.client().post("/_matrix/client/v3/login", login_body("ada", PASSWORD)).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_USER_DEACTIVATED")));
    let (ok, out, err) = cli(&s.data_dir, &["user", "reactivate", "ada"], None);
    assert!(ok, "{out}{err}");
    s.login("ada", PASSWORD).await;

    // Unknown accounts are named.
    let (ok, _, err) = cli(&s.data_dir, &["user", "unlock", "nobody"], None);
    assert!(!ok && err.contains("no such user"), "{err}");

    // Every change is on the record with the operating-system account that made it.
    let whats: Vec<String> = audit_about(&s, "@bea:localhost")
        .iter()
        .chain(audit_about(&s, "@ada:localhost").iter())
        .filter_map(|r| r["detail"].as_str().map(ToOwned::to_owned))
        .filter(|d| d.contains("via=cli"))
        .collect();
    for what in [
        "unlock via=cli",
        "unlock not-locked via=cli",
        "reset-password via=cli",
        "deactivate via=cli",
        "reactivate via=cli",
        "devices=",
    ] {
        let found = whats.iter().find(|d| d.starts_with(what));
        let found = found.unwrap_or_else(|| panic!("no record of {what:?} in {whats:?}"));
        assert!(found.contains(&format!("os_uid={uid}")), "{found}");
        assert!(found.contains("os_user="), "{found}");
    }
}

#[tokio::test]
async fn account_commands_work_without_a_server_too() {
    let mut s = Server::start();
    s.user("ada").await;
    assert!(s.terminate());
    let (ok, out, err) = cli(&s.data_dir, &["user", "reset-password", "ada"], None);
    assert!(ok && out.contains("one-time password"), "{out}{err}");
    let (ok, out, _) = cli(&s.data_dir, &["user", "unlock", "ada"], None);
    assert!(ok && out.contains("no server is running"), "{out}");
    let (ok, _, err) = cli(&s.data_dir, &["user", "add", "cat", "--one-time-password"], None);
    assert!(ok, "{err}");
    let (ok, out, _) = cli(&s.data_dir, &["user", "list"], None);
    assert!(ok && out.contains("@cat:localhost"), "{out}");
}

#[tokio::test]
async fn the_account_list_has_a_header_and_what_an_administrator_asks_first() {
    let s = Server::start();
    let (ok, _, err) = cli(
        &s.data_dir,
        &["user", "add", "nurse.jones", "--display-name", "Nurse Jones", "--department", "Ward 7"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{err}");
    s.login("nurse.jones", PASSWORD).await;
    let (ok, out, _) = cli(&s.data_dir, &["user", "list"], None);
    assert!(ok);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("USER\tNAME\tJOB TITLE\tDEPARTMENT\tSTATUS\tROLE\tSECOND FACTOR\tLAST SIGN-IN"),
        "{out}"
    );
    let jones: Vec<&str> = out.lines().find(|l| l.starts_with("@nurse.jones:")).expect("listed").split('\t').collect();
    assert_eq!(jones[3], "Ward 7");
    assert_eq!((jones[4], jones[5], jones[6]), ("active", "staff", "none"));
    assert!(jones[7].starts_with("20"), "last sign-in is a time: {jones:?}");
    let admin: Vec<&str> = out.lines().find(|l| l.starts_with("@admin:")).expect("listed").split('\t').collect();
    assert_eq!((admin[5], admin[6], admin[7]), ("admin", "required, not set up", "never"));
    let (_, json, _) = cli(&s.data_dir, &["user", "list", "--json"], None);
    let jones: Value = json
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|a| a["user_id"] == "@nurse.jones:localhost")
        .unwrap();
    assert_eq!(jones["second_factor"], false);
    assert!(jones["last_sign_in"].is_u64(), "{jones}");
    let admin: Value = json
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|a| a["user_id"] == "@admin:localhost")
        .unwrap();
    assert!(admin["last_sign_in"].is_null() && admin.get("last_sign_in").is_some(), "{admin}");
    // Each listing (every colleague's contact details) is on the record.
    let (_, trail, _) = cli(&s.data_dir, &["audit", "export"], None);
    let listings = trail.lines().filter(|l| l.contains("user list accounts=") && l.contains("via=cli")).count();
    assert_eq!(listings, 2, "{trail}");
}

#[tokio::test]
async fn rooms_and_their_members_are_listed_on_the_record() {
    let s = Server::start();
    let ada = s.user("ada").await;
    s.user("bea").await;
    let (st, b) = ada
        .post("/_matrix/client/v3/createRoom", json!({"name": "Ward 7 handover", "invite": ["@bea:localhost"]}))
        .await;
    assert_eq!(st, 200, "{b}");
    let room = b["room_id"].as_str().unwrap().to_owned();
    let (ok, out, err) = cli(&s.data_dir, &["room", "list"], None);
    assert!(ok, "{err}");
    assert!(out.starts_with("ROOM\tNAME\tJOINED\tINVITED\tCREATOR\n"), "{out}");
    assert!(out.contains(&format!("{room}\tWard 7 handover\t1\t1\t@ada:localhost")), "{out}");
    let (ok, out, err) = cli(&s.data_dir, &["room", "members", &room], None);
    assert!(ok, "{err}");
    assert!(out.contains("@ada:localhost\tjoin\t100") && out.contains("@bea:localhost\tinvite\t0"), "{out}");
    let (ok, _, err) = cli(&s.data_dir, &["room", "members", "!nope:localhost"], None);
    assert!(!ok && err.contains("!nope:localhost: no such room"), "{err}");
    // Both listings are on the record, with who ran them.
    let (_, trail, _) = cli(&s.data_dir, &["audit", "export"], None);
    let exports: Vec<Value> =
        trail.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|r| r["action"] == "export").collect();
    assert!(
        exports.iter().any(|r| r["detail"].as_str().unwrap().starts_with("room list rooms=1 via=cli")),
        "{exports:?}"
    );
    assert!(
        exports
            .iter()
            .any(|r| r["room_id"] == room.as_str() && r["detail"].as_str().unwrap().starts_with("room members")),
        "{exports:?}"
    );
}
