//! Accounts from the command line: add, bulk import, list; and the directory.

use serde_json::json;

use crate::harness::{Client, PASSWORD, Server, cli};

#[tokio::test]
async fn csv_import_validates_everything_first() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "username,display_name,password,job_title,department,email,phone\n\
         nurse.jones,Staff Nurse Jones,,Staff Nurse,Ward 7,jones@hospital.example,+44 7700 900001\n\
         Bad Name,Someone,,,,,\n\
         dr.shah,,,,,,\n\
         dr.lee,Dr Lee,short,,,,\n\
         nurse.jones,Duplicate,,,,,\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["user", "import", bad.to_str().unwrap()], None);
    assert!(!ok);
    for line in ["line 3:", "line 4:", "line 5:", "line 6:"] {
        assert!(err.contains(line), "{line} missing from {err}");
    }
    assert!(!err.contains("line 2:"), "{err}");
    let (_, list, _) = cli(&s.data_dir, &["user", "list"], None);
    assert!(!list.contains("nurse.jones"), "nothing imported: {list}");

    let good = dir.path().join("staff.csv");
    std::fs::write(
        &good,
        "username,display_name,job_title,department,phone\n\
         nurse.jones,Staff Nurse Jones,Staff Nurse,Ward 7,+44 7700 900001\n\
         dr.shah,Dr A. Shah,Medical Registrar,Cardiology,+44 7700 900002\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&s.data_dir, &["user", "import", good.to_str().unwrap()], None);
    assert!(ok, "{out} {err}");
    assert!(out.contains("2 created, 0 updated"), "{out}");
    let passwords = std::fs::read_to_string(dir.path().join("staff.csv.passwords.csv")).unwrap();
    let shah_pw = passwords.lines().find(|l| l.starts_with("dr.shah,")).unwrap().split(',').nth(1).unwrap().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("staff.csv.passwords.csv")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "password file is private");
    }
    // Re-import updates, never duplicates.
    std::fs::write(&good, "username,display_name,job_title\ndr.shah,Dr A. Shah,Consultant\n").unwrap();
    let (ok, out, _) = cli(&s.data_dir, &["user", "import", good.to_str().unwrap()], None);
    assert!(ok);
    assert!(out.contains("0 created, 1 updated"), "{out}");
    let (_, list, _) = cli(&s.data_dir, &["user", "list", "--json"], None);
    let shah: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|a: &serde_json::Value| a["user_id"] == "@dr.shah:localhost")
        .collect();
    assert_eq!(shah.len(), 1);
    assert_eq!(shah[0]["job_title"], "Consultant");
    assert_eq!(shah[0]["department"], "Cardiology", "unspecified columns are kept");
    assert_eq!(shah[0]["must_change_password"], true);
    // The one-time password still works and must be changed first.
    let c = s.login("dr.shah", &shah_pw).await;
    let (st, _) = c.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn directory_shows_colleagues_not_their_phone_numbers() {
    let s = Server::start();
    let a = s.user("ada").await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.csv");
    std::fs::write(&f, "username,display_name,job_title,department,phone,email\nnurse.jones,Staff Nurse Jones,Staff Nurse,Ward 7,+44 7700 900001,j@h.example\n").unwrap();
    assert!(cli(&s.data_dir, &["user", "import", f.to_str().unwrap()], None).0);
    let (st, body) = a.post("/_matrix/client/v3/user_directory/search", json!({"search_term": "ward 7"})).await;
    assert_eq!(st, 200);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["user_id"], "@nurse.jones:localhost");
    assert_eq!(results[0]["org.wardline.job_title"], "Staff Nurse");
    let text = body.to_string();
    assert!(!text.contains("7700") && !text.contains("j@h.example"), "contact details hidden: {text}");
    let (_, body) =
        a.post("/_matrix/client/v3/user_directory/search", json!({"search_term": "staff", "limit": 1})).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    // Profiles.
    let (st, _) =
        a.put("/_matrix/client/v3/profile/@ada:localhost/displayname", json!({"displayname": "Dr Ada Lovelace"})).await;
    assert_eq!(st, 200);
    let (_, p) = a.get("/_matrix/client/v3/profile/@ada:localhost").await;
    assert_eq!(p["displayname"], "Dr Ada Lovelace");
    let (st, _) =
        a.put("/_matrix/client/v3/profile/@nurse.jones:localhost/displayname", json!({"displayname": "x"})).await;
    assert_eq!(st, 403);
    let (st, _) = a.get("/_matrix/client/v3/profile/@nobody:localhost").await;
    assert_eq!(st, 404);
    let (st, rules) = a.get("/_matrix/client/v3/pushrules/").await;
    assert_eq!(st, 200);
    assert!(rules["global"]["override"].is_array());
}

#[tokio::test]
async fn user_add_refuses_a_password_flag_and_weak_passwords() {
    let s = Server::start();
    let (ok, _, err) = cli(&s.data_dir, &["user", "add", "zed", "--password", "x"], None);
    assert!(!ok && err.contains("--password"), "{err}");
    let (ok, _, err) = cli(&s.data_dir, &["user", "add", "zed"], Some("zed-zed-zed-zed\n"));
    assert!(!ok && err.contains("username"), "{err}");
    let (ok, out, _) = cli(&s.data_dir, &["user", "add", "zed", "--one-time-password", "--admin"], None);
    assert!(ok);
    assert!(out.contains("one-time password"));
    let (ok, _, err) = cli(&s.data_dir, &["user", "add", "zed"], Some("another fine passphrase\n"));
    assert!(!ok && err.contains("taken"), "{err}");
}

#[tokio::test]
async fn a_deactivated_colleague_is_told_why_and_nobody_else_learns_anything() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let (ok, out, err) = cli(&s.data_dir, &["user", "deactivate", "ada"], None);
    assert!(ok, "{out}{err}");
    // Her open session says why it ended.
    let (st, b) = ada.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, b["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")), "{b}");
    assert_eq!(b["org.wardline.deactivated"], true);
    assert!(b["error"].as_str().unwrap().contains("deactivated"), "{b}");
    // Signing in again with her password: told the account is deactivated.
    let c = s.client();
    let login = |user: &str, password: &str| json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
    let (st, b) = c.post("/_matrix/client/v3/login", login("ada", PASSWORD)).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_USER_DEACTIVATED")), "{b}");
    // Without the password, a deactivated account looks like any wrong guess or unknown name.
    let (st_a, a) = c.post("/_matrix/client/v3/login", login("ada", "a wrong guess of hers")).await;
    let (st_n, n) = c.post("/_matrix/client/v3/login", login("nobody", "a wrong guess of hers")).await;
    assert_eq!((st_a, &a), (st_n, &n));
    assert_eq!(a["errcode"], "M_FORBIDDEN");
    // A token that never existed is just unknown.
    let mut stranger = s.client();
    stranger.token = Some("wl_made_up".into());
    let (st, b) = stranger.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, b.get("org.wardline.deactivated")), (401, None));
    // After a restart (or on another node) the server still knows why her session ended.
    let mut s = s;
    assert!(s.terminate());
    let again = Server::start_in(&s.data_dir, &[]);
    let ada = Client { base: again.base.clone(), ..ada.clone() };
    let (st, b) = ada.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, b["org.wardline.deactivated"].as_bool()), (401, Some(true)), "{b}");
}
