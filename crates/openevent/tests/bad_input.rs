//! Bad input and damaged databases: a clear error, a non-zero exit, nothing changed.

mod common;

use common::{INQUIRY_BODY, Oe, eml};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An existing database with one booking in it.
fn seeded() -> Oe {
    let oe = Oe::new();
    oe.ingest_text(&eml(
        "a@example.com",
        "Booking",
        "seed@x",
        None,
        INQUIRY_BODY,
    ));
    oe
}

#[test]
fn bad_messages_are_refused_and_the_database_is_unchanged() {
    let oe = seeded();
    let before = oe.db_bytes();
    let ctx_before = oe.json(&["client", "context", "a@example.com"]);

    let mut garbage = vec![0u8; 4096];
    let mut x: u32 = 0x9e37_79b9;
    for b in garbage.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = (x & 0xff) as u8;
    }
    let big = {
        let mut m = eml("a@example.com", "Huge", "big@x", None, "").into_bytes();
        m.resize(50 * 1024 * 1024, b'a');
        m
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.eml", Vec::new(), "empty"),
        ("garbage.bin", garbage, "not"),
        ("big.eml", big, "limit"),
        (
            "latin1-header.eml",
            b"From: a@example.com\r\nSubject: R\xe9servation\r\nMessage-ID: <bad-h@x>\r\n\r\nbook a room for an event".to_vec(),
            "not valid UTF-8",
        ),
        ("no-from.eml", b"Subject: hello\r\n\r\nbook a room".to_vec(), "no From"),
        ("text.txt", b"just a note, no headers at all\n".to_vec(), "not an RFC 5322"),
    ];
    for (name, bytes, expect) in cases {
        let path = oe.write(name, &bytes);
        let out = oe.run(&["ingest", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(65), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{name} panicked");
        assert!(out.stdout.is_empty(), "{name} printed a result");
        // The same through standard input.
        let out = oe.run_stdin(&["ingest", "-"], &bytes);
        assert_eq!(
            out.status.code(),
            Some(65),
            "{name} via stdin: {}",
            stderr(&out)
        );
        assert_eq!(oe.db_bytes(), before, "{name} changed the database");
    }
    let out = oe.run(&["ingest", "/nonexistent/dir/x.eml"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("cannot read"));
    assert_eq!(oe.db_bytes(), before);
    assert_eq!(oe.json(&["client", "context", "a@example.com"]), ctx_before);
}

#[test]
fn bad_input_on_a_fresh_machine_creates_no_database() {
    let oe = Oe::new();
    let path = oe.write("empty.eml", b"");
    let out = oe.run(&["ingest", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    assert!(!oe.db_path.exists());
}

#[test]
fn invalid_options_are_clear_errors() {
    let oe = Oe::new();
    let out = oe.run(&["--org", "Not A Slug", "migrate"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("org"));
    let out = oe.run(&["--now", "yesterday", "migrate"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("RFC 3339"));
    let out = oe.run(&["client", "context", "not-an-email"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("client_email"));
    let out = oe.run(&["--db", "mysql://x", "migrate"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unsupported database URL"));
    let out = oe.run(&["event", "show", "EVT-NOPE"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no event EVT-NOPE"));
}

#[test]
fn a_corrupt_database_is_refused_and_left_untouched() {
    let oe = Oe::new();
    let junk: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&oe.db_path, &junk).unwrap();
    for args in [
        &["migrate"][..],
        &["client", "context", "a@example.com"][..],
    ] {
        let out = oe.run(args);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("not a readable openevent database"),
            "{}",
            stderr(&out)
        );
    }
    let msg = oe.write(
        "m.eml",
        eml("a@example.com", "Booking", "c@x", None, INQUIRY_BODY).as_bytes(),
    );
    let out = oe.run(&["ingest", msg.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&oe.db_path).unwrap(), junk);
}

#[test]
fn a_truncated_database_is_refused() {
    let oe = seeded();
    let bytes = std::fs::read(&oe.db_path).unwrap();
    // Keep the SQLite header but cut the rest: a copy that broke mid-transfer.
    std::fs::write(&oe.db_path, &bytes[..bytes.len().min(1024)]).unwrap();
    let _ = std::fs::remove_file(format!("{}-wal", oe.db_path.display()));
    let kept = std::fs::read(&oe.db_path).unwrap();
    let out = oe.run(&["client", "context", "a@example.com"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read(&oe.db_path).unwrap(), kept);
}

fn sql(db: &std::path::Path, statements: &[&str]) {
    let conn = rusqlite::Connection::open(db).unwrap();
    for s in statements {
        conn.execute_batch(s).unwrap();
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let oe = seeded();
    sql(
        &oe.db_path,
        &[
            "INSERT INTO schema_migrations (version, description, checksum, applied_at) \
           VALUES (99990101000000, 'from the future', '00', 0)",
        ],
    );
    let before = oe.db_bytes();
    let out = oe.run(&["migrate"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("newer than this openevent"),
        "{}",
        stderr(&out)
    );
    let msg = oe.write(
        "m.eml",
        eml("a@example.com", "Booking", "n@x", None, INQUIRY_BODY).as_bytes(),
    );
    assert!(!oe.run(&["ingest", msg.to_str().unwrap()]).status.success());
    assert_eq!(oe.db_bytes(), before);
}

#[test]
fn a_foreign_database_is_refused() {
    let oe = Oe::new();
    sql(
        &oe.db_path,
        &["CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)"],
    );
    let before = oe.db_bytes();
    let out = oe.run(&["migrate"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("foreign database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(oe.db_bytes(), before);
}
