use super::*;

#[test]
fn the_atelier_matches_the_reference() {
    let v = Venue::atelier();
    assert_eq!(v.name(), "The Atelier");
    assert_eq!(v.time_zone().iana_name(), Some("Europe/Zurich"));
    assert_eq!(v.spec().vat_percent, 810);
    assert_eq!(v.rooms().len(), 6);
    let b = v.room(&RoomId::parse("room_b").unwrap()).unwrap();
    assert_eq!((b.capacity_min, b.capacity_max), (20, 60));
    assert_eq!(b.capacity_for(Some(Layout::Classroom)), Some(36));
    assert_eq!(b.capacity_for(Some(Layout::Banquet)), None);
    assert_eq!(b.full_day_rate_chf, Money::from_chf(750));
    let coffee = v
        .product(&ProductId::parse("basic_coffee_tea").unwrap())
        .unwrap();
    assert_eq!(coffee.price_chf, Money::from_rappen(850));
    assert_eq!(coffee.unit, Unit::PerPerson);
    let prosecco = v.product(&ProductId::parse("prosecco").unwrap()).unwrap();
    assert!(!prosecco.available_in(&RoomId::parse("room_a").unwrap()));
    assert!(v.spec().products.len() >= 14);
    assert!(!v.spec().deposit.enabled);
    assert_eq!(v.spec().deposit.percent, 3000);
    assert_eq!(v.spec().deposit.due_days_before, 10);
    let lex = v.lexicon();
    assert!(lex.rooms[1].names.contains(&"Raum B".to_owned()));
}

#[test]
fn the_file_round_trips() {
    let v = Venue::atelier();
    let again = Venue::from_toml(&v.to_toml()).unwrap();
    assert_eq!(again, v);
}

#[test]
fn every_problem_is_listed_with_its_field() {
    let text = ATELIER_TOML
        .replace(
            "time_zone = \"Europe/Zurich\"",
            "time_zone = \"Mars/Olympus\"",
        )
        .replace("capacity_min = 12", "capacity_min = 99")
        .replace("payment_days = 30", "payment_days = 0")
        .replace("not_in_rooms = [\"room_a\"]", "not_in_rooms = [\"room_z\"]");
    let Err(VenueError::Invalid(problems)) = Venue::from_toml(&text) else {
        panic!("accepted an invalid venue");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for f in ["time_zone", "rooms[0].capacity_min", "offer.payment_days"] {
        assert!(fields.contains(&f), "{f} not reported in {fields:?}");
    }
    assert!(fields.iter().any(|f| f.ends_with("not_in_rooms")));
}

#[test]
fn typos_and_bad_amounts_are_syntax_errors() {
    let typo = ATELIER_TOML.replace("full_day_rate_chf = 500", "full_day_rate = 500");
    assert!(matches!(
        Venue::from_toml(&typo),
        Err(VenueError::Syntax(_))
    ));
    let cents = ATELIER_TOML.replace("price_chf = 8.50", "price_chf = 8.505");
    let err = Venue::from_toml(&cents).unwrap_err().to_string();
    assert!(err.contains("two decimals"), "{err}");
    assert!(matches!(
        Venue::from_toml("not toml ["),
        Err(VenueError::Syntax(_))
    ));
}
