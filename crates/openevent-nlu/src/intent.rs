//! Intent classification: an explicit, ordered rule table over the signals, the entities and
//! the booking the message belongs to. The first rule that fires decides.
//!
//! | # | rule                | fires when                                                        | intent             |
//! |---|---------------------|-------------------------------------------------------------------|--------------------|
//! | 1 | `noise`             | auto-reply, newsletter, spam, job application; no booking facts   | non_event          |
//! | 2 | `manager`           | asks for a person / manager                                       | message_manager    |
//! | 3 | `deposit`           | a payment sentence in the past tense ("we paid the deposit")      | deposit_paid       |
//! | 4 | `rejection`         | cancels / declines the whole booking                              | decline_offer      |
//! | 5 | `site_visit`        | asks to view the venue (and is not a fresh inquiry with facts)    | site_visit_request |
//! | 6 | `change`            | `detect_change_type`: date/room/requirements/products/commercial; | edit_* / counter / |
//! |   |                     | a client-info update without acceptance                           | general_qna        |
//! | 7 | `counter`           | price negotiation while an offer exists or is named               | counter_offer      |
//! | 8 | `confirm_date`      | booking's date not confirmed, message gives a date or agrees      | confirm_date       |
//! | 9 | `accept`            | agreement while an offer exists or is named                       | accept_offer       |
//! |10 | `acceptance_billing`| billing address sent to a booking with an offer                   | accept_offer       |
//! |11 | `inquiry`           | booking facts or booking words (no booking yet, or at Step 1)     | event_request      |
//! |12 | `question`          | anything asked                                                    | general_qna        |
//! |13 | fallback            | a booking exists: general_qna; none: non_event                    |                    |

use std::sync::LazyLock;

use openevent_core::Event;
use openevent_core::dag::ChangeType;
use openevent_core::understanding::{Entities, Intent};

use crate::signals::Read;
use crate::text::Re;
use crate::text::sentences;

fn re(p: &str) -> Re {
    Re::new(p)
}

static NOISE: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:out of office|out of the office|automatic reply|auto-reply|autoreply|abwesenheitsnotiz|abwesenheit|automatische antwort|bin ich abwesend|réponse automatique|absent du bureau|risposta automatica|fuori ufficio|respuesta automática|fuera de la oficina|unsubscribe|newsletter|abmelden|se désabonner|désinscrire|disiscriviti|darse de baja|delivery status notification|undeliverable|mailer-daemon|seo|backlinks|search engine|google ranking|crypto|bitcoin|lottery|you have won|inheritance|viagra|web design services|increase your traffic|job application|application for the position|bewerbung|stelle als|candidature|candidatura|solicitud de empleo|webinar invitation|special offer for you|limited time offer|verify your account|password expires|invoice attached for payment)\b",
    )
});

static DEPOSIT_NOUN: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:deposit|down payment|payment|invoice|anzahlung|zahlung|rechnung|betrag|acompte|paiement|facture|montant|acconto|caparra|pagamento|fattura|importo|depósito|anticipo|pago|factura|importe|transfer|überweisung|virement|bonifico|transferencia)",
    )
});

static PAID_VERB: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:paid|transferred|wired|sent|settled|made the|been made|was made|bezahlt|überwiesen|einbezahlt|beglichen|getätigt|veranlasst|payé|payée|versé|viré|réglé|effectué|erfolgt|pagato|versato|bonificato|saldato|effettuato|pagado|transferido|abonado|realizado|hecho la|enviado)\b",
    )
});

static STRICT_PAID: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:(?:have|has|had|already|just) (?:been )?(?:paid|transferred)|bezahlt|überwiesen|einbezahlt|(?:avons|a|déjà) (?:payé|versé|viré)|(?:abbiamo|già|appena) (?:pagato|versato|bonificato)|(?:hemos|ya) (?:pagado|transferido))\b",
    )
});

static WE_DID: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:we have|we've|we|i have|i've|haben wir|wir haben|habe ich|ich habe|nous avons|j'ai|abbiamo|ho|hemos|he)\b",
    )
});

static SITE_VISIT: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:site visit|viewing|visit the (?:venue|rooms?|location|space|atelier)|visit you|come by|come and see|come over|see the (?:rooms?|venue|space|location)|look at the rooms?|tour of|besichtigung|besichtigen|vorbeikommen|anschauen|ansehen|visite|visiter|venir voir|sopralluogo|visitare|vedere la sala|vedere gli spazi|visita|visitar|ver la sala|ver el espacio)\b",
    )
});

static COUNTER: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:discount|rabatt|remise|réduction|sconto|descuento|too expensive|too high|too pricey|zu teuer|zu hoch|trop cher|trop élevé|troppo caro|troppo alto|troppo costoso|demasiado caro|demasiado alto|muy caro|lower the price|reduce the price|better price|best price|cheaper|günstiger|preisnachlass|entgegenkommen|meilleur prix|moins cher|prezzo migliore|più economico|mejor precio|más barato|our budget|unser budget|notre budget|il nostro budget|nuestro presupuesto|budget is|can you do|could you do|would you accept|würden sie|match (?:the|their|a) (?:offer|price)|competitor|konkurrenz|concurrent|concorrente|competencia|final price|letztes angebot|preis scheint|eher hoch|ziemlich hoch|dernière offre|ultima offerta|última oferta|better rate|lower rate|special rate|reduced rate|except the price|final offer|budgeted|seems (?:quite |very |rather )?(?:high|expensive|steep)|letzter preis|prix final|prezzo finale|precio final|negotiat|verhandel|négoci|negozi|negoci|i offer|we offer|we can pay|we could pay|wir bieten|nous proposons|offriamo|ofrecemos|deal\?)",
    )
});

static OFFER_WORD: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:offer|quote|quotation|proposal|angebot|offerte|offre|devis|proposition|offerta|preventivo|proposta|oferta|presupuesto|propuesta)\b",
    )
});

static BOOK_WORD: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:book|booking|reserve|reservation|inquiry|enquiry|availability|available|venue|event|host|hold|buchen|buchung|reservieren|reservierung|anfrage|offerte|verfügbar|verfügbarkeit|veranstaltung|anlass|durchführen|réserver|réservation|demande|devis|disponible|disponibilité|événement|organiser|prenotare|prenotazione|richiesta|preventivo|disponibilità|evento|organizzare|reservar|reserva|solicitud|presupuesto|disponibilidad|organizar)\b",
    )
});

/// What the intent rules look at.
pub struct Features<'a> {
    pub lower: &'a str,
    pub signals: &'a Read,
    pub entities: &'a Entities,
    pub event: Option<&'a Event>,
    pub change: Option<ChangeType>,
}

impl Features<'_> {
    fn has_offer(&self) -> bool {
        self.event
            .is_some_and(|e| !e.offers.is_empty() || e.current_step.number() >= 4)
            || OFFER_WORD.is_match(self.lower)
    }

    fn has_booking_facts(&self) -> bool {
        self.booking_facts() > 0
    }

    /// How many distinct booking facts the message states (date, head count, kind, room, time).
    fn booking_facts(&self) -> usize {
        let e = self.entities;
        [
            e.date.is_some(),
            e.participants.is_some(),
            e.event_type.is_some(),
            e.room.is_some(),
            e.start_time.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count()
    }

    fn at_intake(&self) -> bool {
        self.event.is_none_or(|e| e.current_step.number() == 1)
    }
}

type Rule = fn(&Features<'_>) -> Option<(Intent, u16)>;

const RULES: &[(&str, Rule)] = &[
    ("noise", noise),
    ("manager", manager),
    ("deposit", deposit),
    ("rejection", rejection),
    ("site_visit", site_visit),
    ("confirm_date", confirm_date),
    ("change", change),
    ("counter", counter),
    ("accept", accept),
    ("acceptance_billing", acceptance_billing),
    ("inquiry", inquiry),
    ("question", question),
];

/// The intent and its confidence in per-mille.
pub fn classify(f: &Features<'_>) -> (Intent, u16) {
    RULES
        .iter()
        .find_map(|(_, rule)| rule(f))
        .unwrap_or(if f.event.is_some() {
            (Intent::GeneralQna, 500)
        } else {
            (Intent::NonEvent, 600)
        })
}

fn noise(f: &Features<'_>) -> Option<(Intent, u16)> {
    let facts = f.entities.date.is_some() && f.entities.participants.is_some();
    (NOISE.is_match(f.lower) && !facts).then_some((Intent::NonEvent, 900))
}

fn manager(f: &Features<'_>) -> Option<(Intent, u16)> {
    f.signals.manager.then_some((Intent::MessageManager, 900))
}

fn deposit(f: &Features<'_>) -> Option<(Intent, u16)> {
    // Each pattern starts and ends with a word character between `\b`s, and a sentence is
    // bounded by non-word characters, so a pattern that matches no sentence matches nowhere:
    // the whole-text checks only skip the sentence scans when they cannot succeed.
    if !DEPOSIT_NOUN.is_match(f.lower) {
        return None;
    }
    let paid = PAID_VERB.is_match(f.lower);
    let strict = STRICT_PAID.is_match(f.lower);
    if !paid && !strict {
        return None;
    }
    let sentences = sentences(f.lower);
    let in_one_sentence = paid
        && sentences.iter().any(|(_, s)| {
            let asked = s.trim_end().ends_with('?') && !WE_DID.is_match(s);
            DEPOSIT_NOUN.is_match(s) && PAID_VERB.is_match(s) && !asked
        });
    let across = strict
        && sentences
            .iter()
            .any(|(_, s)| STRICT_PAID.is_match(s) && !s.trim_end().ends_with('?'));
    (in_one_sentence || across).then_some((Intent::DepositPaid, 850))
}

fn rejection(f: &Features<'_>) -> Option<(Intent, u16)> {
    f.signals.rejection.then_some((Intent::DeclineOffer, 850))
}

fn site_visit(f: &Features<'_>) -> Option<(Intent, u16)> {
    if !SITE_VISIT.is_match(f.lower) {
        return None;
    }
    let fresh_inquiry = f.event.is_none() && f.entities.participants.is_some();
    (!fresh_inquiry).then_some((Intent::SiteVisitRequest, 850))
}

fn counter(f: &Features<'_>) -> Option<(Intent, u16)> {
    (COUNTER.is_match(f.lower)
        && f.has_offer()
        && !(f.event.is_none()
            && f.entities.participants.is_some()
            && !OFFER_WORD.is_match(f.lower)))
    .then_some((Intent::CounterOffer, 850))
}

fn change(f: &Features<'_>) -> Option<(Intent, u16)> {
    let intent = match f.change? {
        ChangeType::Date => Intent::EditDate,
        ChangeType::Room => Intent::EditRoom,
        ChangeType::Requirements => Intent::EditRequirements,
        ChangeType::Products => Intent::EditProducts,
        ChangeType::Commercial => Intent::CounterOffer,
        ChangeType::SiteVisit => Intent::SiteVisitRequest,
        ChangeType::ClientInfo if !f.signals.acceptance => return Some((Intent::GeneralQna, 700)),
        ChangeType::Deposit | ChangeType::ClientInfo => return None,
    };
    Some((intent, 850))
}

fn confirm_date(f: &Features<'_>) -> Option<(Intent, u16)> {
    let e = f.event?;
    if e.date_confirmed || e.current_step.number() > 3 {
        return None;
    }
    (f.entities.date.is_some() || f.signals.acceptance && e.chosen_date.is_some())
        .then_some((Intent::ConfirmDate, 850))
}

fn accept(f: &Features<'_>) -> Option<(Intent, u16)> {
    (f.signals.acceptance && f.has_offer()).then_some((Intent::AcceptOffer, 900))
}

fn acceptance_billing(f: &Features<'_>) -> Option<(Intent, u16)> {
    let e = f.event?;
    (f.entities.billing_address.is_some() && e.current_step.number() >= 4 && !f.signals.question)
        .then_some((Intent::AcceptOffer, 700))
}

fn inquiry(f: &Features<'_>) -> Option<(Intent, u16)> {
    if !f.at_intake() {
        return None;
    }
    let words = BOOK_WORD.find_iter(f.lower).count();
    let facts = f.has_booking_facts();
    match (facts, words) {
        (true, w) if w >= 1 => Some((Intent::EventRequest, 950)),
        // Two facts of an event ("Room C on 20.05. for 60 guests") make an inquiry without the word.
        (true, _) if f.booking_facts() >= 2 => Some((Intent::EventRequest, 900)),
        (true, _) => Some((Intent::EventRequest, 800)),
        (false, w) if w >= 2 && !f.signals.question => Some((Intent::EventRequest, 700)),
        _ => None,
    }
}

fn question(f: &Features<'_>) -> Option<(Intent, u16)> {
    f.signals.question.then_some((Intent::GeneralQna, 750))
}
