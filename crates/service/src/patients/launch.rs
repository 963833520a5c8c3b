//! "Open in the EPR": the link a clinician follows from a conversation's banner or a search
//! result to the patient's record. The hospital configures it (`epr.launch_url`) as a template
//! naming the patient's ids: `{patient}` (the EPR's Patient id), `{nhs_number}` (ten digits),
//! `{mrn}` (the hospital number) and `{encounter}` (the current admission). Each value is
//! percent-encoded, so no id can add a parameter or change the path; an id the patient does not
//! have becomes empty. Any other text in braces is left as written.

use wardline_types::patient::PatientSummary;

/// The template with `patient`'s ids filled in.
#[must_use]
pub fn fill_launch_url(template: &str, patient: &PatientSummary) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, from_brace) = rest.split_at(open);
        out.push_str(before);
        let name = from_brace.get(1..).and_then(|after| after.split_once('}')).map(|(name, _)| name);
        let value = name.and_then(|name| match name {
            "patient" => Some(encode(&patient.id)),
            "nhs_number" => Some(patient.nhs_number.map(|n| n.digits()).unwrap_or_default()),
            "mrn" => Some(patient.hospital_number.as_deref().map(encode).unwrap_or_default()),
            "encounter" => Some(patient.encounter.as_deref().map(encode).unwrap_or_default()),
            _ => None,
        });
        match (name, value) {
            (Some(name), Some(value)) => {
                out.push_str(&value);
                rest = from_brace.get(name.len() + 2..).unwrap_or_default();
            }
            _ => {
                out.push('{');
                rest = from_brace.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a template when the server starts: an `https://` (or `http://`) URL whose ids are
/// filled in only after its host, so no patient's id can change where the link goes.
///
/// # Errors
/// What is wrong with it.
pub fn check_launch_template(template: &str) -> Result<(), String> {
    let rest = template
        .strip_prefix("https://")
        .or_else(|| template.strip_prefix("http://"))
        .ok_or("epr.launch_url must start with https:// (or http:// for a test system)")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('{') || host.contains('@') {
        return Err("epr.launch_url must name its host itself: ids are filled in only in its path or query".into());
    }
    Ok(())
}

/// A value filled into the template: percent-encoded, and a value of dots alone (`..`, which a
/// path would read as "up") left out.
fn encode(value: &str) -> String {
    if value.bytes().all(|b| b == b'.') {
        return String::new();
    }
    percent_encode(value)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
#[must_use]
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use wardline_types::patient::NhsNumber;

    use super::*;

    fn patient() -> PatientSummary {
        PatientSummary {
            id: "p-1.a".into(),
            name: "SMITH, John".into(),
            nhs_number: NhsNumber::parse("943 476 5919").ok(),
            hospital_number: Some("H1/2&x=y #3 é".into()),
            ..PatientSummary::default()
        }
    }

    #[test]
    fn a_template_must_name_its_host_and_dots_never_climb_the_path() {
        assert!(check_launch_template("https://epr.example/patient/{patient}?enc={encounter}").is_ok());
        assert!(check_launch_template("http://127.0.0.1:9/launch?p={patient}").is_ok());
        for bad in [
            "javascript:alert(1)//{patient}",
            "https://{patient}.epr.example/",
            "https://x@{mrn}/",
            "epr.example/{patient}",
            "https:///p",
        ] {
            assert!(check_launch_template(bad).is_err(), "{bad}");
        }
        let mut p = patient();
        p.hospital_number = Some("..".into());
        assert_eq!(fill_launch_url("https://e/x/{mrn}/y", &p), "https://e/x//y");
    }

    #[test]
    fn each_id_is_filled_in_percent_encoded() {
        let t = "https://epr.example/launch?patient={patient}&nhs={nhs_number}&mrn={mrn}&enc={encounter}";
        assert_eq!(
            fill_launch_url(t, &patient()),
            "https://epr.example/launch?patient=p-1.a&nhs=9434765919&mrn=H1%2F2%26x%3Dy%20%233%20%C3%A9&enc="
        );
        let mut p = patient();
        p.encounter = Some("e9".into());
        p.nhs_number = None;
        assert_eq!(fill_launch_url("/r/{patient}/{encounter}?n={nhs_number}", &p), "/r/p-1.a/e9?n=");
    }

    #[test]
    fn other_braces_are_left_as_written() {
        let p = patient();
        assert_eq!(fill_launch_url("a{b}c{patient}{", &p), "a{b}cp-1.a{");
        assert_eq!(fill_launch_url("{{patient}}", &p), "{p-1.a}");
        assert_eq!(fill_launch_url("{patient", &p), "{patient");
        assert_eq!(fill_launch_url("é{patient}ü", &p), "ép-1.aü");
        assert_eq!(fill_launch_url("", &p), "");
    }
}
