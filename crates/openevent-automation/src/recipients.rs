//! Who a step reaches: its audience resolved against the booking's contacts, plus the custom
//! addresses it names, trimmed and de-duplicated (emails case-insensitively, phones in E.164).

use std::collections::BTreeSet;

use openevent_core::ClientEmail;
use serde::{Deserialize, Serialize};

use crate::booking::{BookingSnapshot, Subject};
use crate::definition::{Audience, Channel, RecipientSpec};
use crate::ids::StaffId;
use crate::phone::{Country, E164};

/// Where one delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
pub enum Address {
    /// Lowercased.
    Email(String),
    Phone(E164),
    /// A task for this staff member.
    Staff(StaffId),
    /// A task nobody is assigned to yet: the organization's queue.
    TaskQueue,
    Webhook(String),
}

impl Address {
    /// A stable text form for keys and logs.
    pub fn key(&self) -> String {
        match self {
            Address::Email(e) => format!("email:{e}"),
            Address::Phone(p) => format!("phone:{p}"),
            Address::Staff(s) => format!("staff:{s}"),
            Address::TaskQueue => "task-queue".to_owned(),
            Address::Webhook(u) => format!("webhook:{u}"),
        }
    }
}

/// A recipient the step asked for but the booking cannot provide (the client left no phone
/// number for an SMS step). Reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub who: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    pub addresses: Vec<Address>,
    pub unreachable: Vec<Unreachable>,
}

/// Parses an email the way client keys are parsed (trimmed, lowercased).
pub fn normalise_email(raw: &str) -> Result<String, String> {
    ClientEmail::parse(raw)
        .map(|e| e.as_str().to_owned())
        .map_err(|e| e.reason)
}

struct Person<'a> {
    who: String,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    staff: Option<&'a StaffId>,
}

/// Resolves a step's recipients for `channel` against the booking.
pub fn resolve(
    spec: &RecipientSpec,
    channel: Channel,
    booking: &BookingSnapshot,
    subject: &Subject,
    country: Country,
) -> Resolved {
    let mut out = Resolved::default();
    let mut seen = BTreeSet::new();
    let mut push = |out: &mut Resolved, a: Address| {
        if seen.insert(a.clone()) {
            out.addresses.push(a);
        }
    };
    if channel == Channel::Webhook {
        match &spec.webhook_url {
            Some(url) => push(&mut out, Address::Webhook(url.trim().to_owned())),
            None => out.unreachable.push(Unreachable {
                who: "webhook".into(),
                reason: "no webhook_url".into(),
            }),
        }
        return out;
    }
    let mut people = Vec::new();
    for audience in &spec.audience {
        match audience {
            Audience::Client => people.push(Person {
                who: "client".into(),
                email: booking.client.email.as_deref(),
                phone: booking.client.phone.as_deref(),
                staff: None,
            }),
            Audience::AssignedManager => {
                // For an appointment, the staff member running it stands in for the manager.
                let staff = match subject {
                    Subject::Appointment { id } => booking
                        .appointment(id)
                        .and_then(|a| a.staff.as_ref())
                        .or(booking.manager.as_ref()),
                    Subject::Booking => booking.manager.as_ref(),
                };
                match staff {
                    Some(m) => people.push(Person {
                        who: "assigned_manager".into(),
                        email: m.email.as_deref(),
                        phone: m.phone.as_deref(),
                        staff: Some(&m.id),
                    }),
                    None if channel == Channel::Task => push(&mut out, Address::TaskQueue),
                    None => out.unreachable.push(Unreachable {
                        who: "assigned_manager".into(),
                        reason: "the booking has no assigned manager".into(),
                    }),
                }
            }
            Audience::Partners => {
                for (i, p) in booking.partners.iter().enumerate() {
                    people.push(Person {
                        who: format!("partners[{i}]"),
                        email: p.email.as_deref(),
                        phone: p.phone.as_deref(),
                        staff: None,
                    });
                }
            }
        }
    }
    for person in people {
        let found = match channel {
            Channel::Email => person
                .email
                .ok_or("has no email address")
                .and_then(|e| normalise_email(e).map_err(|_| "has an invalid email address"))
                .map(Address::Email),
            Channel::Sms | Channel::Whatsapp => person
                .phone
                .ok_or("has no phone number")
                .and_then(|p| E164::parse(p, country).map_err(|_| "has an invalid phone number"))
                .map(Address::Phone),
            Channel::Task => person
                .staff
                .cloned()
                .map(Address::Staff)
                .ok_or("is not staff: tasks go to staff members"),
            Channel::Webhook => unreachable!("handled above"),
        };
        match found {
            Ok(a) => push(&mut out, a),
            Err(reason) => out.unreachable.push(Unreachable {
                who: person.who,
                reason: reason.to_owned(),
            }),
        }
    }
    match channel {
        Channel::Email | Channel::Task => {
            for e in &spec.emails {
                // Validated with the definition; a task step's emails are notified by email
                // separately, so they are only honoured for the email channel.
                if channel == Channel::Email
                    && let Ok(e) = normalise_email(e)
                {
                    push(&mut out, Address::Email(e));
                }
            }
        }
        Channel::Sms | Channel::Whatsapp => {
            for p in &spec.phones {
                if let Ok(p) = E164::parse(p, country) {
                    push(&mut out, Address::Phone(p));
                }
            }
        }
        Channel::Webhook => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{Contact, StaffMember};
    use crate::testing::booking;

    fn spec(audience: &[Audience], emails: &[&str], phones: &[&str]) -> RecipientSpec {
        RecipientSpec {
            audience: audience.to_vec(),
            emails: emails.iter().map(|s| s.to_string()).collect(),
            phones: phones.iter().map(|s| s.to_string()).collect(),
            webhook_url: None,
        }
    }

    #[test]
    fn emails_are_trimmed_and_deduplicated_case_insensitively() {
        let mut b = booking();
        b.client.email = Some(" Laura.Meier@Example.COM ".into());
        b.manager = Some(StaffMember {
            id: StaffId::parse("u-1").unwrap(),
            name: "Sara".into(),
            email: Some("sara@atelier.example".into()),
            phone: None,
        });
        let r = resolve(
            &spec(
                &[Audience::Client, Audience::AssignedManager],
                &[
                    "laura.meier@example.com",
                    "SARA@atelier.example ",
                    "events@atelier.example",
                ],
                &[],
            ),
            Channel::Email,
            &b,
            &Subject::Booking,
            Country::CH,
        );
        assert_eq!(
            r.addresses,
            vec![
                Address::Email("laura.meier@example.com".into()),
                Address::Email("sara@atelier.example".into()),
                Address::Email("events@atelier.example".into()),
            ]
        );
        assert!(r.unreachable.is_empty());
    }

    #[test]
    fn phones_are_normalised_before_deduplication() {
        let mut b = booking();
        b.client.phone = Some("079 123 45 67".into());
        b.partners = vec![
            Contact {
                name: Some("Caterer".into()),
                email: None,
                phone: Some("+41 79 123 45 67".into()),
            },
            Contact {
                name: Some("Florist".into()),
                email: Some("flowers@example.com".into()),
                phone: None,
            },
        ];
        let r = resolve(
            &spec(
                &[Audience::Client, Audience::Partners],
                &[],
                &["0041 79 123 45 67"],
            ),
            Channel::Sms,
            &b,
            &Subject::Booking,
            Country::CH,
        );
        assert_eq!(
            r.addresses,
            vec![Address::Phone(
                E164::parse("+41791234567", Country::CH).unwrap()
            )]
        );
        assert_eq!(r.unreachable.len(), 1);
        assert_eq!(r.unreachable[0].who, "partners[1]");
    }

    #[test]
    fn a_task_without_manager_goes_to_the_queue() {
        let mut b = booking();
        b.manager = None;
        let r = resolve(
            &spec(&[Audience::AssignedManager], &[], &[]),
            Channel::Task,
            &b,
            &Subject::Booking,
            Country::CH,
        );
        assert_eq!(r.addresses, vec![Address::TaskQueue]);
    }
}
