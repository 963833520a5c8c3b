//! Roles on the real binary: created by the administration API and the command line, held by
//! the eligible only, handed over rather than left empty, visible to staff with their history,
//! found in the directory, audited; and what a member of staff trying to get round it meets.

use std::path::Path;

use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{Client, PASSWORD, Server, cli, enc};

const A: &str = "/_wardline/admin/v1/roles";
const R: &str = "/_wardline/client/v1/roles";

/// Adds a member of staff with a job title; returns them signed in.
async fn staff(s: &Server, name: &str, title: &str) -> Client {
    let (ok, out, err) = cli(
        &s.data_dir,
        &[
            "user",
            "add",
            name,
            "--display-name",
            &format!("Dr {name}"),
            "--job-title",
            title,
            "--phone",
            "+44 7700 900123",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}{err}");
    s.login(name, PASSWORD).await
}

fn audit_records(data_dir: &Path) -> Vec<Value> {
    let (ok, out, err) = cli(data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn holders(role: &Value) -> Vec<&str> {
    role["holders"].as_array().unwrap().iter().map(|h| h["user_id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn roles_are_held_by_the_eligible_handed_over_not_left_empty_found_and_audited() {
    let s = Server::start();
    let boss = admin(&s).await;
    let reg = staff(&s, "reg", "Specialty Registrar").await;
    let raj = staff(&s, "raj", "Specialty Registrar").await;
    let nia = staff(&s, "nia", "Staff Nurse").await;

    // The command line makes switchboard; the administration API the registrar's role.
    let (ok, out, err) =
        cli(&s.data_dir, &["role", "add", "switchboard", "--name", "Switchboard", "--bleep", "0"], None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("@role.switchboard:localhost"), "{out}");
    let definition = json!({
        "role_id": "med-reg",
        "name": "Medical Registrar On-call",
        "department": "Cardiology",
        "site": "North",
        "bleep": "2345",
        "eligibility": {"job_titles": ["Specialty Registrar"]},
        "may_be_empty": false,
        "fallback": "switchboard",
    });
    let (st, made) = boss.post(A, definition.clone()).await;
    assert_eq!(st, 201, "{made}");
    assert_eq!(made["user_id"], "@role.med-reg:localhost");
    let (st, again) = boss.post(A, definition.clone()).await;
    assert_eq!((st, again["errcode"].as_str()), (409, Some("ORG.WARDLINE.ROLE_CONFLICT")));
    let (st, bad) = boss.post(A, json!({"role_id": "Bad Id", "name": "x"})).await;
    assert_eq!((st, bad["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{bad}");
    let (st, bad) = boss.post(A, json!({"role_id": "x", "name": "x", "fallback": "nowhere"})).await;
    assert_eq!((st, bad["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{bad}");

    // A nurse cannot create, edit or set holders of roles, nor swipe into a registrar's role.
    let (st, _) = nia.post(A, json!({"role_id": "mine", "name": "Mine"})).await;
    assert_eq!(st, 403);
    let mut widened = definition.clone();
    widened["eligibility"] = json!({"job_titles": ["Staff Nurse"]});
    let (st, _) = nia.put(&format!("{A}/med-reg"), widened).await;
    assert_eq!(st, 403);
    let (st, _) = nia.put(&format!("{A}/med-reg/holders"), json!({"holders": ["nia"]})).await;
    assert_eq!(st, 403);
    let (st, b) = nia.post(&format!("{R}/med-reg/swipe_in"), json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("ORG.WARDLINE.NOT_ELIGIBLE")), "{b}");

    // The registrar swipes in; nobody else can swipe him out.
    let (st, role) = reg.post(&format!("{R}/med-reg/swipe_in"), json!({"note": "night shift"})).await;
    assert_eq!(st, 200, "{role}");
    assert_eq!(holders(&role), ["@reg:localhost"]);
    let (st, b) = nia.post(&format!("{R}/med-reg/swipe_out"), json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    let (st, b) = raj.post(&format!("{R}/med-reg/handover"), json!({"to": "@raj:localhost"})).await;
    assert_eq!(st, 400, "to oneself: {b}");
    let (st, b) = nia.post(&format!("{R}/med-reg/handover"), json!({"to": "raj"})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "only a holder hands over: {b}");

    // He cannot leave it empty, nor hand it to the nurse; he hands it to Raj.
    let (st, b) = reg.post(&format!("{R}/med-reg/swipe_out"), json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (409, Some("ORG.WARDLINE.SUCCESSOR_REQUIRED")), "{b}");
    let (st, b) = reg.post(&format!("{R}/med-reg/swipe_out"), json!({"successor": "nia"})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("ORG.WARDLINE.NOT_ELIGIBLE")), "{b}");
    let (st, b) = reg.post(&format!("{R}/med-reg/swipe_out"), json!({"successor": "raj", "bogus": 1})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{b}");
    let (st, role) = reg.post(&format!("{R}/med-reg/swipe_out"), json!({"successor": "raj"})).await;
    assert_eq!(st, 200, "{role}");
    assert_eq!(holders(&role), ["@raj:localhost"]);
    assert_eq!(role["holders"][0]["how"], "handover");
    assert_eq!(role["holders"][0]["from"], "@reg:localhost");
    let (st, _) = boss.put(&format!("{A}/med-reg/holders"), json!({"holders": []})).await;
    assert_eq!(st, 409, "not even an administrator leaves it empty");

    // Any member of staff sees the role, who holds it since when, and its history.
    let (st, seen) = nia.get(&format!("{R}/med-reg")).await;
    assert_eq!(st, 200, "{seen}");
    assert_eq!(seen["bleep"], "2345");
    assert!(seen["holders"][0]["since_ts"].as_u64().is_some());
    let history: Vec<(&str, &str)> = seen["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["reason"].as_str().unwrap(), c["to"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(history, [("handover", "@raj:localhost"), ("swipe_in", "@reg:localhost")]);
    assert_eq!(seen["history"][1]["note"], "night shift");
    let (st, listed) = nia.get(&format!("{R}?q={}", enc("med reg"))).await;
    assert_eq!(st, 200);
    assert_eq!(listed["roles"].as_array().unwrap().len(), 1, "{listed}");

    // The directory finds the role by its words, and shows the roles a person holds.
    let search = |c: &Client, term: &str| {
        let body = json!({"search_term": term, "limit": 10});
        let c = c.clone();
        async move { c.post("/_matrix/client/v3/user_directory/search", body).await }
    };
    for term in ["on call cardiology", "med reg", "MEDICAL REGISTRAR"] {
        let (st, found) = search(&nia, term).await;
        assert_eq!(st, 200);
        let first = &found["results"][0];
        assert_eq!(first["user_id"], "@role.med-reg:localhost", "{term}: {found}");
        assert_eq!(first["display_name"], "Medical Registrar On-call");
        assert_eq!(first["org.wardline.role"]["holders"][0]["user_id"], "@raj:localhost");
    }
    let (_, found) = search(&nia, "raj").await;
    let person = found["results"].as_array().unwrap().iter().find(|r| r["user_id"] == "@raj:localhost").unwrap();
    assert_eq!(person["org.wardline.roles"][0]["role_id"], "med-reg", "{person}");
    assert!(person.get("org.wardline.phone").is_none(), "personal numbers stay hidden: {person}");

    // The command line shows the same, and an operator cannot empty it either.
    let (ok, out, _) = cli(&s.data_dir, &["role", "show", "med-reg"], None);
    assert!(ok && out.contains("@raj:localhost since") && out.contains("handover"), "{out}");
    let (ok, _, err) = cli(&s.data_dir, &["role", "holders", "set", "med-reg"], None);
    assert!(!ok && err.contains("must not be left empty"), "{err}");
    let (ok, out, err) = cli(&s.data_dir, &["role", "holders", "set", "med-reg", "raj", "reg"], None);
    assert!(ok, "{out}{err}");

    // Every change is in the audit trail, with who did it.
    let mut s = s;
    assert!(s.terminate());
    let records = audit_records(&s.data_dir);
    let detail = |r: &Value| r["detail"].as_str().unwrap_or("").to_owned();
    let has = |action: &str, actor: Option<&str>, text: &str| {
        records
            .iter()
            .any(|r| r["action"] == action && actor.is_none_or(|a| r["actor"] == a) && detail(r).contains(text))
    };
    assert!(has("admin", None, "role-create role=switchboard via=cli"));
    assert!(has("admin", Some("@boss:localhost"), "role-create role=med-reg"));
    assert!(has("role.holders", Some("@reg:localhost"), "role=med-reg reason=swipe_in to=@reg:localhost"));
    assert!(has("role.holders", Some("@reg:localhost"), "reason=handover from=@reg:localhost to=@raj:localhost"));
    assert!(has("role.holders", None, "reason=admin to=@reg:localhost via=cli"));
    assert!(
        records.iter().any(|r| r["action"] == "request.refused"
            && r["actor"] == "@nia:localhost"
            && detail(r).contains("may not hold")),
        "an ineligible swipe in is recorded as refused"
    );
}

#[tokio::test]
async fn usernames_starting_role_are_reserved() {
    let s = Server::start();
    let (ok, _, err) = cli(&s.data_dir, &["user", "add", "role.med-reg", "--one-time-password"], None);
    assert!(!ok && err.contains("reserved for roles"), "{err}");
    let boss = admin(&s).await;
    let (st, b) = boss.post("/_wardline/admin/v1/users", json!({"username": "role.switchboard"})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_USERNAME")), "{b}");
    let file = s.data_dir.join("staff.csv");
    std::fs::write(&file, "username,display_name\nnurse.jones,Nurse Jones\nrole.x,Impostor\n").unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["user", "import", file.to_str().unwrap()], None);
    assert!(!ok && err.contains("line 3") && err.contains("reserved"), "{err}");
}

#[tokio::test]
async fn a_role_import_with_bad_rows_reports_their_lines_and_imports_nothing() {
    let s = Server::start();
    staff(&s, "reg", "Specialty Registrar").await;
    let bad = s.data_dir.join("bad.csv");
    std::fs::write(
        &bad,
        "id,name,may_be_empty,fallback,eligible_users\n\
         switchboard,Switchboard,yes,,\n\
         ward 7,Ward 7 Nurse in Charge,no,,\n\
         med-reg,Medical Registrar On-call,perhaps,switchboard,reg\n\
         arrest,Cardiac Arrest Team,yes,nowhere,@ghost:localhost\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["role", "import", bad.to_str().unwrap()], None);
    assert!(!ok, "{err}");
    for line in ["line 3:", "line 4:", "line 5:", "nothing was imported"] {
        assert!(err.contains(line), "{line}: {err}");
    }
    assert!(!err.contains("line 2:"), "{err}");
    let (ok, out, _) = cli(&s.data_dir, &["role", "list", "--json"], None);
    assert!(ok && out.trim().is_empty(), "nothing imported: {out}");

    let good = s.data_dir.join("good.csv");
    std::fs::write(
        &good,
        "id,name,department,may_be_empty,fallback,eligible_users,eligible_job_titles\n\
         med-reg,Medical Registrar On-call,Acute Medicine,no,switchboard,reg,Specialty Registrar\n\
         switchboard,Switchboard,,yes,,,\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&s.data_dir, &["role", "import", good.to_str().unwrap()], None);
    assert!(ok && out.contains("2 created, 0 updated, 0 unchanged"), "{out}{err}");
    let (ok, out, err) = cli(&s.data_dir, &["role", "import", good.to_str().unwrap()], None);
    assert!(ok && out.contains("0 created, 0 updated, 2 unchanged"), "{out}{err}");
    let (ok, out, _) = cli(&s.data_dir, &["role", "list"], None);
    assert!(ok && out.contains("med-reg\tMedical Registrar On-call\tAcute Medicine\t-\t-\tno\t-"), "{out}");
    let (ok, out, err) = cli(&s.data_dir, &["role", "update", "med-reg", "--bleep", "4455"], None);
    assert!(ok && out.contains("version 2"), "{out}{err}");
}

#[tokio::test]
async fn a_deactivated_holder_holds_no_role_and_an_uncovered_role_is_named() {
    let s = Server::start();
    let boss = admin(&s).await;
    let reg = staff(&s, "reg", "Specialty Registrar").await;
    staff(&s, "raj", "Specialty Registrar").await;
    for (id, may_be_empty) in [("med-reg", false), ("teaching", true)] {
        let (st, made) = boss
            .post(
                A,
                json!({"role_id": id, "name": format!("Role {id}"), "eligibility": {"job_titles": ["Specialty Registrar"]}, "may_be_empty": may_be_empty}),
            )
            .await;
        assert_eq!(st, 201, "{made}");
        let (st, b) = reg.post(&format!("{R}/{id}/swipe_in"), json!({})).await;
        assert_eq!(st, 200, "{b}");
    }
    // Deactivated by an administrator: he holds nothing any more, and the role that must not be
    // empty is named as uncovered rather than shown as held by someone who cannot act.
    let (st, b) = boss.post("/_wardline/admin/v1/users/@reg:localhost/deactivate", json!({})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["uncovered_roles"], json!([{"role_id": "med-reg", "name": "Role med-reg"}]));
    for id in ["med-reg", "teaching"] {
        let (st, role) = boss.get(&format!("{R}/{id}")).await;
        assert_eq!(st, 200, "{role}");
        assert!(holders(&role).is_empty(), "{role}");
        assert_eq!(role["history"][0]["reason"], "deactivated", "{role}");
    }
    let released = audit_records(&s.data_dir)
        .into_iter()
        .filter(|r| r["action"] == "role.holders" && r["detail"].as_str().unwrap().contains("reason=deactivated"))
        .count();
    assert_eq!(released, 2, "each release is on the record");
    // From the command line too: the sole holder's deactivation warns that the role is uncovered.
    let raj = s.login("raj", PASSWORD).await;
    let (st, b) = raj.post(&format!("{R}/med-reg/swipe_in"), json!({})).await;
    assert_eq!(st, 200, "{b}");
    let (ok, out, err) = cli(&s.data_dir, &["user", "deactivate", "raj"], None);
    assert!(ok, "{err}");
    assert!(out.contains("nobody holds Role med-reg"), "{out}");
}

#[tokio::test]
async fn nobody_takes_a_roles_name_as_their_own() {
    let s = Server::start();
    let boss = admin(&s).await;
    let nia = staff(&s, "nia", "Staff Nurse").await;
    let (st, made) = boss.post(A, json!({"role_id": "med-reg", "name": "Medical Registrar On-call"})).await;
    assert_eq!(st, 201, "{made}");
    let url = format!("/_matrix/client/v3/profile/{}/displayname", enc(&nia.user_id));
    let (st, b) = nia.put(&url, json!({"displayname": "  medical registrar on-call "})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");
    let (st, b) = nia.put(&url, json!({"displayname": "Nia, Staff Nurse"})).await;
    assert_eq!(st, 200, "{b}");
}
