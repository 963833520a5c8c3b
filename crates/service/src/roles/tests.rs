//! The role rules over the real store with the manual clock: eligibility, roles that must not
//! be empty, handover, what an administrator may do, history times, the directory, CSV import
//! and the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedUserId};
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::AuditAction;
use wardline_types::{Eligibility, HolderReason, ManualClock, NewAccount, RoleDefinition, RoleId, Timestamp};

use super::DirectoryEntry;
use super::import::RoleImportError;
use crate::audit::{Actor, By, Operator};
use crate::{Config, ServiceError, Services};

pub(crate) const T0: Timestamp = Timestamp(1_800_000_000_000);

pub(crate) fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

pub(crate) fn actor(name: &str) -> Actor {
    Actor { user_id: user(name), device_id: Some(OwnedDeviceId::from("PC")), ip: None }
}

pub(crate) fn id(s: &str) -> RoleId {
    RoleId::parse(s).unwrap()
}

/// A night on the medical wards: Reg and Raj are registrars, Nia a nurse, Ann the administrator.
pub(crate) struct Night {
    pub(crate) s: Services,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl Night {
    pub(crate) async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
        tokio::spawn(s.audit.clone().run_writer());
        for (name, title) in [
            ("reg", "Specialty Registrar"),
            ("raj", "Specialty Registrar"),
            ("nia", "Staff Nurse"),
            ("ann", "Administrator"),
        ] {
            let account = NewAccount {
                user_id: user(name),
                password_hash: "not a password".into(),
                display_name: Some(format!("Dr {name}")),
                is_admin: name == "ann",
                must_change_password: false,
                job_title: Some(title.into()),
                department: Some("Acute Medicine".into()),
                email: None,
                phone: Some("+44 7700 900123".into()),
            };
            store.create_account(account, T0).await.unwrap();
        }
        Self { s, clock, store, _dir: dir }
    }

    pub(crate) fn definition(role: &str, may_be_empty: bool) -> RoleDefinition {
        RoleDefinition {
            id: id(role),
            name: "Medical Registrar On-call".into(),
            department: Some("Cardiology".into()),
            site: Some("North".into()),
            bleep: Some("2345".into()),
            eligibility: Eligibility { job_titles: vec!["Specialty Registrar".into()], ..Eligibility::default() },
            may_be_empty,
            fallback: None,
        }
    }

    pub(super) async fn role_user_actions(&self) -> Vec<(String, Option<String>)> {
        self.s.audit.flush().await.unwrap();
        let records = self.store.audit_records(1, 1000).await.unwrap();
        records
            .into_iter()
            .filter(|r| matches!(r.record.action, AuditAction::RoleHolders | AuditAction::Admin))
            .map(|r| (r.record.detail.unwrap_or_default(), r.record.target_user))
            .collect()
    }
}

#[tokio::test]
async fn only_the_eligible_swipe_in_and_a_role_that_must_not_be_empty_is_handed_over() {
    let n = Night::open().await;
    let ann = actor("ann");
    n.s.roles.create(By::Staff(&ann), Night::definition("med-reg", false)).await.unwrap();

    let refused = n.s.roles.swipe_in(&actor("nia"), &id("med-reg"), None).await;
    assert!(matches!(refused, Err(ServiceError::NotEligible(_))), "a nurse is not a registrar: {refused:?}");

    let role = n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), Some("night shift".into())).await.unwrap();
    assert_eq!(role.holders.len(), 1);
    assert_eq!((role.holders[0].since, role.holders[0].reason), (T0, HolderReason::SwipeIn));
    assert!(matches!(
        n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await,
        Err(ServiceError::RoleConflict(_))
    ));

    n.clock.advance(Duration::from_secs(12 * 3600));
    let leave = n.s.roles.swipe_out(&actor("reg"), &id("med-reg"), None, None).await;
    assert!(matches!(leave, Err(ServiceError::SuccessorRequired(_))), "{leave:?}");
    let to_nurse = n.s.roles.swipe_out(&actor("reg"), &id("med-reg"), Some(user("nia")), None).await;
    assert!(matches!(to_nurse, Err(ServiceError::NotEligible(_))), "{to_nurse:?}");
    let by_outsider = n.s.roles.handover(&actor("raj"), &id("med-reg"), user("nia"), None).await;
    assert!(matches!(by_outsider, Err(ServiceError::NotEligible(_))), "ineligible successor first: {by_outsider:?}");
    let not_holder = n.s.roles.handover(&actor("raj"), &id("med-reg"), user("reg"), None).await;
    assert!(matches!(not_holder, Err(ServiceError::RoleConflict(_) | ServiceError::Forbidden(_))), "{not_holder:?}");
    let raj_swipes_reg_out = n.s.roles.swipe_out(&actor("raj"), &id("med-reg"), None, None).await;
    assert!(
        matches!(raj_swipes_reg_out, Err(ServiceError::Forbidden(_))),
        "only a holder leaves: {raj_swipes_reg_out:?}"
    );

    let role = n.s.roles.swipe_out(&actor("reg"), &id("med-reg"), Some(user("raj")), None).await.unwrap();
    let later = Timestamp(T0.0 + 12 * 3600 * 1000);
    assert_eq!(role.holders.len(), 1);
    assert_eq!(role.holders[0].user_id, user("raj"));
    assert_eq!((role.holders[0].since, role.holders[0].from.clone()), (later, Some(user("reg"))));
    let notices = n.store.pending_role_notices(10).await.unwrap();
    assert_eq!(notices.len(), 1, "the successor is to be told");
    assert_eq!(notices[0].user_id, user("raj"));

    let history = n.s.roles.history(&id("med-reg"), 10).await.unwrap();
    let seen: Vec<_> = history.iter().map(|c| (c.reason, c.at, c.from.clone(), c.to.clone())).collect();
    assert_eq!(
        seen,
        [
            (HolderReason::Handover, later, Some(user("reg")), Some(user("raj"))),
            (HolderReason::SwipeIn, T0, None, Some(user("reg"))),
        ]
    );
    assert_eq!(history[1].note.as_deref(), Some("night shift"));

    let trail = n.role_user_actions().await;
    assert!(trail.iter().any(|(d, _)| d == "role-create role=med-reg"), "{trail:?}");
    assert!(
        trail
            .iter()
            .any(|(d, t)| d == "role=med-reg reason=swipe_in to=@reg:localhost"
                && t.as_deref() == Some("@reg:localhost"))
    );
    assert!(trail.iter().any(|(d, t)| d == "role=med-reg reason=handover from=@reg:localhost to=@raj:localhost"
        && t.as_deref() == Some("@raj:localhost")));
    assert_eq!(trail.iter().filter(|(d, _)| d.starts_with("role=")).count(), 2, "refusals changed nothing");
}

#[tokio::test]
async fn an_operator_sets_holders_within_the_rules_and_a_role_that_may_be_empty_is_left() {
    let n = Night::open().await;
    let op = Operator { os_user: "root".into(), os_uid: Some(0) };
    n.s.roles.create(By::Operator(&op), Night::definition("arrest-team", true)).await.unwrap();
    let set = n.s.roles.set_holders(By::Operator(&op), &id("arrest-team"), vec![user("reg"), user("nia")], None).await;
    assert!(matches!(set, Err(ServiceError::NotEligible(_))), "the rules bind administrators too: {set:?}");
    let role =
        n.s.roles
            .set_holders(By::Operator(&op), &id("arrest-team"), vec![user("reg"), user("raj")], None)
            .await
            .unwrap();
    assert_eq!(role.holders.len(), 2, "a team");
    let role = n.s.roles.swipe_out(&actor("reg"), &id("arrest-team"), None, None).await.unwrap();
    assert_eq!(role.holders.len(), 1);
    let role = n.s.roles.swipe_out(&actor("raj"), &id("arrest-team"), None, None).await.unwrap();
    assert!(role.holders.is_empty(), "this role may be left empty");
    let trail = n.role_user_actions().await;
    assert!(
        trail.iter().all(|(d, _)| d.ends_with("via=cli os_user=root os_uid=0") || d.contains("swipe_out")),
        "{trail:?}"
    );

    n.s.roles.retire(By::Operator(&op), &id("arrest-team")).await.unwrap();
    assert!(n.s.roles.list(false).await.unwrap().is_empty());
    assert!(matches!(
        n.s.roles.swipe_in(&actor("reg"), &id("arrest-team"), None).await,
        Err(ServiceError::RoleConflict(_))
    ));
}

#[tokio::test]
async fn the_directory_finds_roles_by_their_words_and_shows_who_holds_what() {
    let n = Night::open().await;
    let ann = actor("ann");
    n.s.roles.create(By::Staff(&ann), Night::definition("med-reg", false)).await.unwrap();
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    for term in ["on call cardiology", "med reg", "MEDICAL"] {
        let (found, _) = n.s.roles.search_directory(term, 10).await.unwrap();
        assert!(
            matches!(found.first(), Some(DirectoryEntry::Role(r)) if r.holders[0].user_id == user("reg")),
            "{term}"
        );
    }
    let (found, _) = n.s.roles.search_directory("reg", 10).await.unwrap();
    let person = found.iter().find_map(|e| match e {
        DirectoryEntry::Person(a, held) if a.user_id == user("reg") => Some(held.clone()),
        _ => None,
    });
    assert_eq!(person.unwrap().len(), 1, "Reg's entry names the role he holds");
    assert_eq!(n.s.roles.user_id_of(&id("med-reg")).unwrap().as_str(), "@role.med-reg:localhost");
}

#[tokio::test]
async fn a_csv_import_with_a_bad_row_imports_nothing_and_the_same_file_twice_changes_nothing() {
    let n = Night::open().await;
    let op = Operator { os_user: "root".into(), os_uid: None };
    let bad = "id,name,may_be_empty,fallback,eligible_users\n\
               switchboard,Switchboard,yes,,\n\
               Bad Id,Nobody,yes,,\n\
               med-reg,Medical Registrar On-call,maybe,switchboard,reg\n\
               ward7,Ward 7 NIC,no,nowhere,@ghost:localhost\n";
    match n.s.roles.import_csv(By::Operator(&op), bad.as_bytes()).await {
        Err(RoleImportError::BadRows(rows)) => {
            let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [3, 4, 5], "{rows:?}");
        }
        other => panic!("expected bad rows, got {other:?}"),
    }
    assert!(n.s.roles.list(true).await.unwrap().is_empty(), "nothing imported");
    let good = "id,name,department,may_be_empty,fallback,eligible_users,eligible_job_titles\n\
                med-reg,Medical Registrar On-call,Acute Medicine,no,switchboard,reg;@raj:localhost,Specialty Registrar\n\
                switchboard,Switchboard,,yes,,,\n";
    let first = n.s.roles.import_csv(By::Operator(&op), good.as_bytes()).await.unwrap();
    assert_eq!((first.created, first.updated, first.unchanged), (2, 0, 0));
    let again = n.s.roles.import_csv(By::Operator(&op), good.as_bytes()).await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    let reg = n.s.roles.get(&id("med-reg")).await.unwrap();
    assert_eq!(reg.version, 1, "unchanged");
    assert_eq!(reg.definition.eligibility.users, [user("raj"), user("reg")]);
    assert_eq!(reg.definition.fallback, Some(id("switchboard")));
}
