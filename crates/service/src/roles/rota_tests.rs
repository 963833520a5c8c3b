//! The rota with the manual clock: boundaries change holders, a handover at a boundary, a gap in
//! the rota of a role that must not be empty, a swipe-in that outlasts a rota shift, a restart,
//! and CSV and iCalendar imports good and bad.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ruma::OwnedUserId;
use wardline_types::HolderReason;

use super::rota::{RotaFormat, RotaImportError};
use super::tests::{Night, T0, actor, id, user};
use crate::audit::{By, Operator};
use crate::{Config, Services};

const HOUR: Duration = Duration::from_secs(3600);

fn at(hours: u64) -> String {
    T0.plus(HOUR * u32::try_from(hours).unwrap()).to_rfc3339()
}

fn op() -> Operator {
    Operator { os_user: "root".into(), os_uid: None }
}

async fn holders(n: &Night, role: &str) -> Vec<OwnedUserId> {
    n.s.roles.get(&id(role)).await.unwrap().holders.into_iter().map(|h| h.user_id).collect()
}

impl Night {
    /// `med-reg` (must not be empty) and `ward-reg` (may be), both for registrars.
    async fn with_rota_roles(self) -> Self {
        let op = op();
        self.s.roles.create(By::Operator(&op), Self::definition("med-reg", false)).await.unwrap();
        self.s.roles.create(By::Operator(&op), Self::definition("ward-reg", true)).await.unwrap();
        self
    }

    async fn import(&self, format: RotaFormat, text: &str) -> Result<super::rota::RotaImportReport, RotaImportError> {
        self.s.roles.import_rota(By::Operator(&op()), format, text.as_bytes()).await
    }

    fn advance(&self, hours: u64) {
        self.clock.advance(HOUR * u32::try_from(hours).unwrap());
    }
}

#[tokio::test]
async fn the_rota_hands_over_at_its_boundaries_and_a_gap_keeps_the_last_holder() {
    let n = Night::open().await.with_rota_roles().await;
    let csv = format!(
        "role,username,start,end,note\nmed-reg,reg,{},{},nights\nmed-reg,@raj:localhost,{},{},\n",
        at(1),
        at(9),
        at(9),
        at(17)
    );
    let report = n.import(RotaFormat::Csv, &csv).await.unwrap();
    assert_eq!((report.created, report.removed, report.unchanged), (2, 0, 0));
    assert!(n.s.roles.apply_rota().await.unwrap().changes.is_empty(), "nothing before the first shift");
    assert!(holders(&n, "med-reg").await.is_empty());

    n.advance(1);
    let start = n.s.roles.apply_rota().await.unwrap();
    assert_eq!(start.next_boundary, Some(T0.plus(HOUR * 9)));
    assert_eq!(holders(&n, "med-reg").await, [user("reg")], "the first shift started");
    let role = n.s.roles.get(&id("med-reg")).await.unwrap();
    assert_eq!(role.holders[0].reason, HolderReason::Rota);

    n.advance(8);
    n.s.roles.apply_rota().await.unwrap();
    assert_eq!(holders(&n, "med-reg").await, [user("raj")], "handed over at the boundary, never empty");

    n.advance(8);
    let gap = n.s.roles.apply_rota().await.unwrap();
    assert_eq!(gap.uncovered.len(), 1, "the gap is reported");
    assert_eq!(holders(&n, "med-reg").await, [user("raj")], "a role that must not be empty is not emptied");
    let audit = n.role_user_actions().await;
    assert!(
        audit
            .iter()
            .any(|(d, _)| d.contains("role=med-reg reason=rota to=@reg:localhost") && d.ends_with("via=server")),
        "{audit:?}"
    );
    assert!(audit.iter().any(|(d, _)| d.contains("uncovered")), "{audit:?}");
    assert!(audit.iter().any(|(d, _)| d.starts_with("rota-import format=csv shifts=2")), "{audit:?}");
}

#[tokio::test]
async fn a_colleague_who_swipes_in_during_a_rota_shift_stays_when_it_ends() {
    let n = Night::open().await.with_rota_roles().await;
    let csv = format!("role,username,start,end\nward-reg,reg,{},{}\n", at(1), at(5));
    n.import(RotaFormat::Csv, &csv).await.unwrap();
    n.advance(2);
    n.s.roles.apply_rota().await.unwrap();
    n.advance(1);
    n.s.roles.swipe_in(&actor("raj"), &id("ward-reg"), None).await.unwrap();
    assert_eq!(holders(&n, "ward-reg").await, [user("reg"), user("raj")]);
    n.advance(2);
    let end = n.s.roles.apply_rota().await.unwrap();
    assert_eq!(end.changes.len(), 1);
    assert_eq!(holders(&n, "ward-reg").await, [user("raj")], "the rota removes only whom it added");
}

#[tokio::test]
async fn a_restarted_server_applies_what_fell_due_while_it_was_stopped() {
    let n = Night::open().await.with_rota_roles().await;
    let csv = format!("role,username,start,end\nward-reg,reg,{},{}\nward-reg,raj,{},{}\n", at(1), at(3), at(4), at(8));
    n.import(RotaFormat::Csv, &csv).await.unwrap();
    n.advance(5);
    // A new server on the same store, at 05:00: reg's shift passed unseen, raj's is under way.
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let again = Services::new(config, Arc::clone(&n.store), n.clock.clone()).unwrap();
    tokio::spawn(again.audit.clone().run_writer());
    let applied = again.roles.apply_rota().await.unwrap();
    assert_eq!(applied.changes.len(), 1, "{applied:?}");
    assert_eq!(holders(&n, "ward-reg").await, [user("raj")], "the shift under way started; the one past never did");
    assert!(again.roles.apply_rota().await.unwrap().changes.is_empty(), "and only once");
}

#[tokio::test]
async fn a_bad_csv_rota_is_reported_by_line_and_nothing_is_imported() {
    let n = Night::open().await.with_rota_roles().await;
    let bad = format!(
        "role,username,start,end\n\
         med-reg,reg,{a},{b}\n\
         no-such-role,reg,{a},{b}\n\
         med-reg,ghost,{a},{b}\n\
         med-reg,nia,{a},{b}\n\
         med-reg,raj,{b},{a}\n\
         med-reg,reg,{c},{d}\n\
         med-reg,raj,2027-01-15 09:00,{b}\n",
        a = at(1),
        b = at(9),
        c = at(8),
        d = at(10)
    );
    match n.import(RotaFormat::Csv, &bad).await {
        Err(RotaImportError::BadRows(rows)) => {
            let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{rows:?}");
            assert!(rows[3].reason.contains("ends before it starts"), "{rows:?}");
            assert!(rows[4].reason.contains("overlapping shift of med-reg on line 2"), "{rows:?}");
            assert!(rows[5].reason.contains("RFC 3339"), "{rows:?}");
        }
        other => panic!("expected bad rows, got {other:?}"),
    }
    assert!(n.s.roles.rota(&id("med-reg"), 24).await.unwrap().is_empty(), "nothing imported");
    let good = format!("role,username,start,end\nmed-reg,reg,{},{}\nmed-reg,raj,{},{}\n", at(1), at(9), at(9), at(17));
    n.import(RotaFormat::Csv, &good).await.unwrap();
    let again = n.import(RotaFormat::Csv, &good).await.unwrap();
    assert_eq!((again.created, again.removed, again.unchanged), (0, 0, 2), "re-importing changes nothing");
    let shown = n.s.roles.rota(&id("med-reg"), 12).await.unwrap();
    assert_eq!(shown.len(), 2, "the next 12 hours show both shifts");
    assert!(matches!(n.import(RotaFormat::Csv, "role,who\n").await, Err(RotaImportError::Format(_))));
}

fn ical_time(hours: u64) -> String {
    at(hours).replace(['-', ':'], "").replace(".000", "")
}

#[tokio::test]
async fn an_icalendar_rota_is_imported_and_times_it_cannot_place_are_refused_by_line() {
    let n = Night::open().await.with_rota_roles().await;
    let good = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Rostering//EN\r\n\
         BEGIN:VEVENT\r\nUID:1\r\nX-WARDLINE-ROLE:med-reg\r\nX-WARDLINE-USER:reg\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nSUMMARY:Night\r\n  shift\r\n\
         BEGIN:VALARM\r\nACTION:DISPLAY\r\nSUMMARY:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:2\r\nX-WARDLINE-ROLE:med-reg\r\nX-WARDLINE-USER:@raj:localhost\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        ical_time(1),
        ical_time(9),
        ical_time(9),
        ical_time(17)
    );
    let report = n.import(RotaFormat::Ical, &good).await.unwrap();
    assert_eq!(report.created, 2);
    let shifts = n.s.roles.rota(&id("med-reg"), 24).await.unwrap();
    assert_eq!(shifts[0].shift.note.as_deref(), Some("Night shift"), "folded lines are unfolded");
    assert_eq!(shifts[0].shift.starts_at, T0.plus(HOUR));
    assert_eq!(n.import(RotaFormat::Ical, &good).await.unwrap().unchanged, 2);

    let bad = format!(
        "BEGIN:VCALENDAR\n\
         BEGIN:VEVENT\nX-WARDLINE-ROLE:med-reg\nX-WARDLINE-USER:reg\nDTSTART;TZID=Europe/London:20270116T080000\nDTEND:{e}\nEND:VEVENT\n\
         BEGIN:VEVENT\nX-WARDLINE-ROLE:med-reg\nX-WARDLINE-USER:reg\nDTSTART:20270116T080000\nDTEND:{e}\nEND:VEVENT\n\
         BEGIN:VEVENT\nX-WARDLINE-ROLE:med-reg\nX-WARDLINE-USER:raj\nDTSTART:{s}\nDTEND:{e}\nRRULE:FREQ=DAILY\nEND:VEVENT\n\
         BEGIN:VEVENT\nX-WARDLINE-ROLE:med-reg\nX-WARDLINE-USER:raj\nDTSTART:{s}\nDTEND:{e}\nEND:VEVENT\n\
         END:VCALENDAR\n",
        s = ical_time(20),
        e = ical_time(30)
    );
    match n.import(RotaFormat::Ical, &bad).await {
        Err(RotaImportError::BadRows(rows)) => {
            let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [2, 8, 14], "{rows:?}");
            assert!(rows[0].reason.contains("TZID"), "{rows:?}");
            assert!(rows[1].reason.contains("floating"), "{rows:?}");
            assert!(rows[2].reason.contains("RRULE"), "{rows:?}");
        }
        other => panic!("expected bad rows, got {other:?}"),
    }
    assert_eq!(n.s.roles.rota(&id("med-reg"), 48).await.unwrap().len(), 2, "nothing more imported");
    assert!(matches!(n.import(RotaFormat::Ical, "role,username\n").await, Err(RotaImportError::Format(_))));
}
