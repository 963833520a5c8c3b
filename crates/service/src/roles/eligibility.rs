//! Who may hold a role: the one rule, used by swipe in, handover and holders set by an
//! administrator.

use wardline_types::{Account, Eligibility};

/// Does `eligibility` admit this account: named, or with a job title or department it lists
/// (compared without regard to case or surrounding spaces)? A deactivated account never is.
#[must_use]
pub fn admits(eligibility: &Eligibility, account: &Account) -> bool {
    if account.deactivated {
        return false;
    }
    let same = |listed: &[String], value: Option<&str>| {
        value.map(str::trim).is_some_and(|v| !v.is_empty() && listed.iter().any(|l| l.trim().eq_ignore_ascii_case(v)))
    };
    eligibility.users.contains(&account.user_id)
        || same(&eligibility.job_titles, account.job_title.as_deref())
        || same(&eligibility.departments, account.department.as_deref())
}

#[cfg(test)]
mod tests {
    use ruma::owned_user_id;
    use wardline_types::Timestamp;

    use super::*;

    fn account(job_title: Option<&str>, department: Option<&str>) -> Account {
        Account {
            user_id: owned_user_id!("@ada:h"),
            display_name: None,
            avatar_url: None,
            is_admin: false,
            must_change_password: false,
            deactivated: false,
            job_title: job_title.map(str::to_owned),
            department: department.map(str::to_owned),
            email: None,
            phone: None,
            created_at: Timestamp(0),
            last_sign_in: None,
            may_broadcast: false,
        }
    }

    #[test]
    fn any_entry_admits() {
        let e = Eligibility {
            users: vec![owned_user_id!("@ben:h")],
            job_titles: vec!["Specialty Registrar".into()],
            departments: vec!["Acute Medicine".into()],
        };
        assert!(admits(&e, &account(Some(" specialty registrar"), None)), "title, any case");
        assert!(admits(&e, &account(None, Some("ACUTE MEDICINE"))), "department");
        assert!(!admits(&e, &account(Some("Registrar"), Some("Cardiology"))), "no partial matches");
        assert!(!admits(&e, &account(Some(""), Some(""))), "empty values never match");
        let mut named = account(None, None);
        named.user_id = owned_user_id!("@ben:h");
        assert!(admits(&e, &named), "named");
        named.deactivated = true;
        assert!(!admits(&e, &named), "deactivated accounts hold nothing");
        assert!(!admits(&Eligibility::default(), &account(Some("x"), Some("y"))), "empty: nobody");
    }
}
