//! Clinical-ish ward messages from a small generator: templates with slots filled from word
//! lists, so words come in realistic proportions (a few very common: "bed", "for"; many of
//! middling frequency: drugs, blood tests; many rare: surnames, hospital numbers).
//! Deterministic for a seed, so every run searches the same fixture.

/// A small, fast, deterministic random source (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// From a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Surnames: each is rare in the fixture (about one message in a few hundred).
pub const SURNAMES: &[&str] = &[
    "Abbott",
    "Adeyemi",
    "Ahmed",
    "Ali",
    "Allen",
    "Anderson",
    "Armstrong",
    "Atkinson",
    "Bailey",
    "Baker",
    "Banerjee",
    "Barnes",
    "Bell",
    "Bennett",
    "Bhatt",
    "Bird",
    "Booth",
    "Bowen",
    "Bradley",
    "Brennan",
    "Brooks",
    "Brown",
    "Burke",
    "Butler",
    "Campbell",
    "Carter",
    "Chapman",
    "Chaudhry",
    "Clarke",
    "Cole",
    "Collins",
    "Cook",
    "Cooper",
    "Cox",
    "Davies",
    "Dawson",
    "Dixon",
    "Doyle",
    "Duncan",
    "Edwards",
    "Ellis",
    "Evans",
    "Farah",
    "Fisher",
    "Fletcher",
    "Ford",
    "Foster",
    "Fox",
    "Gallagher",
    "Gibson",
    "Gill",
    "Graham",
    "Grant",
    "Gray",
    "Green",
    "Griffiths",
    "Hall",
    "Hamilton",
    "Harris",
    "Harrison",
    "Hart",
    "Hassan",
    "Hughes",
    "Hussain",
    "Iqbal",
    "Jackson",
    "James",
    "Jenkins",
    "Johnson",
    "Jones",
    "Kaur",
    "Kelly",
    "Kennedy",
    "Khan",
    "King",
    "Knight",
    "Kowalski",
    "Lamb",
    "Lawrence",
    "Lee",
    "Lewis",
    "Lloyd",
    "Lowe",
    "Macdonald",
    "Malik",
    "Marshall",
    "Martin",
    "Mason",
    "Matthews",
    "Mensah",
    "Miller",
    "Mills",
    "Mitchell",
    "Moore",
    "Morgan",
    "Morris",
    "Murphy",
    "Murray",
    "Nowak",
    "O'Brien",
    "Okafor",
    "Owen",
    "Palmer",
    "Parker",
    "Patel",
    "Pearson",
    "Phillips",
    "Powell",
    "Price",
    "Quinn",
    "Rahman",
    "Reid",
    "Reynolds",
    "Richards",
    "Roberts",
    "Robinson",
    "Rogers",
    "Rose",
    "Russell",
    "Ryan",
    "Saunders",
    "Scott",
    "Shah",
    "Sharma",
    "Shaw",
    "Simpson",
    "Singh",
    "Smith",
    "Spencer",
    "Stevens",
    "Stewart",
    "Sullivan",
    "Taylor",
    "Thomas",
    "Thompson",
    "Turner",
    "Walker",
    "Wallace",
    "Walsh",
    "Ward",
    "Watson",
    "Webb",
    "White",
    "Wilkinson",
    "Williams",
    "Wilson",
    "Wood",
    "Wright",
    "Yilmaz",
    "Young",
    "Zielinski",
];

/// Drugs: middling frequency.
pub const DRUGS: &[&str] = &[
    "paracetamol",
    "ibuprofen",
    "morphine",
    "oxycodone",
    "codeine",
    "furosemide",
    "bumetanide",
    "amoxicillin",
    "co-amoxiclav",
    "piperacillin",
    "tazocin",
    "gentamicin",
    "vancomycin",
    "meropenem",
    "clarithromycin",
    "doxycycline",
    "metronidazole",
    "ceftriaxone",
    "enoxaparin",
    "heparin",
    "apixaban",
    "warfarin",
    "insulin",
    "metformin",
    "gliclazide",
    "bisoprolol",
    "amlodipine",
    "ramipril",
    "atorvastatin",
    "omeprazole",
    "lansoprazole",
    "ondansetron",
    "cyclizine",
    "metoclopramide",
    "salbutamol",
    "ipratropium",
    "prednisolone",
    "hydrocortisone",
    "levothyroxine",
    "digoxin",
    "amiodarone",
    "haloperidol",
    "lorazepam",
    "naloxone",
    "sando-k",
    "magnesium",
];

/// Blood tests and observations.
pub const LABS: &[&str] = &[
    "potassium",
    "sodium",
    "creatinine",
    "urea",
    "eGFR",
    "CRP",
    "lactate",
    "haemoglobin",
    "platelets",
    "WCC",
    "neutrophils",
    "INR",
    "APTT",
    "troponin",
    "BNP",
    "glucose",
    "HbA1c",
    "magnesium",
    "phosphate",
    "calcium",
    "albumin",
    "bilirubin",
    "ALT",
    "amylase",
    "ferritin",
    "D-dimer",
];

const OBS: &[&str] = &["NEWS2", "sats", "BP", "heart rate", "resp rate", "temp", "GCS", "pain score", "fluid balance"];

const SYMPTOMS: &[&str] = &[
    "chest pain",
    "shortness of breath",
    "confusion",
    "vomiting",
    "nausea",
    "diarrhoea",
    "abdominal pain",
    "headache",
    "dizziness",
    "palpitations",
    "fever",
    "rigors",
    "reduced urine output",
    "a fall",
    "agitation",
    "drowsiness",
    "swollen calf",
    "cough",
    "wheeze",
    "bleeding from cannula site",
];

const DIAGNOSES: &[&str] = &[
    "sepsis",
    "pneumonia",
    "UTI",
    "cellulitis",
    "AKI",
    "COPD exacerbation",
    "heart failure",
    "NSTEMI",
    "PE",
    "DVT",
    "stroke",
    "delirium",
    "hypokalaemia",
    "hyperkalaemia",
    "hyponatraemia",
    "DKA",
    "GI bleed",
    "pancreatitis",
    "fractured NOF",
    "post-op day 2",
];

const PLANS: &[&str] = &[
    "repeat bloods in the morning",
    "please review",
    "for discharge tomorrow",
    "escalated to the registrar",
    "consultant aware",
    "continue current plan",
    "fluids running",
    "awaiting scan",
    "nil by mouth from midnight",
    "family updated",
    "needs a new cannula",
    "physio to see",
    "OT assessment booked",
    "TTO written",
    "chase the echo",
    "refer to the outreach team",
    "keep on the monitor",
    "strict fluid balance",
];

const WAITS: &[&str] =
    &["pharmacy", "transport", "a care package", "the echo", "the CT report", "social services", "a bed on 7B"];

const TIMES: &[&str] = &["08:00", "10:30", "12:00", "14:00", "16:30", "18:00", "20:00", "22:00", "02:00", "04:30"];

/// A ward message.
pub fn message(r: &mut Rng) -> String {
    let bed = r.below(32) + 1;
    let name = r.pick(SURNAMES);
    let value = format!("{}.{}", r.below(12), r.below(10));
    let mut text = match r.below(10) {
        0 => format!("Bed {bed}: {name} {} {value}, {}", r.pick(LABS), r.pick(PLANS)),
        1 => {
            format!("Can someone review {name} in bay {}? {} since {}", r.below(6) + 1, r.pick(SYMPTOMS), r.pick(TIMES))
        }
        2 => format!("{} {}mg given to bed {bed} at {}", r.pick(DRUGS), (r.below(20) + 1) * 5, r.pick(TIMES)),
        3 => format!(
            "Bloods back for {name}: {} {value}, {} {}.{}",
            r.pick(LABS),
            r.pick(LABS),
            r.below(150),
            r.below(10)
        ),
        4 => format!("Handover: {name} bed {bed}, {}, {}", r.pick(DIAGNOSES), r.pick(PLANS)),
        5 => format!("Family of {name} asking for an update, {}", r.pick(PLANS)),
        6 => format!("{name} discharge delayed, waiting for {}", r.pick(WAITS)),
        7 => format!("{} for bed {bed} is {}, {}", r.pick(OBS), r.below(10), r.pick(PLANS)),
        8 => format!("Please prescribe {} for {name}, {}", r.pick(DRUGS), r.pick(DIAGNOSES)),
        _ => format!("ok, thanks, {}", r.pick(PLANS)),
    };
    // Now and then a hospital number: almost unique words.
    if r.chance(5) {
        text.push_str(&format!(" (RX{:07})", r.below(10_000_000)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_varied() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<String> = (0..200).map(|_| message(&mut a)).collect();
        let ys: Vec<String> = (0..200).map(|_| message(&mut b)).collect();
        assert_eq!(xs, ys);
        let distinct: std::collections::HashSet<&String> = xs.iter().collect();
        assert!(distinct.len() > 190, "varied");
    }
}
