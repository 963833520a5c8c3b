//! Clinical alert topics and the observations that raise them.
//!
//! A topic ("NEWS2 ≥ 7", "AKI stage 3") is what clinicians subscribe to, by ward, by specialty
//! or for every ward. An administrator makes it and says who may subscribe (`open_to`: roles
//! and people), since an alert carries a patient's name and result. A result (HL7 `ORU^R01`)
//! whose observation fits a rule's [`ObservationMatch`] becomes a clinical alert; a rule whose
//! mode is `topic` sends it to the topic's subscribers whose scope fits it, in a conversation of
//! its own.

use serde::{Deserialize, Serialize};

use crate::escalation::Target;

/// Longest topic id.
pub const MAX_TOPIC_ID: usize = 32;
/// Longest topic name, and longest ward or specialty of a scope, in characters.
pub const MAX_TOPIC_NAME: usize = 64;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// Most targets a topic is open to.
pub const MAX_OPEN_TO: usize = 20;
/// Most scopes one person subscribes to one topic with.
pub const MAX_SCOPES: usize = 20;
/// Most topics.
pub const MAX_TOPICS: usize = 100;
/// Longest observation code, system, text, value or units kept, in characters.
pub const MAX_OBSERVATION_PART: usize = 64;

/// A topic's id: 1 to [`MAX_TOPIC_ID`] of `a-z`, `0-9` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicId(String);

/// A string that is not a topic id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a topic id is 1 to 32 of a-z, 0-9 and -")]
pub struct InvalidTopicId;

impl TopicId {
    /// Parses a topic id.
    ///
    /// # Errors
    /// [`InvalidTopicId`].
    pub fn parse(s: &str) -> Result<Self, InvalidTopicId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_TOPIC_ID
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidTopicId) }
    }

    /// As text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TopicId {
    type Error = InvalidTopicId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TopicId> for String {
    fn from(id: TopicId) -> Self {
        id.0
    }
}

impl std::fmt::Display for TopicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A clinical alert topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTopic {
    /// Its id.
    pub id: TopicId,
    /// Its name ("NEWS2 ≥ 7").
    pub name: String,
    /// What it is for, for those choosing it.
    #[serde(default)]
    pub description: String,
    /// Who may subscribe, and to which scopes: the holders of these roles and these people
    /// (checked again for every alert: someone who has left the role stops receiving it).
    pub open_to: Vec<OpenTo>,
}

/// One entry of who may subscribe to a topic: a role or a person, with the scopes they may
/// subscribe to (left out: any, `all` included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTo {
    /// The role or person.
    #[serde(flatten)]
    pub target: Target,
    /// The scopes they may choose (a Ward 7 nurse: `ward:Ward 7`); left out, any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<TopicScope>>,
}

impl OpenTo {
    /// Anyone this names, for any scope.
    #[must_use]
    pub fn any_scope(target: Target) -> Self {
        Self { target, scopes: None }
    }

    /// Does it let its holders choose `scope`? (Ward and specialty names compare ignoring case.)
    #[must_use]
    pub fn allows(&self, scope: &TopicScope) -> bool {
        self.scopes.as_ref().is_none_or(|allowed| allowed.iter().any(|a| a.same_as(scope)))
    }
}

/// Why a topic is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The name.
    #[error("name is 1 to 64 characters on one line")]
    Name,
    /// The description.
    #[error("description is at most 500 characters, without control characters other than line breaks")]
    Description,
    /// Nobody, or too many.
    #[error("open_to names 1 to 20 roles or people (who may subscribe), each with 1 to 20 scopes if it limits them")]
    OpenTo,
}

fn one_line(s: &str, max: usize) -> bool {
    let n = s.trim().chars().count();
    n > 0 && n <= max && !s.chars().any(char::is_control)
}

impl AlertTopic {
    /// Checks its shape (that its targets exist is the service's check).
    ///
    /// # Errors
    /// The first thing it breaks.
    pub fn check(&self) -> Result<(), TopicError> {
        if !one_line(&self.name, MAX_TOPIC_NAME) {
            return Err(TopicError::Name);
        }
        if self.description.chars().count() > MAX_DESCRIPTION
            || self.description.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(TopicError::Description);
        }
        if self.open_to.is_empty()
            || self.open_to.len() > MAX_OPEN_TO
            || self.open_to.iter().any(|o| o.scopes.as_ref().is_some_and(|s| s.is_empty() || s.len() > MAX_SCOPES))
        {
            return Err(TopicError::OpenTo);
        }
        Ok(())
    }
}

/// Which alerts of a topic a subscription covers: those of one ward, of one specialty (the
/// patient's hospital service, `PV1-10`), or all. Written `ward:<ward>`, `specialty:<name>`,
/// `all`. Wards and specialties compare ignoring case and surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TopicScope {
    /// Every alert of the topic.
    All,
    /// The alerts of patients on this ward.
    Ward(String),
    /// The alerts of patients under this specialty.
    Specialty(String),
}

/// A string that is not a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a scope is \"all\", \"ward:<ward>\" or \"specialty:<specialty>\", each name 1 to 64 characters on one line")]
pub struct InvalidScope;

impl TopicScope {
    /// Parses a scope.
    ///
    /// # Errors
    /// [`InvalidScope`].
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        if s == "all" {
            return Ok(Self::All);
        }
        let (kind, name) = s.split_once(':').ok_or(InvalidScope)?;
        if !one_line(name, MAX_TOPIC_NAME) {
            return Err(InvalidScope);
        }
        let name = name.trim().to_owned();
        match kind {
            "ward" => Ok(Self::Ward(name)),
            "specialty" => Ok(Self::Specialty(name)),
            _ => Err(InvalidScope),
        }
    }

    /// Does it cover an alert on `ward` under a specialty known by any of `specialty` (its
    /// code and its name)?
    #[must_use]
    pub fn covers(&self, ward: Option<&str>, specialty: &[&str]) -> bool {
        let same = |want: &str, have: &str| have.trim().eq_ignore_ascii_case(want.trim());
        match self {
            Self::All => true,
            Self::Ward(w) => ward.is_some_and(|h| same(w, h)),
            Self::Specialty(s) => specialty.iter().any(|h| same(s, h)),
        }
    }

    /// The same scope, ignoring case in names.
    #[must_use]
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::All, Self::All) => true,
            (Self::Ward(a), Self::Ward(b)) | (Self::Specialty(a), Self::Specialty(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// Is every alert it covers covered by `other` too?
    #[must_use]
    pub fn within(&self, other: &Self) -> bool {
        *other == Self::All || self.same_as(other)
    }
}

/// What someone's subscription covers now: each scope they chose, narrowed to the scopes they
/// may still choose (`allowed`, `None`: any): "all" where only Ward 7 is open to them is Ward 7.
/// A scope that no allowed scope overlaps covers nothing (a ward and a specialty are not
/// narrowed to their overlap: that would be neither). Sorted, without repeats.
#[must_use]
pub fn effective_scopes(chosen: &[TopicScope], allowed: Option<&[TopicScope]>) -> Vec<TopicScope> {
    let mut out: Vec<TopicScope> = match allowed {
        None => chosen.to_vec(),
        Some(allowed) => chosen
            .iter()
            .flat_map(|c| {
                allowed.iter().filter_map(move |a| {
                    if a.within(c) {
                        Some(a.clone())
                    } else if c.within(a) {
                        Some(c.clone())
                    } else {
                        None
                    }
                })
            })
            .collect(),
    };
    out.sort();
    let mut kept: Vec<TopicScope> = Vec::with_capacity(out.len());
    for s in out {
        if !kept.iter().any(|k| k.same_as(&s)) {
            kept.push(s);
        }
    }
    kept
}

impl TryFrom<String> for TopicScope {
    type Error = InvalidScope;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TopicScope> for String {
    fn from(s: TopicScope) -> Self {
        s.to_string()
    }
}

impl std::fmt::Display for TopicScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Ward(w) => write!(f, "ward:{w}"),
            Self::Specialty(s) => write!(f, "specialty:{s}"),
        }
    }
}

/// One observation of a result, as a clinical alert keeps it: what was measured and the value
/// as the source wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Its code (`OBX-3.1`, e.g. a local `NEWS2` or a LOINC code).
    pub code: String,
    /// The coding system (`OBX-3.3`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Its name (`OBX-3.2`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The value as written (`9`, `>90`).
    pub value: String,
    /// Its units (`OBX-6`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
}

/// A number as a result gives it: exact, or only a bound (`>90`: more than 90).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// How the true value stands to `number`.
    pub comparator: Comparison,
    /// The number.
    pub number: f64,
}

impl Reading {
    /// Reads a value: a decimal number (`7`, `+7.5`, `-0.3`, `.5`), or one after a comparator
    /// (`>90`, `>=90`, `<0.5`, `<=3`; HL7's `SN` is given here as comparator then number). A
    /// comma is no decimal point here: `7,5` is not a number, never read as 75 or 7.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let (comparator, rest) = [
            (">=", Comparison::Ge),
            ("<=", Comparison::Le),
            (">", Comparison::Gt),
            ("<", Comparison::Lt),
            ("=", Comparison::Eq),
        ]
        .into_iter()
        .find_map(|(p, c)| v.strip_prefix(p).map(|r| (c, r.trim())))
        .unwrap_or((Comparison::Eq, v));
        let (plain, digits) = match (rest.strip_prefix('+'), rest.strip_prefix('-')) {
            (Some(p), _) => (p, p),
            (None, Some(d)) => (rest, d),
            (None, None) => (rest, rest),
        };
        let ok = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|b| *b == b'.').count() <= 1
            && digits.bytes().any(|b| b.is_ascii_digit());
        let number: f64 = if ok { plain.parse().ok()? } else { return None };
        number.is_finite().then_some(Self { comparator, number })
    }
}

/// How a value stands to a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// At least.
    Ge,
    /// More than.
    Gt,
    /// At most.
    Le,
    /// Less than.
    Lt,
    /// Equal to.
    Eq,
}

/// A threshold: a finite number (so that rules compare as equal or not).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Threshold(f64);

impl Eq for Threshold {}

/// Not a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a threshold is a finite number")]
pub struct InvalidThreshold;

impl TryFrom<f64> for Threshold {
    type Error = InvalidThreshold;
    fn try_from(v: f64) -> Result<Self, Self::Error> {
        if v.is_finite() { Ok(Self(v)) } else { Err(InvalidThreshold) }
    }
}

impl From<Threshold> for f64 {
    fn from(t: Threshold) -> Self {
        t.0
    }
}

/// Which observations a rule covers: this code (and system, if given) with a value that
/// certainly stands so to the threshold. A bound proves it only when every value it allows
/// does (`>90` is `≥ 90`, never `≤ 95`); a value that is not a number fits nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationMatch {
    /// The observation's code (`OBX-3.1`), exactly.
    pub code: String,
    /// Its coding system (`OBX-3.3`), ignoring case; left out, any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// How the value must stand to `value`.
    pub op: Comparison,
    /// The threshold.
    pub value: Threshold,
}

impl ObservationMatch {
    /// Checks its shape.
    ///
    /// # Errors
    /// What is wrong, for the rule's refusal.
    pub fn check(&self) -> Result<(), &'static str> {
        if !one_line(&self.code, MAX_OBSERVATION_PART) || self.code.trim() != self.code {
            return Err("observation.code is 1 to 64 characters, without surrounding spaces");
        }
        if self.system.as_deref().is_some_and(|s| !one_line(s, MAX_OBSERVATION_PART) || s.trim() != s) {
            return Err("observation.system is 1 to 64 characters, without surrounding spaces");
        }
        Ok(())
    }

    /// Is this observation's code the one it covers (whatever its value)?
    #[must_use]
    pub fn wants(&self, o: &Observation) -> bool {
        o.code.trim() == self.code
            && self
                .system
                .as_deref()
                .is_none_or(|s| o.system.as_deref().is_some_and(|h| h.trim().eq_ignore_ascii_case(s)))
    }

    /// Does it cover this observation?
    #[must_use]
    pub fn fits(&self, o: &Observation) -> bool {
        self.wants(o) && Reading::parse(&o.value).is_some_and(|r| proves(r, self.op, self.value.0))
    }

    /// Might it cover this observation, though the value does not prove it? Its code is wanted
    /// and its value is no number, or a bound that leaves the threshold possible (`>6` for
    /// `≥ 7`). Such an observation must reach a person, who can tell.
    #[must_use]
    pub fn may_fit(&self, o: &Observation) -> bool {
        self.wants(o) && Reading::parse(&o.value).is_none_or(|r| possible(r, self.op, self.value.0))
    }
}

/// Might a value `r` allows stand `op` to `t`?
fn possible(r: Reading, op: Comparison, t: f64) -> bool {
    use Comparison::{Eq, Ge, Gt, Le, Lt};
    let x = r.number;
    // The values `r` allows: below x, at most x, x, at least x, above x.
    match (r.comparator, op) {
        (Eq, _) => proves(r, op, t),
        (Gt | Ge, Ge | Gt) | (Lt | Le, Le | Lt) => true,
        (Gt, Le | Eq) => x < t,
        (Ge, Le | Eq) => x <= t,
        (Gt | Ge, Lt) => x < t,
        (Lt, Ge | Eq) => x > t,
        (Le, Ge | Eq) => x >= t,
        (Lt | Le, Gt) => x > t,
    }
}

/// Does every value `r` allows stand `op` to `t`?
fn proves(r: Reading, op: Comparison, t: f64) -> bool {
    use Comparison::{Eq, Ge, Gt, Le, Lt};
    let x = r.number;
    match (op, r.comparator) {
        (Eq, Eq) => (x - t).abs() < f64::EPSILON * x.abs().max(1.0),
        (Ge, Eq | Ge | Gt) => x >= t,
        (Gt, Eq | Ge) => x > t,
        (Gt, Gt) => x >= t,
        (Le, Eq | Le | Lt) => x <= t,
        (Lt, Eq | Le) => x < t,
        (Lt, Lt) => x <= t,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(code: &str, value: &str) -> Observation {
        Observation { code: code.into(), system: Some("L".into()), text: None, value: value.into(), units: None }
    }

    fn rule(op: Comparison, v: f64) -> ObservationMatch {
        ObservationMatch { code: "NEWS2".into(), system: None, op, value: Threshold::try_from(v).unwrap() }
    }

    #[test]
    fn numbers_are_read_exactly_and_anything_else_is_no_number() {
        assert_eq!(Reading::parse(" 7 ").map(|r| r.number), Some(7.0));
        assert_eq!(Reading::parse("+7.5").map(|r| r.number), Some(7.5));
        assert_eq!(Reading::parse("-0.3").map(|r| r.number), Some(-0.3));
        assert_eq!(Reading::parse(".5").map(|r| r.number), Some(0.5));
        let bound = Reading::parse(">= 90").unwrap();
        assert_eq!((bound.comparator, bound.number), (Comparison::Ge, 90.0));
        for bad in
            ["7,5", "", "high", "1e3", "inf", "NaN", "7.5.1", ".", "-", "7 mmol", "0x10", ">", "+-5", "-+5", "--5"]
        {
            assert!(Reading::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_threshold_is_proved_by_the_value_or_by_a_bound_that_leaves_no_doubt() {
        let ge7 = rule(Comparison::Ge, 7.0);
        assert!(ge7.fits(&obs("NEWS2", "7")));
        assert!(ge7.fits(&obs("NEWS2", "9")));
        assert!(!ge7.fits(&obs("NEWS2", "6")));
        assert!(ge7.fits(&obs("NEWS2", ">7")));
        assert!(!ge7.fits(&obs("NEWS2", ">6")), "more than 6 may be 6.5");
        assert!(!ge7.fits(&obs("NEWS2", "<9")), "less than 9 proves nothing about 7");
        assert!(!ge7.fits(&obs("NEWS3", "9")), "another code");
        assert!(!ge7.fits(&obs("NEWS2", "7,5")), "not a number");
        let lt1 = rule(Comparison::Lt, 1.0);
        assert!(lt1.fits(&obs("NEWS2", "<1")));
        assert!(lt1.fits(&obs("NEWS2", "0.9")));
        assert!(!lt1.fits(&obs("NEWS2", "<=1")));
        assert!(!lt1.fits(&obs("NEWS2", "1")));
        let gt5 = rule(Comparison::Gt, 5.0);
        assert!(!gt5.fits(&obs("NEWS2", "5")));
        assert!(gt5.fits(&obs("NEWS2", ">5")));
        assert!(!gt5.fits(&obs("NEWS2", ">=5")));
        assert!(rule(Comparison::Eq, 3.0).fits(&obs("NEWS2", "3.0")));
        assert!(!rule(Comparison::Eq, 3.0).fits(&obs("NEWS2", ">3")));
        assert!(rule(Comparison::Le, 3.0).fits(&obs("NEWS2", "<2")));
    }

    #[test]
    fn a_bound_that_leaves_the_threshold_possible_may_fit_and_one_that_rules_it_out_does_not() {
        let ge7 = rule(Comparison::Ge, 7.0);
        assert!(ge7.may_fit(&obs("NEWS2", ">6")) && !ge7.fits(&obs("NEWS2", ">6")));
        assert!(ge7.may_fit(&obs("NEWS2", "high")), "no number: a person must look");
        assert!(!ge7.may_fit(&obs("NEWS2", "<7")), "below 7 for certain");
        assert!(ge7.may_fit(&obs("NEWS2", "<=7")));
        assert!(!ge7.may_fit(&obs("NEWS2", "5")));
        assert!(!ge7.may_fit(&obs("HR", "high")), "a code no rule wants");
        let le3 = rule(Comparison::Le, 3.0);
        assert!(
            le3.may_fit(&obs("NEWS2", "<5")) && !le3.may_fit(&obs("NEWS2", ">3")) && le3.may_fit(&obs("NEWS2", ">=3"))
        );
        let eq3 = rule(Comparison::Eq, 3.0);
        assert!(eq3.may_fit(&obs("NEWS2", ">2")) && !eq3.may_fit(&obs("NEWS2", ">3")));
    }

    #[test]
    fn a_system_given_must_match_and_one_left_out_matches_any() {
        let mut m = rule(Comparison::Ge, 7.0);
        m.system = Some("l".into());
        assert!(m.fits(&obs("NEWS2", "8")));
        m.system = Some("LN".into());
        assert!(!m.fits(&obs("NEWS2", "8")));
        let none = Observation { system: None, ..obs("NEWS2", "8") };
        assert!(!m.fits(&none));
    }

    #[test]
    fn scopes_read_and_write_back_and_cover_by_ward_or_specialty_ignoring_case() {
        for s in ["all", "ward:Ward 7", "specialty:Renal"] {
            assert_eq!(TopicScope::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(TopicScope::parse("ward: Ward 7 ").unwrap(), TopicScope::Ward("Ward 7".into()));
        for bad in ["", "All", "ward:", "ward: ", "bed:1", "ward:a\nb", &format!("ward:{}", "w".repeat(65))] {
            assert!(TopicScope::parse(bad).is_err(), "{bad:?}");
        }
        let w7 = TopicScope::Ward("Ward 7".into());
        assert!(w7.covers(Some(" ward 7"), &[]));
        assert!(!w7.covers(Some("Ward 8"), &["Ward 7"]));
        assert!(!w7.covers(None, &[]));
        let renal = TopicScope::Specialty("ren".into());
        assert!(renal.covers(None, &["REN", "Renal medicine"]), "by its code");
        assert!(TopicScope::Specialty("renal medicine".into()).covers(None, &["REN", "Renal medicine"]), "or its name");
        assert!(!renal.covers(None, &["MED", "General medicine"]));
        assert!(TopicScope::All.covers(None, &[]));
    }

    #[test]
    fn a_topic_needs_a_name_and_someone_it_is_open_to() {
        let role = Target::Role { role: crate::role::RoleId::parse("med-reg").unwrap() };
        let mut t = AlertTopic {
            id: TopicId::parse("news2").unwrap(),
            name: "NEWS2 ≥ 7".into(),
            description: String::new(),
            open_to: vec![OpenTo::any_scope(role.clone())],
        };
        assert_eq!(t.check(), Ok(()));
        t.open_to[0].scopes = Some(vec![]);
        assert_eq!(t.check(), Err(TopicError::OpenTo), "a limit that allows nothing");
        let w7 = OpenTo { target: role, scopes: Some(vec![TopicScope::Ward("Ward 7".into())]) };
        assert!(w7.allows(&TopicScope::Ward("WARD 7".into())));
        assert!(!w7.allows(&TopicScope::All), "a ward's nurse may not take every ward's");
        let json = serde_json::to_value(&w7).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "role", "role": "med-reg", "scopes": ["ward:Ward 7"]}));
        assert_eq!(
            serde_json::from_value::<OpenTo>(serde_json::json!({"kind": "role", "role": "med-reg"})).unwrap().scopes,
            None
        );
        t.open_to.clear();
        assert_eq!(t.check(), Err(TopicError::OpenTo));
        t.name = "a\nb".into();
        assert_eq!(t.check(), Err(TopicError::Name));
        assert!(TopicId::parse("NEWS").is_err() && TopicId::parse("news_2").is_err() && TopicId::parse("").is_err());
    }

    #[test]
    fn a_subscription_narrows_to_what_is_still_open() {
        let p = |s: &str| TopicScope::parse(s).unwrap_or_else(|_| panic!("{s}"));
        let e = |chosen: &[&str], allowed: Option<&[&str]>| {
            let chosen: Vec<TopicScope> = chosen.iter().map(|s| p(s)).collect();
            let allowed: Option<Vec<TopicScope>> = allowed.map(|a| a.iter().map(|s| p(s)).collect());
            effective_scopes(&chosen, allowed.as_deref()).iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(e(&["all"], None), ["all"]);
        assert_eq!(e(&["all"], Some(&["ward:Ward 8", "ward:Ward 7"])), ["ward:Ward 7", "ward:Ward 8"]);
        assert_eq!(e(&["ward:Ward 7", "ward:Ward 9"], Some(&["all"])), ["ward:Ward 7", "ward:Ward 9"]);
        assert!(e(&["ward:Ward 9"], Some(&["ward:Ward 7"])).is_empty());
        assert!(e(&["specialty:REN"], Some(&["ward:Ward 7"])).is_empty(), "a specialty is not narrowed to a ward");
        assert_eq!(e(&["ward:WARD 7"], Some(&["ward:Ward 7"])).len(), 1, "names ignore case");
        assert_eq!(e(&["all", "specialty:REN"], Some(&["specialty:REN"])), ["specialty:REN"]);
    }
}
