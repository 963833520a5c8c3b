//! Patients from the electronic patient record through the whole server, against a real FHIR R4
//! server (Medplum's FHIR router in memory, `tests/fhir-server/`, run with node): looking a
//! patient up by NHS number (a wrong check digit refused before the EPR is asked), hospital
//! number, or name and date of birth; where they are (the ADT feed before the EPR's current
//! encounter); tying a conversation to a patient, which only its joined members may do or see
//! and whose notice names nobody; the conversations about a patient; the EPR down; a bearer
//! token; SMART Backend Services (one token for many calls, and a new one when it is refused);
//! `wardline epr check` and `epr jwks`; and the audit trail of every lookup and refusal.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::admin::admin;
use crate::alarms_hl7::{answer, bound, connect, framed, hl7_addr};
use crate::harness::{Client, Server, cli, cli_code, enc};

const P: &str = "/_wardline/client/v1/patients";
const MRN_SYSTEM: &str = "https://trust.example/Id/mrn";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const LAUNCH: &str = "https://epr.example/launch?patient={patient}&nhs={nhs_number}&enc={encounter}";

/// The test FHIR server (`tests/fhir-server/server.mjs`), stopped when dropped.
pub struct Fhir {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Fhir {
    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fhir-server")
    }

    /// Starts it with these options (`--token T`, `--smart --jwks FILE`).
    pub fn start(args: &[&str]) -> Self {
        let dir = Self::dir();
        assert!(
            dir.join("node_modules/@medplum/fhir-router").is_dir(),
            "the test FHIR server's packages are missing: run `npm ci` in {}",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .args(["--port", "0"])
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node (the test FHIR server)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read its port");
        let port = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("the FHIR server printed {line:?}, not its port"));
        Self { child, port, http: reqwest::Client::new() }
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn base(&self) -> String {
        format!("{}/fhir/R4", self.origin())
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}/_test/{path}", self.origin()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("test control");
        let status = resp.status();
        let v: Value = resp.json().await.expect("test control's JSON");
        assert!(status.is_success(), "/_test/{path}: {status} {v}");
        v
    }

    pub async fn seed(&self, resources: Value) {
        self.control(reqwest::Method::POST, "seed", Some(resources)).await;
    }

    /// The FHIR and token requests it received since the log was last cleared.
    pub async fn requests(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "requests", None).await.as_array().cloned().unwrap_or_default()
    }

    pub async fn clear_requests(&self) {
        self.control(reqwest::Method::DELETE, "requests", None).await;
    }

    pub async fn post(&self, path: &str) {
        self.control(reqwest::Method::POST, path, Some(json!({}))).await;
    }

    /// Changes a resource in the record as the EPR's own users would (a FHIR update).
    pub async fn change(&self, resource: &str, edit: impl FnOnce(&mut Value)) {
        let url = format!("{}/{resource}", self.base());
        let mut r: Value = self.http.get(&url).send().await.unwrap().json().await.unwrap();
        edit(&mut r);
        let put = self.http.put(&url).header("content-type", "application/fhir+json").body(r.to_string()).send();
        let put = put.await.unwrap();
        assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    }
}

impl Drop for Fhir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path and query of each logged request (`/fhir/R4/Patient?…`), decoded.
fn urls(requests: &[Value]) -> Vec<String> {
    requests.iter().map(|r| decode(r["url"].as_str().unwrap_or_default())).collect()
}

/// Percent-decoding (and `+` as a space), enough to read a logged query.
fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or(b'?'));
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Wardline's settings for this EPR (with ADT placing patients by `HOSP` hospital numbers),
/// plus `extra`.
pub fn epr_env(fhir: &Fhir, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("WARDLINE_EPR__BASE_URL".to_owned(), fhir.base()),
        ("WARDLINE_EPR__MRN_SYSTEM".to_owned(), MRN_SYSTEM.to_owned()),
        ("WARDLINE_EPR__ADT_AUTHORITY".to_owned(), "HOSP".to_owned()),
        ("WARDLINE_EPR__LAUNCH_URL".to_owned(), LAUNCH.to_owned()),
        ("WARDLINE_EPR__TIMEOUT_SECS".to_owned(), "5".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

pub fn start(env: &[(String, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with_env(&env)
}

fn patient(id: &str, nhs: &str, mrn: &str, family: &str, given: &str, born: &str) -> Value {
    json!({"resourceType": "Patient", "id": id,
        "identifier": [{"system": NHS_SYSTEM, "value": nhs}, {"system": MRN_SYSTEM, "value": mrn}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "birthDate": born, "gender": "male"})
}

/// John Smith (in Ward 7, bay 2 bed 12, by his EPR encounter, whose Locations are named only
/// by reference) and Mary Jones (in Ward 3 by her EPR encounter; the ADT feed says otherwise).
pub async fn seed_smith_and_jones(fhir: &Fhir) {
    let location = |id: &str, name: &str, kind: &str| {
        json!({"resourceType": "Location", "id": id, "name": name, "status": "active",
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": kind}]}})
    };
    let encounter = |id: &str, patient: &str, locations: Value| {
        json!({"resourceType": "Encounter", "id": id, "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/{patient}")},
            "period": {"start": "2026-11-30T10:00:00Z"}, "location": locations})
    };
    fhir.seed(json!([
        patient("pat-1", "9434765919", "H1", "Smith", "John", "1970-01-31"),
        patient("pat-2", "4010232137", "H2", "Jones", "Mary", "1980-05-05"),
        location("w7", "Ward 7", "wa"),
        location("b12", "Bay 2 bed 12", "bd"),
        encounter(
            "enc-1",
            "pat-1",
            json!([
                {"location": {"reference": "Location/w7"}, "status": "active"},
                {"location": {"reference": "Location/b12"}, "status": "active"}
            ])
        ),
        encounter(
            "enc-2",
            "pat-2",
            json!([{"location": {"display": "Ward 3"}, "status": "active",
            "physicalType": {"coding": [{"code": "wa"}]}}])
        ),
    ]))
    .await;
}

/// The server's audit trail, once it holds a record `want` accepts (records are stored in
/// batches, a moment after the request).
pub fn trail_until(s: &Server, what: &str, want: impl Fn(&Value) -> bool) -> Vec<Value> {
    for _ in 0..100 {
        let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
        assert!(ok, "{err}");
        let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if records.iter().any(&want) {
            return records;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the audit trail never held {what}");
}

pub fn of<'a>(records: &'a [Value], action: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["action"] == action).collect()
}

pub fn detail(r: &Value) -> &str {
    r["detail"].as_str().unwrap_or_default()
}

async fn search(c: &Client, query: &str) -> (u16, Value) {
    c.get(&format!("{P}?{query}")).await
}

/// `errcode` of an answer.
fn code(b: &Value) -> Option<&str> {
    b["errcode"].as_str()
}

#[tokio::test]
async fn a_patient_is_found_by_nhs_number_hospital_number_or_name_and_placed_by_adt_before_the_record() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[("WARDLINE_HL7__LISTEN", "127.0.0.1:0")]));
    let ann = s.user("ann").await;
    let eve = s.user("eve").await;
    let room = ann.create_room(json!({"name": "Ward 7 handover"})).await;

    // By NHS number (grouped as the NHS writes it), for a reason given.
    let (st, b) = search(&ann, &format!("nhs_number={}&reason=ward%20round", enc("943 476 5919"))).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["more"], false);
    let found = b["patients"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{b}");
    let john = &found[0];
    assert_eq!(
        (john["id"].as_str(), john["name"].as_str(), john["nhs_number"].as_str(), john["hospital_number"].as_str()),
        (Some("pat-1"), Some("SMITH, John"), Some("9434765919"), Some("H1")),
        "{john}"
    );
    assert_eq!(john["birth_date"], "1970-01-31");
    // His place from the EPR's current encounter, its Locations read one by one (this EPR
    // refuses `_include`).
    assert_eq!(john["place"], json!({"ward": "Ward 7", "bed": "Bay 2 bed 12", "source": "record"}), "{john}");
    assert_eq!(john["encounter"], "enc-1");
    assert_eq!(john["launch_url"], "https://epr.example/launch?patient=pat-1&nhs=9434765919&enc=enc-1");
    let asked = urls(&fhir.requests().await);
    assert!(
        asked.contains(&format!("/fhir/R4/Patient?identifier={NHS_SYSTEM}|9434765919&_count=11")),
        "the NHS number is searched as FHIR identifies it: {asked:?}"
    );
    assert!(
        asked.iter().any(|u| u.starts_with("/fhir/R4/Encounter?subject=Patient/pat-1&status=in-progress")),
        "{asked:?}"
    );
    assert!(asked.contains(&"/fhir/R4/Location/b12".to_owned()), "{asked:?}");
    assert!(fhir.requests().await.iter().all(|r| r["authorization"].is_null()), "no credentials configured, none sent");

    // A wrong check digit is refused before anything is asked of the EPR.
    fhir.clear_requests().await;
    let (st, b) = search(&ann, "nhs_number=9434765918&reason=ward%20round").await;
    assert_eq!((st, code(&b)), (400, Some("M_INVALID_PARAM")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("check digit"), "{b}");
    for bad in [
        "family=Smith&reason=x",
        "nhs_number=9434765919",
        "nhs_number=9434765919&reason=%E2%80%8B",
        "family=Smith&birth_date=1970-02-30&reason=x",
    ] {
        let (st, b) = search(&ann, bad).await;
        assert_eq!((st, code(&b)), (400, Some("M_INVALID_PARAM")), "{bad}: {b}");
    }
    assert!(fhir.requests().await.is_empty(), "the EPR was asked nothing");

    // By family name and date of birth, for a conversation she is in.
    let (st, b) = search(&ann, &format!("family=smith&given=john&birth_date=1970-01-31&room_id={}", enc(&room))).await;
    assert_eq!(st, 200, "{b}");
    let ids: Vec<&str> = b["patients"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pat-1"], "{b}");
    assert!(
        urls(&fhir.requests().await)
            .iter()
            .any(|u| u.starts_with("/fhir/R4/Patient?family=smith&birthdate=1970-01-31&given=john"))
    );
    // Not for a conversation she is not in (whether or not it exists).
    for other in [room.as_str(), "!nowhere:localhost"] {
        let (st, b) = search(&eve, &format!("nhs_number=9434765919&room_id={}", enc(other))).await;
        assert_eq!(
            (st, code(&b), b["error"].as_str()),
            (403, Some("M_FORBIDDEN"), Some("you are not in this conversation")),
            "{b}"
        );
    }

    // Mary Jones by hospital number: the ADT feed's bed wins over the EPR's encounter, which is
    // then not even asked for.
    let boss = admin(&s).await;
    bound(&boss, "adt", "PAS", &["hl7.adt"], "other").await;
    let mut mllp = connect(&hl7_addr(&s)).await;
    let a01 = "MSH|^~\\&|PAS|ICU|||20261201090000||ADT^A01^ADT_A01|ADT1|P|2.5\rEVN|A01|20261201090000\r\
PID|||H2^^^HOSP^MR||Jones^Mary||19800505|F\rPV1||I|Ward 9^Bay 1^3^Main\r";
    mllp.write_all(&framed(a01)).await.unwrap();
    assert_eq!(answer(&mut mllp).await.map(|a| a.0), Some("AA".into()), "the admission");
    fhir.clear_requests().await;
    let (st, b) = search(&ann, "hospital_number=H2&reason=bed%20state").await;
    assert_eq!(st, 200, "{b}");
    let mary = &b["patients"][0];
    assert_eq!((mary["id"].as_str(), mary["name"].as_str()), (Some("pat-2"), Some("JONES, Mary")), "{b}");
    assert_eq!(mary["place"], json!({"ward": "Ward 9", "bed": "Bay 1, bed 3", "source": "adt"}), "{mary}");
    let asked = urls(&fhir.requests().await);
    assert_eq!(asked, [format!("/fhir/R4/Patient?identifier={MRN_SYSTEM}|H2&_count=11")], "no encounter asked for");

    // Eleven patients of one name and birthday: ten are shown, and that there are more.
    let many: Vec<Value> = (0..11)
        .map(|i| {
            let mut p = patient(&format!("many-{i}"), "9990000026", &format!("M{i}"), "Many", "Ann", "1990-09-09");
            p["identifier"].as_array_mut().unwrap().remove(0);
            p
        })
        .collect();
    fhir.seed(Value::Array(many)).await;
    let (st, b) = search(&ann, "family=Many&birth_date=1990-09-09&reason=clinic%20list").await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["patients"].as_array().unwrap().len(), &b["more"]), (10, &json!(true)), "{b}");

    // Every lookup is in the trail: what was asked, for what, who was found.
    let trail = trail_until(&s, "the many lookup", |r| detail(r).contains("Many"));
    let lookups = of(&trail, "patient.lookup");
    let by_nhs = lookups.iter().find(|r| detail(r).starts_with("query=nhs_number 9434765919")).expect("the NHS lookup");
    assert_eq!(detail(by_nhs), "query=nhs_number 9434765919; for=reason: \"ward round\"; found=1; ids=pat-1");
    assert_eq!((by_nhs["actor"].as_str(), by_nhs["outcome"].as_str()), (Some(ann.user_id.as_str()), Some("success")));
    let by_name = lookups.iter().find(|r| detail(r).starts_with("query=name")).expect("the name lookup");
    assert_eq!(
        detail(by_name),
        format!("query=name \"smith\" \"john\" born 1970-01-31; for={room}; found=1; ids=pat-1")
    );
    assert_eq!(by_name["room_id"], room.as_str());
    assert!(
        lookups
            .iter()
            .any(|r| detail(r) == "query=hospital_number \"H2\"; for=reason: \"bed state\"; found=1; ids=pat-2")
    );
    let refused = of(&trail, "patient.context");
    assert_eq!(
        refused.iter().filter(|r| r["outcome"] == "denied" && r["actor"] == eve.user_id.as_str()).count(),
        2,
        "{refused:?}"
    );
    assert_eq!(lookups.len(), 4, "a refused query is never a lookup: {lookups:?}");
}

/// Ann's conversation "Ward 7 handover": Bob joined, Ivy invited (not joined), Lou joined and
/// left. Eve was never in it.
async fn handover(s: &Server) -> (String, Client, Client, Client, Client, Client) {
    let (ann, bob, ivy, lou, eve) =
        (s.user("ann").await, s.user("bob").await, s.user("ivy").await, s.user("lou").await, s.user("eve").await);
    let invite = [bob.user_id.as_str(), ivy.user_id.as_str(), lou.user_id.as_str()];
    let room = ann.create_room(json!({"name": "Ward 7 handover", "invite": invite})).await;
    bob.join(&room).await;
    lou.join(&room).await;
    let (st, b) = lou.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200, "{b}");
    (room, ann, bob, ivy, lou, eve)
}

fn banner(room: &str) -> String {
    format!("/_wardline/client/v1/rooms/{}/patient", enc(room))
}

#[tokio::test]
async fn only_a_conversations_members_tie_it_to_a_patient_or_see_whom_and_its_timeline_names_nobody() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let (room, ann, bob, ivy, lou, eve) = handover(&s).await;

    let (st, b) = ann.get(&banner(&room)).await;
    assert_eq!((st, b["error"].as_str()), (404, Some("this conversation is not about a patient")), "{b}");

    // Ann ties it to John Smith: the banner, for her and for Bob.
    let (st, b) = ann.put(&banner(&room), json!({"patient": "pat-1"})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["version"].as_u64(), b["tied_by"].as_str()), (Some(1), Some(ann.user_id.as_str())), "{b}");
    assert_eq!(b["patient"]["name"], "SMITH, John");
    assert_eq!(b["patient"]["place"]["ward"], "Ward 7", "placed as a search places him: {b}");
    assert_eq!(b["launch_url"], "https://epr.example/launch?patient=pat-1&nhs=9434765919&enc=enc-1");
    assert!(b["tied_at"].as_u64().is_some());
    let (st, seen) = bob.get(&banner(&room)).await;
    assert_eq!(st, 200, "{seen}");
    assert_eq!((seen["patient"]["id"].as_str(), seen["version"].as_u64()), (Some("pat-1"), Some(1)), "{seen}");
    // The same again (a retry) changes nothing.
    let (st, again) = ann.put(&banner(&room), json!({"patient": "pat-1"})).await;
    assert_eq!((st, again["version"].as_u64()), (200, Some(1)), "{again}");

    // Nobody else: not invited-only Ivy, not Lou who left, not Eve; not for a conversation that
    // does not exist either; and the answer is the same.
    for (who, c) in [("ivy", &ivy), ("lou", &lou), ("eve", &eve)] {
        for target in [room.as_str(), "!nowhere:localhost"] {
            let path = banner(target);
            let answers =
                [c.get(&path).await, c.put(&path, json!({"patient": "pat-2"})).await, c.delete_path(&path).await];
            for (st, b) in answers {
                assert_eq!(
                    (st, code(&b), b["error"].as_str()),
                    (403, Some("M_FORBIDDEN"), Some("you are not in this conversation")),
                    "{who} on {target}: {b}"
                );
            }
        }
    }
    let (_, still) = ann.get(&banner(&room)).await;
    assert_eq!(still["patient"]["id"], "pat-1", "nothing they tried changed it");

    // Bad requests.
    for (body, code_wanted) in [
        (json!({"patient": "../Patient/pat-1"}), "M_INVALID_PARAM"),
        (json!({"patient": "pat-1", "encounter": "a b"}), "M_INVALID_PARAM"),
        (json!({"patient": 7}), "M_BAD_JSON"),
        (json!({"patient": "pat-1", "nhs_number": "9434765919"}), "M_BAD_JSON"),
    ] {
        let (st, b) = ann.put(&banner(&room), body.clone()).await;
        assert_eq!((st, code(&b)), (400, Some(code_wanted)), "{body}: {b}");
    }
    let (st, b) = ann.put(&banner(&room), json!({"patient": "nobody"})).await;
    assert_eq!((st, code(&b)), (404, Some("M_NOT_FOUND")), "{b}");

    // Bob changes it to Mary Jones.
    let (st, b) = bob.put(&banner(&room), json!({"patient": "pat-2"})).await;
    assert_eq!((st, b["version"].as_u64(), b["patient"]["id"].as_str()), (200, Some(2), Some("pat-2")), "{b}");

    // The conversations about Mary: Ann ties another of hers; Bob sees only the one he is in.
    let own = ann.create_room(json!({"name": "Ann's notes"})).await;
    assert_eq!(ann.put(&banner(&own), json!({"patient": "pat-2"})).await.0, 200);
    let (st, b) = bob.get(&format!("{P}/pat-2/rooms")).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["rooms"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(
        (b["rooms"][0]["room_id"].as_str(), b["rooms"][0]["name"].as_str()),
        (Some(room.as_str()), Some("Ward 7 handover"))
    );
    assert_eq!(b["rooms"][0]["tied_by"], bob.user_id.as_str());
    let (_, b) = ann.get(&format!("{P}/pat-2/rooms")).await;
    let listed: Vec<&str> = b["rooms"].as_array().unwrap().iter().map(|r| r["room_id"].as_str().unwrap()).collect();
    assert_eq!(listed, [own.as_str(), room.as_str()], "newest tie first: {b}");
    let (_, b) = eve.get(&format!("{P}/pat-2/rooms")).await;
    assert_eq!(b["rooms"], json!([]), "{b}");
    let (_, b) = ann.get(&format!("{P}/pat-1/rooms")).await;
    assert_eq!(b["rooms"], json!([]), "John's tie ended when Bob changed it: {b}");

    // Untied.
    let (st, b) = ann.delete_path(&banner(&room)).await;
    assert_eq!((st, &b), (200, &json!({})), "{b}");
    assert_eq!(ann.get(&banner(&room)).await.0, 404);
    assert_eq!(ann.delete_path(&banner(&room)).await.0, 404, "nothing left to remove");

    // The conversation was told each time, by the server, naming nobody.
    let (st, page) = ann.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(&room))).await;
    assert_eq!(st, 200);
    let notices: Vec<&Value> = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["content"]["org.wardline.patient_context"].is_object())
        .collect();
    let told: Vec<(&str, u64, &str)> = notices
        .iter()
        .map(|e| {
            let c = &e["content"]["org.wardline.patient_context"];
            (c["action"].as_str().unwrap(), c["version"].as_u64().unwrap(), e["sender"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        told,
        [
            ("tied", 1, "@wardline:localhost"),
            ("changed", 2, "@wardline:localhost"),
            ("removed", 2, "@wardline:localhost")
        ]
    );
    assert_eq!(
        notices[0]["content"]["body"],
        "Dr ann tied this conversation to a patient. Its members see who in Wardline."
    );
    let (_, state) = ann.get(&format!("/_matrix/client/v3/rooms/{}/state", enc(&room))).await;
    for text in [page.to_string(), state.to_string()] {
        for secret in [
            "9434765919",
            "943 476 5919",
            "4010232137",
            "Smith",
            "SMITH",
            "Jones",
            "JONES",
            "pat-1",
            "pat-2",
            "1970-01-31",
        ] {
            assert!(!text.contains(secret), "the conversation's events name the patient ({secret})");
        }
    }

    // The trail: every tie, change, read and refusal.
    let trail = trail_until(&s, "the untie", |r| detail(r).starts_with("untied"));
    // Changes and refusals are `patient.context`; reads of whom it is about are `patient.read`.
    let context: Vec<(&str, &str, &str)> = of(&trail, "patient.context")
        .into_iter()
        .chain(of(&trail, "patient.read"))
        .filter(|r| r["room_id"] == room.as_str())
        .map(|r| (r["actor"].as_str().unwrap(), r["outcome"].as_str().unwrap(), detail(r)))
        .collect();
    let reads: Vec<&str> = of(&trail, "patient.read").iter().map(|r| detail(r)).collect();
    assert!(reads.contains(&"read patient=pat-1 via=banner"), "banner reads are reads: {reads:?}");
    let (a, b_) = (ann.user_id.as_str(), bob.user_id.as_str());
    for want in [
        (a, "success", "tied patient=pat-1 version=1 restricted=false"),
        (b_, "success", "read patient=pat-1 via=banner"),
        (a, "success", "read patient=pat-1 via=tie"),
        (b_, "success", "changed from=pat-1 to=pat-2 version=2 restricted=false"),
        (a, "success", "untied patient=pat-2 version=2"),
    ] {
        assert!(context.contains(&want), "{want:?} not in {context:?}");
    }
    for who in [&ivy, &lou, &eve] {
        let denied = context.iter().filter(|(u, o, _)| *u == who.user_id.as_str() && *o == "denied").count();
        assert_eq!(denied, 3, "{}'s refusals (read, tie, untie): {context:?}", who.user_id);
    }
    let about = of(&trail, "patient.read").into_iter().filter(|r| detail(r).contains("via=conversations")).count();
    assert_eq!(about, 4);
    let lookups = of(&trail, "patient.lookup");
    assert!(
        lookups
            .iter()
            .any(|r| detail(r)
                == format!("query=patient patient=pat-1; for={room}; found=1; ids=pat-1; restricted=false")),
        "{lookups:?}"
    );
    assert!(
        lookups.iter().any(|r| r["outcome"] == "failure" && detail(r).starts_with("query=patient patient=nobody")),
        "{lookups:?}"
    );
}

#[tokio::test]
async fn when_the_record_is_down_the_clinician_is_told_and_nothing_is_tied() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let ann = s.user("ann").await;
    let room = ann.create_room(json!({"name": "Ward 7"})).await;
    fhir.post("down").await;
    let (st, b) = search(&ann, "nhs_number=9434765919&reason=ward%20round").await;
    assert_eq!((st, code(&b)), (502, Some("ORG.WARDLINE.EPR_UNAVAILABLE")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("try again"), "{b}");
    let (st, b) = ann.put(&banner(&room), json!({"patient": "pat-1"})).await;
    assert_eq!((st, code(&b)), (502, Some("ORG.WARDLINE.EPR_UNAVAILABLE")), "{b}");
    assert_eq!(ann.get(&banner(&room)).await.0, 404, "nothing tied");
    let (_, page) = ann.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(&room))).await;
    assert!(!page.to_string().contains("org.wardline.patient_context"), "no notice: {page}");
    let trail = trail_until(&s, "the failed lookups", |r| {
        r["action"] == "patient.lookup" && detail(r).contains("query=patient")
    });
    let failed: Vec<&Value> = of(&trail, "patient.lookup").into_iter().filter(|r| r["outcome"] == "failure").collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        detail(failed[0]).starts_with("query=nhs_number 9434765919; for=reason: \"ward round\"; error="),
        "{failed:?}"
    );

    // Back up: it works again.
    fhir.post("up").await;
    assert_eq!(ann.put(&banner(&room), json!({"patient": "pat-1"})).await.0, 200);
    assert_eq!(ann.get(&banner(&room)).await.0, 200);

    // A server with no EPR says so.
    let plain = Server::start();
    let ann = plain.user("ann").await;
    let (st, b) = search(&ann, "nhs_number=9434765919&reason=ward%20round").await;
    assert_eq!((st, code(&b)), (404, Some("ORG.WARDLINE.NO_EPR")), "{b}");
    let (st, b) = search(&ann, "hospital_number=H1&reason=x").await;
    assert_eq!((st, code(&b)), (400, Some("M_INVALID_PARAM")), "no hospital number system: {b}");
}

#[tokio::test]
async fn a_bearer_token_is_sent_and_a_refused_one_is_told_as_credentials() {
    let fhir = Fhir::start(&["--token", "s3cret-token"]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(
        &fhir,
        &[("WARDLINE_EPR__AUTH__METHOD", "bearer"), ("WARDLINE_EPR__AUTH__BEARER_TOKEN", "s3cret-token")],
    ));
    let ann = s.user("ann").await;
    let (st, b) = search(&ann, "nhs_number=9434765919&reason=ward%20round").await;
    assert_eq!((st, b["patients"][0]["id"].as_str()), (200, Some("pat-1")), "{b}");
    let requests = fhir.requests().await;
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r["authorization"] == "Bearer s3cret-token"), "{requests:?}");

    let wrong = start(&epr_env(
        &fhir,
        &[("WARDLINE_EPR__AUTH__METHOD", "bearer"), ("WARDLINE_EPR__AUTH__BEARER_TOKEN", "stale")],
    ));
    let ann = wrong.user("ann").await;
    let (st, b) = search(&ann, "nhs_number=9434765919&reason=ward%20round").await;
    assert_eq!((st, code(&b)), (502, Some("ORG.WARDLINE.EPR_CREDENTIALS")), "{b}");
    assert!(!b.to_string().contains("stale"), "the token is never told: {b}");
}

/// A P-384 key in PKCS#8, made by openssl.
fn p384_key(dir: &Path) -> PathBuf {
    let key = dir.join("epr-key.pem");
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out"])
        .arg(&key)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    key
}

fn smart_settings(base: &str, key: &Path) -> Vec<(String, String)> {
    vec![
        ("WARDLINE_EPR__BASE_URL".to_owned(), base.to_owned()),
        ("WARDLINE_EPR__MRN_SYSTEM".to_owned(), MRN_SYSTEM.to_owned()),
        ("WARDLINE_EPR__AUTH__METHOD".to_owned(), "smart".to_owned()),
        ("WARDLINE_EPR__AUTH__CLIENT_ID".to_owned(), "wardline".to_owned()),
        ("WARDLINE_EPR__AUTH__PRIVATE_KEY_FILE".to_owned(), key.to_str().unwrap().to_owned()),
        ("WARDLINE_EPR__AUTH__KEY_ID".to_owned(), "ward-key-1".to_owned()),
    ]
}

/// The same settings as a TOML file, for the command line.
fn smart_config(dir: &Path, base: &str, key: &Path) -> PathBuf {
    let path = dir.join("wardline.toml");
    let text = format!(
        "[epr]\nbase_url = {:?}\n\n[epr.auth]\nmethod = \"smart\"\nclient_id = \"wardline\"\nprivate_key_file = {:?}\nkey_id = \"ward-key-1\"\n",
        base,
        key.to_str().unwrap()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn smart_backend_services_take_one_token_for_many_calls_and_a_new_one_when_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = p384_key(dir.path());
    // `wardline epr jwks` prints the public key the EPR is given (no EPR needs to answer).
    let config = smart_config(dir.path(), "http://127.0.0.1:9/fhir/R4", &key);
    let data = dir.path().join("data");
    let (ok, out, err) = cli(&data, &["epr", "jwks", "--config", config.to_str().unwrap()], None);
    assert!(ok, "{out}{err}");
    let jwks: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (jwks["keys"][0]["kty"].as_str(), jwks["keys"][0]["kid"].as_str(), jwks["keys"][0]["alg"].as_str()),
        (Some("EC"), Some("ward-key-1"), Some("ES384")),
        "{jwks}"
    );
    assert!(jwks["keys"][0]["d"].is_null(), "never the private part");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, &out).unwrap();

    let fhir = Fhir::start(&["--smart", "--jwks", jwks_file.to_str().unwrap(), "--client-id", "wardline"]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&smart_settings(&fhir.base(), &key));
    let ann = s.user("ann").await;
    for query in
        ["nhs_number=9434765919&reason=a", "hospital_number=H1&reason=b", "family=Jones&birth_date=1980-05-05&reason=c"]
    {
        let (st, b) = search(&ann, query).await;
        assert_eq!((st, b["patients"].as_array().map(Vec::len)), (200, Some(1)), "{query}: {b}");
    }
    let requests = fhir.requests().await;
    let token_requests: Vec<&Value> = requests.iter().filter(|r| r["url"] == "/auth/token").collect();
    assert_eq!(token_requests.len(), 1, "one token for every call: {requests:?}");
    let t = token_requests[0];
    assert_eq!(t["status"], 200, "the token endpoint accepted Wardline's assertion: {t}");
    assert_eq!(t["body"]["grant_type"], "client_credentials");
    assert_eq!(t["body"]["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    let fhir_calls: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["url"].as_str().unwrap().starts_with("/fhir/R4/") && !r["url"].as_str().unwrap().contains(".well-known")
        })
        .collect();
    assert!(fhir_calls.len() >= 3, "{requests:?}");
    let bearer = fhir_calls[0]["authorization"].as_str().unwrap();
    assert!(bearer.starts_with("Bearer ") && bearer.len() > 20, "{bearer}");
    assert!(fhir_calls.iter().all(|r| r["authorization"] == bearer), "the same token each time: {fhir_calls:?}");
    assert!(fhir_calls.iter().all(|r| r["status"] != 401), "none refused: {fhir_calls:?}");

    // The EPR forgets its tokens: the next call is refused, a new token asked for, the call made
    // again, and the clinician sees none of it.
    fhir.post("expire-tokens").await;
    fhir.clear_requests().await;
    let (st, b) = search(&ann, "nhs_number=4010232137&reason=d").await;
    assert_eq!((st, b["patients"][0]["id"].as_str()), (200, Some("pat-2")), "{b}");
    let requests = fhir.requests().await;
    let statuses: Vec<(String, u64)> =
        requests.iter().map(|r| (decode(r["url"].as_str().unwrap()), r["status"].as_u64().unwrap_or(0))).collect();
    assert_eq!(statuses[0].1, 401, "{statuses:?}");
    assert_eq!(statuses[1], ("/auth/token".to_owned(), 200), "{statuses:?}");
    assert_eq!(
        statuses[2],
        (format!("/fhir/R4/Patient?identifier={NHS_SYSTEM}|4010232137&_count=11"), 200),
        "{statuses:?}"
    );

    // `wardline epr check` against it: what it supports, and the credentials work.
    let config = smart_config(dir.path(), &fhir.base(), &key);
    let (code_, out, err) = cli_code(&data, &["epr", "check", "--config", config.to_str().unwrap()], None);
    assert_eq!(code_, Some(0), "{out}{err}");
    assert!(out.contains("FHIR version: 4.0.1"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("Patient: interactions read") && l.contains("identifier")), "{out}");
    assert!(!out.contains("Wardline also uses"), "the test server has every parameter Wardline uses: {out}");
    assert!(out.contains("credentials: OK"), "{out}");
    let test_search = fhir.requests().await.iter().any(|r| {
        decode(r["url"].as_str().unwrap()) == "/fhir/R4/Patient?_id=wardline-connection-test&_count=1"
            && r["status"] == 200
    });
    assert!(test_search, "the credentials are tried with a search that finds nobody");
    // Down: it fails, and says why.
    fhir.post("down").await;
    let (code_, out, err) = cli_code(&data, &["epr", "check", "--config", config.to_str().unwrap()], None);
    assert_eq!(code_, Some(1), "{out}{err}");
    assert!(out.contains("FAILED") && err.contains("not answering"), "{out}{err}");
}

#[tokio::test]
async fn a_tie_needs_the_right_to_post_a_checked_encounter_and_a_restricted_record_hides_its_place() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let restricted = json!({"resourceType": "Patient", "id": "pat-3",
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]},
        "identifier": [{"system": NHS_SYSTEM, "value": "9990000026"}],
        "name": [{"use": "official", "family": "Hidden", "given": ["Harriet"]}], "birthDate": "1990-01-01"});
    let her_stay = json!({"resourceType": "Encounter", "id": "enc-3", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/pat-3"}, "period": {"start": "2026-11-30T10:00:00Z"},
        "location": [{"location": {"display": "Ward 9"}, "status": "active"}]});
    fhir.seed(json!([restricted, her_stay])).await;
    let s = start(&epr_env(&fhir, &[]));
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;

    // A conversation where Bob may read but not post: he may see nothing he may not, and may
    // not tie it (the notice would go to everyone in it).
    let room = ann
        .create_room(json!({"name": "Announcements", "invite": [bob.user_id],
            "power_level_content_override": {"events_default": 50, "users": {ann.user_id.as_str(): 100}}}))
        .await;
    bob.join(&room).await;
    let (st, b) =
        bob.put(&format!("/_wardline/client/v1/rooms/{}/patient", enc(&room)), json!({"patient": "pat-1"})).await;
    assert_eq!((st, code(&b)), (403, Some("M_FORBIDDEN")), "{b}");
    assert!(urls(&fhir.requests().await).iter().all(|u| !u.contains("Patient/pat-1")), "the EPR was not asked");

    // An encounter that is another patient's is refused; his own is kept.
    let tie = format!("/_wardline/client/v1/rooms/{}/patient", enc(&room));
    let (st, b) = ann.put(&tie, json!({"patient": "pat-1", "encounter": "enc-2"})).await;
    assert_eq!((st, code(&b)), (400, Some("M_INVALID_PARAM")), "Mary's stay is not John's: {b}");
    assert_eq!(ann.get(&tie).await.0, 404, "nothing tied");
    let (st, b) = ann.put(&tie, json!({"patient": "pat-1", "encounter": "enc-1"})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["patient"]["encounter"], "enc-1");

    // Nobody forges the server's notice that the patient changed.
    let (st, b) = bob
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/forged", enc(&room)),
            json!({"msgtype": "m.notice", "body": "Ann removed the patient",
                "org.wardline.patient_context": {"action": "removed", "version": 9}}),
        )
        .await;
    // Bob may not post here at all; Ann may, and her block is taken off.
    assert_eq!(st, 403, "{b}");
    let (st, b) = ann
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/forged", enc(&room)),
            json!({"msgtype": "m.notice", "body": "removed", "org.wardline.patient_context": {"action": "removed", "version": 9}}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (_, e) = ann
        .get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(b["event_id"].as_str().unwrap())))
        .await;
    assert!(e["content"].get("org.wardline.patient_context").is_none(), "{e}");

    // A restricted record: found, marked, and never placed.
    let (st, b) = search(&ann, &format!("nhs_number=9990000026&room_id={}", enc(&room))).await;
    assert_eq!(st, 200, "{b}");
    let harriet = &b["patients"][0];
    assert_eq!((harriet["id"].as_str(), harriet["restricted"].as_bool()), (Some("pat-3"), Some(true)), "{b}");
    assert!(harriet.get("place").is_none(), "her ward is never shown: {harriet}");
    let (st, b) = ann.put(&tie, json!({"patient": "pat-3"})).await;
    assert_eq!(st, 200, "{b}");
    let (_, banner) = ann.get(&tie).await;
    assert_eq!(banner["patient"]["restricted"], true);
    assert!(banner["patient"].get("place").is_none(), "{banner}");
}

#[tokio::test]
async fn a_record_that_says_the_patient_died_is_inactive_or_was_merged_says_so_and_a_merged_one_is_never_tied() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let gone = json!({"resourceType": "Patient", "id": "pat-7", "deceasedDateTime": "2026-11-29T03:10:00Z",
        "name": [{"use": "official", "family": "Gone", "given": ["Gerald"]}], "birthDate": "1940-02-02"});
    let old = json!({"resourceType": "Patient", "id": "pat-8", "active": false,
        "link": [{"type": "replaced-by", "other": {"reference": "Patient/pat-1"}}],
        "name": [{"use": "official", "family": "Smith", "given": ["Jon"]}], "birthDate": "1970-01-31"});
    fhir.seed(json!([gone, old])).await;
    let s = start(&epr_env(&fhir, &[]));
    let ann = s.user("ann").await;
    let room = ann.create_room(json!({"name": "Ward 7"})).await;

    let (st, b) = search(&ann, &format!("family=gone&birth_date=1940-02-02&room_id={}", enc(&room))).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["patients"][0]["id"].as_str(), b["patients"][0]["deceased"].as_bool()), (Some("pat-7"), Some(true)));
    let (st, b) = search(&ann, &format!("family=smith&birth_date=1970-01-31&room_id={}", enc(&room))).await;
    assert_eq!(st, 200, "{b}");
    let found = b["patients"].as_array().unwrap();
    let john = found.iter().find(|p| p["id"] == "pat-1").unwrap();
    let jon = found.iter().find(|p| p["id"] == "pat-8").unwrap();
    assert!(john.get("deceased").is_none() && john.get("inactive").is_none() && john.get("merged_into").is_none());
    assert_eq!((jon["inactive"].as_bool(), jon["merged_into"].as_str()), (Some(true), Some("pat-1")), "{jon}");

    // The merged record is not the one to write to: never tied; the one it became is.
    let tie = format!("/_wardline/client/v1/rooms/{}/patient", enc(&room));
    let (st, b) = ann.put(&tie, json!({"patient": "pat-8"})).await;
    assert_eq!((st, code(&b)), (400, Some("M_INVALID_PARAM")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("merged into another record (pat-1)"), "{b}");
    assert_eq!(ann.get(&tie).await.0, 404, "nothing tied");
    // A patient who died can still be the subject of a conversation (the death is handled in
    // it), and the banner says so.
    let (st, b) = ann.put(&tie, json!({"patient": "pat-7"})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(ann.get(&tie).await.1["patient"]["deceased"], true);
}

#[tokio::test]
async fn who_looked_at_a_patient_is_one_export_away() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;
    let eve = s.user("eve").await;
    let room = ann.room_with(&[&bob]).await;
    let quiet = eve.create_room(json!({"name": "Elsewhere"})).await;
    let messages = |r: &str| format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=10", enc(r));

    // Eve reads her own conversation before and after: nothing to do with John.
    assert_eq!(eve.get(&messages(&quiet)).await.0, 200);
    let (st, _) = search(&ann, &format!("nhs_number=9434765919&room_id={}", enc(&room))).await;
    assert_eq!(st, 200);
    let (st, _) = search(&ann, &format!("nhs_number=4010232137&room_id={}", enc(&room))).await;
    assert_eq!(st, 200, "Mary looked up too");
    let tie = format!("/_wardline/client/v1/rooms/{}/patient", enc(&room));
    assert_eq!(ann.put(&tie, json!({"patient": "pat-1"})).await.0, 200);
    ann.send_text(&room, "j1", "K+ 6.2").await;
    let (st, up) = ann.upload(b"ECG strip".to_vec(), "text/plain", "ecg.txt").await;
    assert_eq!(st, 200, "{up}");
    let url = up["content_uri"].as_str().unwrap().to_owned();
    ann.sent_event(&room, "m.room.message", "j1f", json!({"msgtype": "m.file", "body": "ecg.txt", "url": url})).await;
    assert_eq!(bob.get(&messages(&room)).await.0, 200);
    let media = url.trim_start_matches("mxc://");
    assert_eq!(bob.get_raw(&format!("/_matrix/client/v1/media/download/{media}")).await.0, 200);
    assert_eq!(ann.delete_path(&tie).await.0, 200);
    ann.send_text(&room, "j2", "Unrelated: rota swap").await;
    assert_eq!(eve.get(&messages(&quiet)).await.0, 200);
    trail_until(&s, "the untie", |r| r["action"] == "patient.context" && detail(r).starts_with("untied"));

    let (ok, out, err) = cli(&s.data_dir, &["audit", "export", "--patient", "pat-1"], None);
    assert!(ok, "{err}");
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let has = |action: &str, actor: &str| records.iter().any(|r| r["action"] == action && r["actor"] == actor);
    assert!(has("patient.lookup", "@ann:localhost"), "the lookup that found him");
    assert!(has("patient.context", "@ann:localhost"), "tied and untied");
    assert!(has("room.read", "@bob:localhost"), "Bob read the conversation while it was about him");
    assert!(has("media.download", "@bob:localhost"), "and opened the file posted in it");
    assert!(has("message.send", "@ann:localhost"), "what was said about him");
    assert!(records.iter().all(|r| r["actor"] != "@eve:localhost"), "Eve never came near him");
    assert!(
        records.iter().all(|r| !detail(r).contains("ids=pat-2;") && !detail(r).ends_with("ids=pat-2")),
        "Mary's lookup is not his"
    );
    let sends = records.iter().filter(|r| r["action"] == "message.send" && r["actor"] == "@ann:localhost").count();
    assert_eq!(sends, 2, "the message and the file, not the message after the untie: {records:?}");

    // As FHIR AuditEvents, he is an entity of the events that name him.
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export", "--patient", "pat-1", "--format", "fhir"], None);
    assert!(ok, "{err}");
    let bundle: Value = serde_json::from_str(&out).unwrap();
    let named = bundle["entry"].as_array().unwrap().iter().any(|e| {
        e["resource"]["entity"].as_array().is_some_and(|es| {
            es.iter().any(|x| x["what"]["identifier"]["value"] == "pat-1" && x["role"]["code"] == "1")
        })
    });
    assert!(named, "{bundle}");
}

#[tokio::test]
async fn the_banner_learns_within_minutes_that_the_record_now_says_deceased_or_restricted() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let mut env = epr_env(&fhir, &[]);
    env.push(("WARDLINE_TEST_CLOCK_FILE".into(), clock.to_str().unwrap().into()));
    let s = start(&env);
    let ann = s.user("ann").await;
    let room = ann.create_room(json!({"name": "Ward 7"})).await;
    let tie = format!("/_wardline/client/v1/rooms/{}/patient", enc(&room));
    assert_eq!(ann.put(&tie, json!({"patient": "pat-1"})).await.0, 200);
    let (_, banner) = ann.get(&tie).await;
    assert!(banner["patient"].get("deceased").is_none(), "{banner}");
    assert_eq!(banner["patient"]["place"]["ward"], "Ward 7", "{banner}");
    // (The banner's own read of the record, in the background, is done.)
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // The record now says he died, and it is restricted.
    fhir.change("Patient/pat-1", |john| {
        john["deceasedDateTime"] = json!("2026-12-02T03:00:00Z");
        john["meta"] =
            json!({"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]});
    })
    .await;
    let (_, banner) = ann.get(&tie).await;
    assert!(banner["patient"].get("deceased").is_none(), "asked again only after two minutes: {banner}");

    // Three minutes on, the banner asks again (in the background) and then says so; the place
    // of a now-restricted record is no longer shown.
    std::fs::write(&clock, "180000").unwrap();
    let (_, banner) = ann.get(&tie).await;
    assert_eq!(banner["patient"]["name"], "SMITH, John");
    let banner = crate::harness::get_until(&ann, &tie, "the record's news", |v| v["patient"]["deceased"] == true).await;
    assert_eq!(banner["patient"]["restricted"], true, "{banner}");
    assert!(banner["patient"].get("place").is_none(), "{banner}");
}
