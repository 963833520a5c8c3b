//! The rota on the real binary: an administrator imports a rota over the administration API,
//! the server's own task applies a shift already under way within moments (a shift that has
//! ended is never applied), staff see the holders and the next 24 hours of the rota, a bad rota
//! is refused by line with nothing imported, the same rota again changes nothing, and the
//! command line imports an iCalendar rota (applying what is due at once) and shows the rota. The real server's clock cannot be moved, so the shifts are
//! placed around the present.

use std::time::Duration;

use serde_json::{Value, json};
use wardline_types::{Clock, SystemClock, Timestamp};

use crate::admin::admin;
use crate::harness::{Client, PASSWORD, Server, cli};

const HOUR: u64 = 3_600_000;

fn hours_from_now(now: Timestamp, hours: i64) -> String {
    let delta = hours.unsigned_abs() * HOUR;
    let t = if hours < 0 { Timestamp(now.0 - delta) } else { Timestamp(now.0 + delta) };
    t.to_rfc3339()
}

async fn staff(s: &Server, name: &str, title: &str) -> Client {
    let (ok, out, err) = cli(
        &s.data_dir,
        &["user", "add", name, "--display-name", &format!("Dr {name}"), "--job-title", title],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}{err}");
    s.login(name, PASSWORD).await
}

async fn post_rota(c: &Client, format: &str, content: String) -> (u16, Value) {
    c.post("/_wardline/admin/v1/rota", json!({"format": format, "content": content})).await
}

fn holders(role: &Value) -> Vec<String> {
    role["holders"].as_array().unwrap().iter().map(|h| h["user_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_imported_rota_is_applied_by_the_server_and_shown_to_staff() {
    let s = Server::start();
    let boss = admin(&s).await;
    staff(&s, "reg", "Specialty Registrar").await;
    staff(&s, "raj", "Specialty Registrar").await;
    let nia = staff(&s, "nia", "Staff Nurse").await;
    let role = json!({
        "role_id": "med-reg",
        "name": "Medical Registrar On-call",
        "eligibility": {"job_titles": ["Specialty Registrar"]},
    });
    let (st, made) = boss.post("/_wardline/admin/v1/roles", role).await;
    assert_eq!(st, 201, "{made}");

    // Whole seconds, as iCalendar writes them.
    let now = Timestamp(SystemClock.now().0 / 1000 * 1000);
    let at = |h: i64| hours_from_now(now, h);
    // A bad row: nothing is imported, and the answer names its line.
    let bad = format!("role,username,start,end\nmed-reg,reg,{},{}\nmed-reg,nia,{},{}\n", at(-1), at(8), at(8), at(16));
    let (st, refused) = post_rota(&boss, "csv", bad).await;
    assert_eq!((st, refused["bad_rows"][0]["line"].as_u64()), (400, Some(3)), "{refused}");
    let (st, refused) = post_rota(&nia, "csv", "role,username,start,end\n".into()).await;
    assert_eq!(st, 403, "only administrators import a rota: {refused}");

    // Reg's shift is under way; Raj's night has ended (never applied); Raj's next is ahead.
    let csv = format!(
        "role,username,start,end,note\nmed-reg,reg,{},{},day\nmed-reg,raj,{},{},last night\nmed-reg,raj,{},{},night\n",
        at(-1),
        at(8),
        at(-14),
        at(-2),
        at(8),
        at(20)
    );
    let (st, report) = post_rota(&boss, "csv", csv.clone()).await;
    let (st2, unknown) = post_rota(&boss, "xlsx", String::new()).await;
    assert_eq!(st2, 400, "{unknown}");
    assert_eq!((st, report["created"].as_u64()), (200, Some(3)), "{report}");

    // The server applies the shift under way by itself.
    let mut seen = Vec::new();
    for _ in 0..300 {
        let (st, r) = nia.get("/_wardline/client/v1/roles/med-reg").await;
        assert_eq!(st, 200, "{r}");
        seen = holders(&r);
        if !seen.is_empty() {
            assert_eq!(r["holders"][0]["how"], "rota", "{r}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["@reg:localhost"], "the shift under way started; the one that ended did not");

    // Staff see the next 24 hours of the rota.
    let (st, rota) = nia.get("/_wardline/client/v1/roles/med-reg/rota?hours=24").await;
    assert_eq!(st, 200, "{rota}");
    let who: Vec<(&str, bool)> = rota["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["user_id"].as_str().unwrap(), x["started"].as_bool().unwrap()))
        .collect();
    assert_eq!(who, [("@reg:localhost", true), ("@raj:localhost", false)], "{rota}");
    let (st, _) = nia.get("/_wardline/client/v1/roles/med-reg/rota?hours=0").await;
    assert_eq!(st, 400);

    // The same rota again: nothing changes.
    let (st, again) = post_rota(&boss, "csv", csv).await;
    assert_eq!((st, again["created"].as_u64(), again["unchanged"].as_u64()), (200, Some(0), Some(3)), "{again}");

    // The command line imports an iCalendar file and applies what is due at once.
    let (st, _) = boss
        .post(
            "/_wardline/admin/v1/roles",
            json!({"role_id": "night-reg", "name": "Night Registrar", "eligibility": {"job_titles": ["Specialty Registrar"]}}),
        )
        .await;
    assert_eq!(st, 201);
    let ical_at = |h: i64| at(h).replace(['-', ':'], "").replace(".000", "");
    let ics = s.data_dir.join("nights.ics");
    let event = |user: &str, from: i64, to: i64| {
        format!(
            "BEGIN:VEVENT\nX-WARDLINE-ROLE:night-reg\nX-WARDLINE-USER:{user}\nDTSTART:{}\nDTEND:{}\nEND:VEVENT\n",
            ical_at(from),
            ical_at(to)
        )
    };
    std::fs::write(&ics, format!("BEGIN:VCALENDAR\n{}END:VCALENDAR\n", event("nia", -1, 4))).unwrap();
    let (ok, out, err) = cli(&s.data_dir, &["role", "rota", "import", ics.to_str().unwrap()], None);
    assert!(!ok && err.contains("line 2") && err.contains("may not hold"), "{out}{err}");
    std::fs::write(&ics, format!("BEGIN:VCALENDAR\n{}END:VCALENDAR\n", event("raj", -1, 4))).unwrap();
    let (ok, out, err) = cli(&s.data_dir, &["role", "rota", "import", ics.to_str().unwrap()], None);
    assert!(ok && out.contains("1 created") && out.contains("1 change(s)"), "{out}{err}");
    let (_, night) = nia.get("/_wardline/client/v1/roles/night-reg").await;
    assert_eq!(holders(&night), ["@raj:localhost"], "{night}");

    let (ok, out, err) = cli(&s.data_dir, &["role", "rota", "show", "med-reg"], None);
    assert!(ok && out.contains("@reg:localhost") && out.contains("on shift"), "{out}{err}");
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    assert!(out.contains("rota-import format=csv shifts=3"), "every import is audited");
    assert!(out.contains("role=med-reg reason=rota to=@reg:localhost"), "the server's change is audited");
}
