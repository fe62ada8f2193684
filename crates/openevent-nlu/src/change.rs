//! Change detection: a change needs BOTH a revision cue ("instead", "verschieben", "plutôt",
//! …) AND a bound target — a new value among the entities that differs from the booking, or
//! an anaphoric reference ("that date", "das Datum", "the room").
//!
//! | target found                                         | change        |
//! |------------------------------------------------------|---------------|
//! | site visit word in a revision sentence               | site_visit    |
//! | deposit word in a revision sentence                  | deposit       |
//! | new date (date confirmed) / "the date"               | date          |
//! | new room / "the room", "another room"                | room          |
//! | participants, layout, times differ / "the headcount" | requirements  |
//! | products added or removed                            | products      |
//! | price, discount, budget in a revision sentence       | commercial    |
//! | billing address or contact / "the billing address"   | client_info   |
//!
//! A new date while the booking's date is not yet confirmed is the normal flow: no change.

use std::sync::LazyLock;

use openevent_core::Event;
use openevent_core::dag::ChangeType;
use openevent_core::understanding::Understanding;

use crate::quotes::strip_quoted;
use crate::text::Re;
use crate::text::sentences;

fn re(p: &str) -> Re {
    Re::new(p)
}

static REVISION: LazyLock<Re> = LazyLock::new(|| {
    re(
        r",\s*(?:not|nicht|pas|non|no)\b|\b(?:change|changing|changed|instead|actually|push|shift|bring forward|vorziehen|avancer|anticipare|adelantar|retrasar|move|moving|moved|postpone|reschedule|switch|swap|rather|prefer|update|updated|increase|decrease|reduce|modify|amend|correct|correction|new|now|add|remove|drop|without|no longer|what about|how about|could we do|can we do|verschieben|verlegen|stattdessen|statt|anstatt|doch lieber|doch|lieber|ändern|änderung|anpassen|korrigieren|erhöhen|reduzieren|neu|neue|neuen|nun|jetzt|wechseln|tauschen|hinzufügen|streichen|ohne|plutôt|au lieu de|changer|modifier|déplacer|reporter|décaler|nouvelle|nouveau|ajouter|retirer|supprimer|maintenant|invece|cambiare|spostare|rinviare|modificare|nuova|nuovo|aggiungere|togliere|ora|en lugar de|en vez de|cambiar|mover|aplazar|modificar|nueva|nuevo|añadir|quitar|ahora|mejor)\b",
    )
});

static STRONG: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:change|instead|actually|move|postpone|reschedule|switch|rather|later|earlier|another|different|modify|amend|verschieben|verlegen|stattdessen|doch lieber|lieber|ändern|später|früher|anderen|anderes|plutôt|au lieu de|changer|modifier|déplacer|reporter|décaler|plus tard|autre|invece|cambiare|spostare|rinviare|più tardi|altro|altra|en lugar de|en vez de|cambiar|mover|aplazar|más tarde|otro|otra)\b",
    )
});

static DATE_REF: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:that date|the date|this date|our date|another date|a different date|another day|das datum|den termin|einen anderen termin|ein anderes datum|la date|une autre date|la data|un'altra data|la fecha|otra fecha|otro día)\b",
    )
});

static ROOM_SIZE_REF: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:another room|a different room|(?:a )?(?:bigger|larger|smaller) room|einen anderen raum|einen (?:grösseren|größeren|kleineren) raum|une autre salle|une salle plus (?:grande|petite)|un'altra sala|una sala più (?:grande|piccola)|otra sala|una sala más (?:grande|pequeña))\b",
    )
});

static PRODUCT_CUE: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:like|want|need|also|please|could we|can we|können wir|könnten wir|dazu|zusätzlich|auch noch|brauchen|möchten|hätten gerne|bitte|voudrions|souhaitons|aimerions|merci de|vorremmo|vorrei|per favore|quisiéramos|necesitamos|queremos|por favor)\b",
    )
});

static ROOM_REF: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:the room|another room|a different room|a bigger room|a larger room|a smaller room|bigger room|larger room|smaller room|den raum|einen anderen raum|einen grösseren raum|einen größeren raum|einen kleineren raum|la salle|une autre salle|une salle plus grande|la sala|un'altra sala|una sala più grande|otra sala|una sala más grande)\b",
    )
});

static REQ_REF: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:number of (?:participants|guests|people|attendees)|headcount|head count|guest count|the layout|the seating|the setup|the times?|start time|end time|teilnehmerzahl|personenzahl|anzahl (?:personen|gäste|teilnehmende)|bestuhlung|uhrzeit|zeiten|beginn|le nombre de (?:personnes|participants)|la disposition|l'horaire|les horaires|il numero di (?:persone|partecipanti)|la disposizione|l'orario|el número de (?:personas|invitados)|la disposición|el horario|dietary|allerg|vegan|wheelchair|accessib|rollstuhl)",
    )
});

static DEPOSIT: LazyLock<Re> = LazyLock::new(|| {
    re(r"\b(?:deposit|down payment|anzahlung|acompte|acconto|caparra|depósito|anticipo)\b")
});

static VISIT: LazyLock<Re> = LazyLock::new(|| {
    re(r"\b(?:site visit|viewing|visit|besichtigung|besichtigen|visite|sopralluogo|visita)\b")
});

static COMMERCIAL: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:price|pricing|discount|budget|cheaper|rate|total|rabatt|preis|budget|günstiger|prix|remise|réduction|tarif|prezzo|sconto|precio|descuento|presupuesto)\b",
    )
});

static CLIENT_REF: LazyLock<Re> = LazyLock::new(|| {
    re(
        r"\b(?:billing address|invoice address|our address|company name|contact person|phone number|rechnungsadresse|adresse|firmenname|ansprechperson|telefonnummer|adresse de facturation|indirizzo|dirección)\b",
    )
});

/// Whether the message revises something (cue + target), without knowing the booking.
pub fn has_revision(lower: &str) -> bool {
    REVISION.is_match(lower)
}

/// What kind of change the message asks for, if any. `text` may include quoted history; it is
/// stripped here, so quoted history never triggers a change.
pub fn detect_change_type(event: &Event, u: &Understanding, text: &str) -> Option<ChangeType> {
    let lower = strip_quoted(text).to_lowercase();
    let revision_sentences: Vec<&str> = sentences(&lower)
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| REVISION.is_match(s))
        .collect();
    let e = &u.entities;
    let products = !e.products_add.is_empty() || !e.products_remove.is_empty();
    if revision_sentences.is_empty() {
        // Asking for products ("we'd like 3 extra chairs") is itself the revision of an order.
        // Removing something ("the wine package is not needed") is always a revision.
        let asked = products && PRODUCT_CUE.is_match(&lower) || !e.products_remove.is_empty();
        return asked.then_some(ChangeType::Products);
    }
    let in_revision = |r: &Re| revision_sentences.iter().any(|s| r.is_match(s));
    let in_strong = |r: &Re| {
        revision_sentences
            .iter()
            .any(|s| r.is_match(s) && STRONG.is_match(s))
    };
    if in_strong(&VISIT) {
        return Some(ChangeType::SiteVisit);
    }
    if in_strong(&DEPOSIT) {
        return Some(ChangeType::Deposit);
    }
    let new_date = e.date.is_some_and(|d| event.chosen_date != Some(d));
    if event.date_confirmed && new_date {
        return Some(ChangeType::Date);
    }
    let req = event.requirements();
    let current_room = event
        .locked_room_id
        .as_ref()
        .or(req.preferred_room.as_ref());
    if e.room.as_ref().is_some_and(|r| Some(r) != current_room) || ROOM_SIZE_REF.is_match(&lower) {
        return Some(ChangeType::Room);
    }
    let duration = req.event_duration;
    let times_differ = e
        .start_time
        .is_some_and(|t| event.start_time != Some(t) && duration.is_none_or(|d| d.start != t))
        || e.end_time
            .is_some_and(|t| event.end_time != Some(t) && duration.is_none_or(|d| d.end != t));
    if e.participants
        .is_some_and(|p| req.number_of_participants != Some(p))
        || e.layout.is_some_and(|l| req.seating_layout != Some(l))
        || times_differ
    {
        return Some(ChangeType::Requirements);
    }
    if products && (PRODUCT_CUE.is_match(&lower) || REVISION.is_match(&lower)) {
        return Some(ChangeType::Products);
    }
    // Anaphoric targets: no new value, but "the date", "the room", "the headcount".
    if event.date_confirmed && e.date.is_none() && in_strong(&DATE_REF) {
        return Some(ChangeType::Date);
    }
    if in_strong(&ROOM_REF) {
        return Some(ChangeType::Room);
    }
    if in_revision(&REQ_REF) {
        return Some(ChangeType::Requirements);
    }
    if in_strong(&COMMERCIAL) {
        return Some(ChangeType::Commercial);
    }
    if e.billing_address.is_some() || in_revision(&CLIENT_REF) {
        return Some(ChangeType::ClientInfo);
    }
    None
}
