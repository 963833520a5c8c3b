//! Conformance of conversations' ties to patients ([`crate::PatientContextStore`]).

use ruma::{OwnedRoomId, OwnedUserId};
use wardline_types::Timestamp;
use wardline_types::patient::{PatientPlace, PatientSummary, PlaceSource};

use super::fail;
use crate::{Store, StoreResult};

fn patient(id: &str, name: &str) -> PatientSummary {
    PatientSummary {
        id: id.into(),
        name: name.into(),
        birth_date: Some("1970-01-31".into()),
        gender: Some("male".into()),
        nhs_number: wardline_types::patient::NhsNumber::parse("9434765919").ok(),
        hospital_number: Some("H123".into()),
        place: Some(PatientPlace { ward: Some("Ward 7".into()), bed: Some("12".into()), source: PlaceSource::Adt }),
        encounter: Some("enc-1".into()),
        ..PatientSummary::default()
    }
}

/// A tie is kept whole; tying another patient ends the current tie in the same write; untying
/// ends it; the history keeps every tie in order with who ended it; the conversations about a
/// patient are only its current ties; a patient's ties are all of them.
pub(super) async fn patient_context(s: &impl Store) -> StoreResult<()> {
    let room = OwnedRoomId::try_from("!ward7:localhost").map_err(|_| fail("room id"))?;
    let other = OwnedRoomId::try_from("!handover:localhost").map_err(|_| fail("room id"))?;
    let ann = OwnedUserId::try_from("@ann:localhost").map_err(|_| fail("user id"))?;
    let bob = OwnedUserId::try_from("@bob:localhost").map_err(|_| fail("user id"))?;
    check!(s.room_patient(&room).await?.is_none(), "no tie at first");
    check!(s.untie_patient(&room, &ann, Timestamp(5)).await?.is_none(), "nothing to untie");

    let first = s.tie_patient(&room, &patient("p1", "SMITH, John"), &ann, Timestamp(10)).await?;
    check!(first.version == 1 && first.ended.is_none(), "the first tie");
    check!(s.room_patient(&room).await? == Some(first.clone()), "read back whole");
    s.tie_patient(&other, &patient("p1", "SMITH, John"), &bob, Timestamp(11)).await?;

    let second = s.tie_patient(&room, &patient("p2", "JONES, Mary"), &bob, Timestamp(20)).await?;
    check!(second.version == 2, "the next version");
    check!(s.room_patient(&room).await?.map(|t| t.patient.id) == Some("p2".into()), "the new patient is current");
    let about_p1 = s.rooms_about_patient("p1", 10).await?;
    check!(about_p1.len() == 1 && about_p1[0].room_id == other, "p1 is now only the other conversation's patient");
    check!(s.rooms_about_patient("p2", 10).await?.len() == 1, "p2's conversation");
    check!(s.rooms_about_patient("p1", 0).await?.is_empty(), "the limit");

    let ended = s.untie_patient(&room, &ann, Timestamp(30)).await?;
    check!(
        ended.as_ref().map(|t| (t.version, t.ended.clone())) == Some((2, Some((ann.clone(), Timestamp(30))))),
        "untying ends the current tie"
    );
    check!(s.room_patient(&room).await?.is_none(), "no current tie after");
    check!(s.rooms_about_patient("p2", 10).await?.is_empty(), "an ended tie finds no conversation");

    let third = s.tie_patient(&room, &patient("p1", "SMITH, John"), &ann, Timestamp(40)).await?;
    check!(third.version == 3, "versions keep counting after an untie");
    let history = s.room_patient_history(&room).await?;
    let seen: Vec<_> =
        history.iter().map(|t| (t.version, t.patient.id.as_str(), t.ended.as_ref().map(|e| e.1))).collect();
    check!(
        seen == vec![(1, "p1", Some(Timestamp(20))), (2, "p2", Some(Timestamp(30))), (3, "p1", None)],
        "the history, in order, with when each ended"
    );
    check!(
        history[0].ended.as_ref().map(|e| e.0.clone()) == Some(bob),
        "the first tie was ended by whoever tied the next"
    );
    let about = s.rooms_about_patient("p1", 10).await?;
    check!(about.len() == 2 && about[0].room_id == room, "newest tie first");
    // Every tie of a patient, ended or not, oldest first.
    let ties: Vec<_> = s
        .patient_ties("p1")
        .await?
        .into_iter()
        .map(|t| (t.room_id, t.version, t.tied_at, t.ended.map(|e| e.1)))
        .collect();
    check!(
        ties == vec![
            (room.clone(), 1, Timestamp(10), Some(Timestamp(20))),
            (other.clone(), 1, Timestamp(11), None),
            (room.clone(), 3, Timestamp(40), None)
        ],
        "every tie of p1, ended or not, oldest first"
    );
    check!(s.patient_ties("p2").await?.len() == 1 && s.patient_ties("p9").await?.is_empty(), "p2's one; nobody's");
    Ok(())
}
