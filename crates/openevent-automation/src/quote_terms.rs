//! The payment and validity days an offer states: the assigned workflow's, where it sets them,
//! else the organization's. Each term is resolved on its own, so a workflow may override one.

use serde::Serialize;

use crate::definition::Workflow;
use crate::settings::QuoteTerms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TermSource {
    Workflow,
    Organization,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResolvedTerms {
    pub payment_days: u16,
    pub payment_days_from: TermSource,
    pub validity_days: u16,
    pub validity_days_from: TermSource,
}

impl ResolvedTerms {
    pub fn terms(&self) -> QuoteTerms {
        QuoteTerms {
            payment_days: self.payment_days,
            validity_days: self.validity_days,
        }
    }
}

/// The terms for an offer on a booking assigned `workflow` (none: the organization's).
/// A disabled workflow's terms still apply: the assignment, not the sending, decides the offer.
pub fn resolve(workflow: Option<&Workflow>, org: QuoteTerms) -> ResolvedTerms {
    let own = workflow.map(|w| w.spec().quote_terms).unwrap_or_default();
    let pick = |own: Option<u16>, org: u16| match own {
        Some(d) => (d, TermSource::Workflow),
        None => (org, TermSource::Organization),
    };
    let (payment_days, payment_days_from) = pick(own.payment_days, org.payment_days);
    let (validity_days, validity_days_from) = pick(own.validity_days, org.validity_days);
    ResolvedTerms {
        payment_days,
        payment_days_from,
        validity_days,
        validity_days_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::QuoteTermOverrides;
    use crate::library;

    const ORG: QuoteTerms = QuoteTerms {
        payment_days: 30,
        validity_days: 14,
    };

    #[test]
    fn workflow_terms_override_the_organization_per_term() {
        let mut spec = library::get("offer-follow-up").unwrap().into_spec();
        spec.quote_terms = QuoteTermOverrides {
            payment_days: Some(10),
            validity_days: None,
        };
        let w = Workflow::new(spec).unwrap();
        let r = resolve(Some(&w), ORG);
        assert_eq!(
            (r.payment_days, r.payment_days_from),
            (10, TermSource::Workflow)
        );
        assert_eq!(
            (r.validity_days, r.validity_days_from),
            (14, TermSource::Organization)
        );
    }

    #[test]
    fn without_workflow_or_overrides_the_organization_decides() {
        assert_eq!(resolve(None, ORG).terms(), ORG);
        let plain = library::get("offer-follow-up").unwrap();
        assert_eq!(resolve(Some(&plain), ORG).terms(), ORG);
    }
}
