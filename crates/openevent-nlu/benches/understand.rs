//! `understand` on a typical ~1 KB client message (target: ≤ 50 µs median).

use criterion::{Criterion, criterion_group, criterion_main};
use openevent_nlu::{NluContext, PreparedLexicon, atelier_lexicon, understand};
use std::hint::black_box;

const BODY: &str = "Hello Atelier team,

Following our call this morning: we'd like to book a workshop for 18 participants on Thursday
4 February 2027 (9:00 to 16:30) in Room A, workshop style tables, with a coffee break in the
morning and afternoon plus a lunch package. Two colleagues are vegetarian. We will also need a
projector, 2 flipcharts and a wireless microphone for the presentation part; no prosecco needed.
Could you also tell us whether there is parking nearby and until what time we could stay?
If Room A is not available on that day, Room C would also work for us, and we would be flexible
to move the workshop to Friday 5 February instead. Please send the offer to me directly.

Invoice: Helix Bio AG, Grabenstrasse 3, 6340 Baar, Switzerland.

Kind regards,
Dr. Ivo Marti
Head of Learning, Helix Bio AG
+41 41 766 20 20

On Fri, 20 Nov 2026 at 14:02, The Atelier <events@atelier.ch> wrote:
> Dear Dr. Marti, thank you for your call. We could offer 3 or 4 February 2027.
> Best regards";

fn bench(c: &mut Criterion) {
    // Prepared once per venue, outside the measurement, as the service does.
    let lexicon = PreparedLexicon::new(&atelier_lexicon());
    let tz = jiff::tz::TimeZone::get("Europe/Zurich").expect("tz");
    let ctx = NluContext {
        lexicon: &lexicon,
        time_zone: &tz,
        event: None,
    };
    let now: jiff::Timestamp = "2026-11-22T09:00:00Z".parse().expect("now");
    assert!(
        (900..1300).contains(&BODY.len()),
        "body is {} bytes",
        BODY.len()
    );
    // Compile the patterns outside the measurement.
    let _ = understand("Workshop booking", BODY, &ctx, now);
    c.bench_function("understand_1kb", |b| {
        b.iter(|| understand(black_box("Workshop booking"), black_box(BODY), &ctx, now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
