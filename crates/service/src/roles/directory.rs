//! The directory's view of roles: a search finds roles by the words of their name, department,
//! site and id ("on call cardiology", "med reg"), and a person's entry names the roles they
//! hold now.

use wardline_types::{Account, Role, RoleDefinition};

use super::RoleService;
use crate::ServiceResult;

/// One entry of a directory search.
#[derive(Debug, Clone)]
pub enum DirectoryEntry {
    /// A role, with its holders now.
    Role(Role),
    /// A person, with the roles they hold now.
    Person(Account, Vec<Role>),
}

/// The words of `text`: runs of letters and digits, lower case.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Does every word of `term` begin a word of the role (its name, department, site or id, or two
/// neighbouring words written together: "oncall" finds "On-call")? Case does not matter; a
/// term without words matches nothing.
#[must_use]
pub fn matches(role: &RoleDefinition, term: &str) -> bool {
    let wanted = words(term);
    if wanted.is_empty() {
        return false;
    }
    let mut have = Vec::new();
    for field in [Some(role.name.as_str()), role.department.as_deref(), role.site.as_deref(), Some(role.id.as_str())]
        .into_iter()
        .flatten()
    {
        let w = words(field);
        have.extend(w.windows(2).map(|p| p.concat()));
        have.extend(w);
    }
    wanted.iter().all(|t| have.iter().any(|w| w.starts_with(t.as_str())))
}

impl RoleService {
    /// The directory: roles whose words the term begins (first, by name), then people as
    /// [`crate::accounts::AccountService::search_directory`] finds them with the roles they hold;
    /// at most `limit` entries, and whether there were more.
    pub async fn search_directory(&self, term: &str, limit: usize) -> ServiceResult<(Vec<DirectoryEntry>, bool)> {
        let limit = limit.clamp(1, 100);
        let roles = self.list(false).await?;
        let mut found: Vec<&Role> = roles.iter().filter(|r| matches(&r.definition, term)).collect();
        found.sort_by_key(|r| r.definition.name.to_lowercase());
        let mut entries: Vec<DirectoryEntry> =
            found.into_iter().take(limit + 1).cloned().map(DirectoryEntry::Role).collect();
        let room = (limit + 1).saturating_sub(entries.len());
        if room > 0 {
            for account in self.accounts.search_directory(term, room).await? {
                let held =
                    roles.iter().filter(|r| r.holders.iter().any(|h| h.user_id == account.user_id)).cloned().collect();
                entries.push(DirectoryEntry::Person(account, held));
            }
        }
        let limited = entries.len() > limit;
        entries.truncate(limit);
        Ok((entries, limited))
    }
}

#[cfg(test)]
mod tests {
    use wardline_types::{Eligibility, RoleId};

    use super::*;

    fn role(name: &str, department: Option<&str>, site: Option<&str>) -> RoleDefinition {
        RoleDefinition {
            id: RoleId::parse("r1").unwrap(),
            name: name.into(),
            department: department.map(str::to_owned),
            site: site.map(str::to_owned),
            bleep: None,
            eligibility: Eligibility::default(),
            may_be_empty: true,
            fallback: None,
        }
    }

    #[test]
    fn words_begin_words_of_the_name_department_or_site() {
        let reg = role("Medical Registrar On-call", Some("Cardiology"), Some("North Wing"));
        for term in ["med reg", "on call cardiology", "ONCALL", "registrar north", "cardio", "  med   "] {
            assert!(matches(&reg, term), "{term:?}");
        }
        for term in ["surgical", "edical", "med surg", "", " - ", "call-centre"] {
            assert!(!matches(&reg, term), "{term:?}");
        }
        assert!(!matches(&role("Ward 7 Nurse in Charge", None, None), "ward 7 nic"), "no initialisms");
        assert!(matches(&role("Ward 7 Nurse in Charge", None, None), "ward 7 nurse"));
    }
}
