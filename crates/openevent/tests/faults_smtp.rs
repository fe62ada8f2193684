//! The SMTP relay down and slow while `openevent serve` dispatches approved replies (issue:
//! "SMTP server down for 60 s and slow (10 s per command) during dispatch: everything delivered
//! after recovery, no duplicates, retries follow the policy, dead-lettered jobs visible").
//!
//! The relay is a fake in this test (`faults/fake_smtp.rs`) that notes every message it takes;
//! the product is the real binary, driven over its HTTP API.
//!
//! - A: the relay is down for [`DOWN_FOR`] while [`REPLIES`] approved replies wait; each failed
//!   attempt is in the outbox (`attempts`, `last_error`) and its retry is scheduled as the
//!   `[retry]` policy says (checked on the booking's audit trail). Back up: every reply arrives
//!   exactly once.
//! - B: the relay answers every command [`SLOW_PER_COMMAND`] late, beyond `smtp.timeout_secs`:
//!   attempts time out and are retried, nothing arrives half-sent, and once the relay is fast
//!   again every reply arrives once. Then the relay is slow only in its 250 to the final dot:
//!   it has the message, the product times out, the retry sends a second copy, which must carry
//!   the same Message-ID (the window the channel's documentation names).
//! - C: the server restarted with a three-attempt policy: a reply that exhausts its attempts,
//!   and one the relay refuses with 550, end `dead`, are listed by `GET /api/v1/outbox?status=dead`
//!   and counted on `/metrics`; requeued (one by the CLI, one by the API) each arrives once.
//!
//! Runs about two minutes, most of it the outage itself.

mod faults;

#[path = "faults/fake_smtp.rs"]
mod fake_smtp;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fake_smtp::{FakeSmtp, Mode, Received};
use faults::{INQUIRY, Serve, metric, panics, run_json, run_ok, timestamp, wait_for};
use serde_json::{Value, json};

/// How long the relay is down in phase A.
const DOWN_FOR: Duration = Duration::from_secs(60);
/// How late the slow relay answers each command in phase B.
const SLOW_PER_COMMAND: Duration = Duration::from_secs(10);
/// `smtp.timeout_secs`, the deadline of one whole attempt (connect to the 250 after DATA; the
/// default is 30 s). One slow reply already exceeds it, as it exceeds the default: a send needs
/// at least six replies. Short so that phase B, where the dispatcher waits out each attempt in
/// turn, stays short.
const SMTP_TIMEOUT_SECS: u64 = 5;
/// Approved replies waiting through the outage.
const REPLIES: usize = 20;
/// Approved replies sent into the slow relay (each attempt holds the dispatcher for
/// `SMTP_TIMEOUT_SECS`).
const SLOW_REPLIES: usize = 3;
/// How soon after its retry time an attempt must run when nothing else holds the dispatcher
/// (it sleeps at most a second between passes).
const PROMPT: Duration = Duration::from_secs(5);

/// The `[retry]` section.
#[derive(Debug, Clone, Copy)]
struct Policy {
    max_attempts: u32,
    base_delay_secs: u32,
    factor: u32,
    max_delay_secs: u32,
    jitter_percent: u32,
}

/// Retries every 2, 4, 8, 8, … seconds: many attempts during the outage, and twenty of them
/// cannot be used up in it (asserted).
const OUTLASTS_THE_OUTAGE: Policy = Policy {
    max_attempts: 20,
    base_delay_secs: 2,
    factor: 2,
    max_delay_secs: 8,
    jitter_percent: 25,
};

/// Three attempts a second or two apart, then dead.
const GIVES_UP_QUICKLY: Policy = Policy {
    max_attempts: 3,
    base_delay_secs: 1,
    factor: 2,
    max_delay_secs: 2,
    jitter_percent: 0,
};

impl Policy {
    /// The delay after failed attempt `attempt` (1-based), before jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let secs = u64::from(self.base_delay_secs)
            .saturating_mul(u64::from(self.factor).saturating_pow(exp))
            .min(u64::from(self.max_delay_secs));
        Duration::from_secs(secs)
    }

    fn with_jitter(&self, d: Duration) -> Duration {
        d * (100 + self.jitter_percent) / 100
    }

    /// The shortest time in which all attempts can be used up.
    fn shortest_life(&self) -> Duration {
        (1..self.max_attempts).map(|a| self.backoff(a)).sum()
    }

    /// The longest time all attempts can take, each retry as late as [`PROMPT`] allows.
    fn longest_life(&self) -> Duration {
        (1..self.max_attempts)
            .map(|a| self.with_jitter(self.backoff(a)) + PROMPT)
            .sum()
    }

    /// Attempts a job certainly made within `window` of its first one.
    fn attempts_within(&self, window: Duration) -> u32 {
        let mut at = Duration::ZERO;
        let mut made = 1;
        while made < self.max_attempts {
            at += self.with_jitter(self.backoff(made)) + PROMPT;
            if at > window {
                break;
            }
            made += 1;
        }
        made
    }

    fn toml(&self) -> String {
        format!(
            "[retry]\nmax_attempts = {}\nbase_delay_secs = {}\nfactor = {}\nmax_delay_secs = {}\njitter_percent = {}\n",
            self.max_attempts,
            self.base_delay_secs,
            self.factor,
            self.max_delay_secs,
            self.jitter_percent
        )
    }
}

fn write_config(
    dir: &Path,
    name: &str,
    smtp_port: u16,
    timeout_secs: u64,
    policy: &Policy,
) -> PathBuf {
    let path = dir.join(name);
    // The test polls the API far more often than an integration would.
    let text = format!(
        "rate_limit_per_minute = 1000000\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\n\
         security = \"none\"\nfrom_address = \"events@atelier.example\"\nfrom_name = \"The Atelier\"\n\
         timeout_secs = {timeout_secs}\n\n{}",
        policy.toml()
    );
    std::fs::write(&path, text).expect("write the serve configuration");
    path
}

/// A client's inquiry, its drafted reply approved: one email in the outbox.
#[derive(Debug, Clone)]
struct Inquiry {
    client_email: String,
    /// The client's Message-ID (without brackets): the reply's In-Reply-To.
    message_id: String,
    event_id: String,
}

struct Api<'a> {
    serve: &'a Serve,
    token: &'a str,
}

impl Api<'_> {
    fn inquire_from(&self, tag: &str, client_email: &str) -> Inquiry {
        let message_id = format!("{tag}@faults.example");
        let body = json!({
            "from_email": client_email,
            "from_name": "Fault Test",
            "subject": "Workshop",
            "body": INQUIRY,
            "message_id": format!("<{message_id}>"),
        });
        let r = self.serve.request(
            "POST",
            "/api/v1/messages",
            Some(self.token),
            &body.to_string(),
        );
        assert_eq!(r.status, 200, "POST /api/v1/messages: {}", r.body);
        let turn = r.json();
        let task = turn["tasks"][0]
            .as_str()
            .unwrap_or_else(|| panic!("the inquiry drafted no reply: {turn}"))
            .to_owned();
        let r = self.serve.request(
            "POST",
            &format!("/api/v1/tasks/{task}/approve"),
            Some(self.token),
            "{}",
        );
        assert_eq!(r.status, 200, "approving {task}: {}", r.body);
        assert_eq!(r.json()["queued_emails"], 1, "{}", r.body);
        Inquiry {
            client_email: client_email.to_owned(),
            message_id,
            event_id: turn["event_id"].as_str().expect("an event id").to_owned(),
        }
    }

    fn inquire(&self, tag: &str) -> Inquiry {
        self.inquire_from(tag, &format!("{tag}@client.example"))
    }

    /// Every outbox job of the organization, by booking (one reply each here).
    fn jobs(&self, status: Option<&str>) -> HashMap<String, Value> {
        let path = match status {
            Some(s) => format!("/api/v1/outbox?status={s}&limit=1000"),
            None => "/api/v1/outbox?limit=1000".to_owned(),
        };
        let listed = self.serve.get_json(&path, self.token);
        let mut by_event = HashMap::new();
        for job in listed["jobs"].as_array().expect("jobs").iter().cloned() {
            let event = job["event_id"].as_str().expect("event_id").to_owned();
            if let Some(other) = by_event.insert(event.clone(), job.clone()) {
                panic!("two jobs for booking {event}: {other} and {job}");
            }
        }
        by_event
    }

    fn job(&self, inquiry: &Inquiry) -> Value {
        self.jobs(None)
            .remove(&inquiry.event_id)
            .unwrap_or_else(|| panic!("no outbox job for {}", inquiry.event_id))
    }

    fn audit(&self, inquiry: &Inquiry) -> Vec<Value> {
        let view = self
            .serve
            .get_json(&format!("/api/v1/events/{}", inquiry.event_id), self.token);
        view["audit"].as_array().expect("audit").clone()
    }

    fn metrics(&self) -> String {
        let r = self.serve.request("GET", "/metrics", None, "");
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// Waits until every inquiry's reply is `sent`; fails at once if one goes `dead`.
    fn wait_sent(&self, what: &str, inquiries: &[Inquiry], limit: Duration) {
        wait_for(what, limit, || {
            let jobs = self.jobs(None);
            let mut waiting = Vec::new();
            for inq in inquiries {
                let job = &jobs[&inq.event_id];
                assert_ne!(job["status"], "dead", "{what}: {job}");
                if job["status"] != "sent" {
                    waiting.push(job.to_string());
                }
            }
            if waiting.is_empty() {
                Ok(())
            } else {
                Err(waiting.join("; "))
            }
        });
    }

    fn wait_dead(&self, what: &str, inquiry: &Inquiry, limit: Duration) -> Value {
        wait_for(what, limit, || {
            let job = self.job(inquiry);
            assert_ne!(job["status"], "sent", "{what}: {job}");
            if job["status"] == "dead" {
                Ok(job)
            } else {
                Err(job.to_string())
            }
        })
    }
}

fn copies<'a>(received: &'a [Received], inquiry: &Inquiry) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| r.in_reply_to.as_deref() == Some(inquiry.message_id.as_str()))
        .collect()
}

/// The reply to each inquiry arrived exactly once, to its client, under a Message-ID no other
/// message used.
fn assert_each_once(received: &[Received], inquiries: &[Inquiry], seen_ids: &mut HashSet<String>) {
    for inq in inquiries {
        let got = copies(received, inq);
        assert_eq!(
            got.len(),
            1,
            "reply to {} arrived {} times: {got:?}",
            inq.message_id,
            got.len()
        );
        assert_eq!(got[0].recipients, vec![inq.client_email.clone()]);
        assert!(!got[0].message_id.is_empty(), "{got:?}");
        assert!(
            seen_ids.insert(got[0].message_id.clone()),
            "Message-ID {} used twice",
            got[0].message_id
        );
    }
}

fn secs(d: jiff::SignedDuration) -> f64 {
    d.as_secs_f64()
}

/// Reads the booking's audit trail of the reply's attempts and checks that each failed attempt
/// scheduled its retry `backoff(n)` plus at most the policy's jitter after it failed, that no
/// attempt ran before its retry was due and (with `prompt`) none much after. Returns how many
/// attempts were recorded.
fn check_retries(audit: &[Value], policy: &Policy, prompt: Option<Duration>) -> u32 {
    let attempts: Vec<&Value> = audit
        .iter()
        .filter(|a| {
            matches!(
                a["reason"].as_str(),
                Some("outbox_retry_scheduled" | "outbox_sent" | "outbox_dead")
            )
        })
        .collect();
    // Timestamps are compared to the millisecond: the ledger keeps microseconds.
    let slack = 0.001;
    let mut due: Option<jiff::Timestamp> = None;
    for (i, a) in attempts.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap();
        assert_eq!(a["fields"]["attempt"], n, "attempts out of order: {a}");
        let at = timestamp(&a["ts"]);
        if let Some(due) = due {
            let late = secs(at.duration_since(due));
            assert!(
                late >= -slack,
                "attempt {n} ran {late:.3} s before its retry time: {a}"
            );
            if let Some(prompt) = prompt {
                assert!(
                    late <= prompt.as_secs_f64(),
                    "attempt {n} ran {late:.3} s after its retry time: {a}"
                );
            }
        }
        if a["reason"] == "outbox_retry_scheduled" {
            let retry_at = timestamp(&a["fields"]["retry_at"]);
            let wait = secs(retry_at.duration_since(at));
            let backoff = policy.backoff(n).as_secs_f64();
            let longest = policy.with_jitter(policy.backoff(n)).as_secs_f64();
            // The audit entry is stamped a moment after the retry time was computed.
            assert!(
                wait >= backoff - 0.1 && wait <= longest + slack,
                "after attempt {n} the retry is {wait:.3} s away; the policy says {backoff} s to {longest} s: {a}"
            );
            due = Some(retry_at);
        } else {
            assert_eq!(i + 1, attempts.len(), "an attempt after the final one: {a}");
        }
    }
    u32::try_from(attempts.len()).unwrap()
}

fn attempts_of(job: &Value) -> u32 {
    u32::try_from(job["attempts"].as_u64().expect("attempts")).unwrap()
}

#[test]
fn replies_survive_an_smtp_outage_and_a_slow_relay_and_dead_letters_can_be_requeued() {
    let started = Instant::now();
    assert!(
        OUTLASTS_THE_OUTAGE.shortest_life() > DOWN_FOR + Duration::from_secs(30),
        "the phase A policy could give up during the outage"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}", dir.path().join("openevent.db").display());
    let token = faults::manager_token(&db_url);
    let mut relay = FakeSmtp::start();
    let mut seen_ids = HashSet::new();
    let mut report = Vec::new();

    // --- A: the relay is down while the replies are approved and dispatched.
    relay.set_mode(Mode::Down);
    let down_since = Instant::now();
    let config = write_config(
        dir.path(),
        "serve-a.toml",
        relay.port(),
        SMTP_TIMEOUT_SECS,
        &OUTLASTS_THE_OUTAGE,
    );
    let log_a = dir.path().join("serve-a.log");
    let serve = Serve::start(&db_url, Some(&config), &log_a);
    let api = Api {
        serve: &serve,
        token: &token,
    };
    let outage: Vec<Inquiry> = (0..REPLIES)
        .map(|i| api.inquire(&format!("outage-{i:02}")))
        .collect();
    let setup = down_since.elapsed();
    let mut most_attempts = 0;
    while down_since.elapsed() < DOWN_FOR {
        let jobs = api.jobs(None);
        for inq in &outage {
            let job = &jobs[&inq.event_id];
            assert!(
                matches!(
                    job["status"].as_str(),
                    Some("scheduled" | "claimed" | "failed")
                ),
                "while the relay is down: {job}"
            );
            most_attempts = most_attempts.max(attempts_of(job));
        }
        assert!(
            relay.received().is_empty(),
            "a message got through a closed port"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let expected = OUTLASTS_THE_OUTAGE.attempts_within(DOWN_FOR - setup - PROMPT);
    let jobs = api.jobs(None);
    let mut errors = BTreeMap::new();
    for inq in &outage {
        let job = &jobs[&inq.event_id];
        assert!(
            matches!(job["status"].as_str(), Some("claimed" | "failed")),
            "{job}"
        );
        assert!(
            attempts_of(job) >= expected,
            "only {} attempts in {DOWN_FOR:?} (at least {expected} expected): {job}",
            attempts_of(job)
        );
        let error = job["last_error"].as_str().unwrap_or_default().to_owned();
        assert!(
            error.contains("at connect") && error.contains("Connection refused"),
            "last_error does not say the relay refused the connection: {job}"
        );
        *errors.entry(error).or_insert(0) += 1;
    }
    report.push(format!(
        "A: relay down {DOWN_FOR:?}; each job made >= {expected} attempts (max seen {most_attempts}); last_error: {errors:?}"
    ));

    relay.set_mode(Mode::Up);
    let up_at = Instant::now();
    api.wait_sent(
        "every reply sent once the relay is back",
        &outage,
        OUTLASTS_THE_OUTAGE.with_jitter(OUTLASTS_THE_OUTAGE.backoff(30)) + PROMPT * 6,
    );
    let recovered_in = up_at.elapsed();
    let received = relay.received();
    assert_eq!(received.len(), REPLIES, "{received:#?}");
    assert_each_once(&received, &outage, &mut seen_ids);
    let jobs = api.jobs(None);
    let mut failed_attempts = 0;
    for inq in &outage {
        let job = &jobs[&inq.event_id];
        let recorded = check_retries(&api.audit(inq), &OUTLASTS_THE_OUTAGE, Some(PROMPT));
        assert_eq!(recorded, attempts_of(job), "{job}");
        failed_attempts += attempts_of(job) - 1;
    }
    let metrics = api.metrics();
    let deliveries = |outcome: &str| {
        metric(
            &metrics,
            &format!("openevent_deliveries_total{{channel=\"email\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(deliveries("sent"), Some(REPLIES as f64), "{metrics}");
    assert_eq!(
        deliveries("transient_error"),
        Some(f64::from(failed_attempts)),
        "{metrics}"
    );
    report.push(format!(
        "A: all {REPLIES} delivered once, {recovered_in:?} after the relay came back; {failed_attempts} failed attempts, each retry on the policy's schedule"
    ));

    // --- B: every reply of the relay comes SLOW_PER_COMMAND late.
    relay.set_mode(Mode::Slow(SLOW_PER_COMMAND));
    let sessions_before = relay.sessions();
    let slow: Vec<Inquiry> = (0..SLOW_REPLIES)
        .map(|i| api.inquire(&format!("slow-{i}")))
        .collect();
    let timeout_error = format!("smtp: timeout after {SMTP_TIMEOUT_SECS}s");
    let timed_out = wait_for(
        "each reply to the slow relay to time out once",
        Duration::from_secs(SMTP_TIMEOUT_SECS) * (SLOW_REPLIES as u32) * 2
            + Duration::from_secs(60),
        || {
            let jobs = api.jobs(None);
            let pending: Vec<String> = slow
                .iter()
                .map(|inq| &jobs[&inq.event_id])
                .filter(|job| job["last_error"].as_str() != Some(timeout_error.as_str()))
                .map(Value::to_string)
                .collect();
            if pending.is_empty() {
                Ok(jobs)
            } else {
                Err(pending.join("; "))
            }
        },
    );
    for inq in &slow {
        assert!(copies(&relay.received(), inq).is_empty());
        let job = &timed_out[&inq.event_id];
        assert!(
            matches!(job["status"].as_str(), Some("failed" | "claimed")),
            "{job}"
        );
    }
    let slow_sessions = relay.sessions() - sessions_before;
    relay.set_mode(Mode::Up);
    api.wait_sent(
        "every reply sent once the relay is fast again",
        &slow,
        Duration::from_secs(120),
    );
    let received = relay.received();
    assert_eq!(received.len(), REPLIES + SLOW_REPLIES, "{received:#?}");
    assert_each_once(&received, &slow, &mut seen_ids);
    for inq in &slow {
        // The dispatcher waits out each slow attempt in turn, so retries may run late here.
        check_retries(&api.audit(inq), &OUTLASTS_THE_OUTAGE, None);
    }
    report.push(format!(
        "B: relay {SLOW_PER_COMMAND:?} per reply: {slow_sessions} attempts timed out with last_error {timeout_error:?}; all {SLOW_REPLIES} delivered once afterwards"
    ));

    // The relay takes the message but its 250 comes too late: a second copy is unavoidable
    // over SMTP, and must be recognisable as the same message.
    relay.set_mode(Mode::SlowFinalReply(SLOW_PER_COMMAND));
    let late_ack = api.inquire("late-ack");
    wait_for(
        "the relay to take the message and the attempt to time out",
        Duration::from_secs(60),
        || {
            let job = api.job(&late_ack);
            let taken = copies(&relay.received(), &late_ack).len();
            if taken >= 1 && job["last_error"].as_str() == Some(timeout_error.as_str()) {
                Ok(())
            } else {
                Err(format!("{taken} copies; {job}"))
            }
        },
    );
    relay.set_mode(Mode::Up);
    api.wait_sent(
        "the late-acknowledged reply to be sent",
        std::slice::from_ref(&late_ack),
        Duration::from_secs(60),
    );
    let job = api.job(&late_ack);
    let received = relay.received();
    let late_copies = copies(&received, &late_ack);
    assert_eq!(
        late_copies.len(),
        attempts_of(&job) as usize,
        "every attempt that reached the final dot left a copy: {job} {late_copies:#?}"
    );
    assert!(late_copies.len() >= 2, "{late_copies:#?}");
    let late_id = late_copies[0].message_id.clone();
    assert!(
        late_copies.iter().all(|c| c.message_id == late_id),
        "a resend changed the Message-ID: {late_copies:#?}"
    );
    assert!(seen_ids.insert(late_id.clone()), "{late_id} used before");
    report.push(format!(
        "B: relay slow only in its 250 to the final dot: {} copies arrived, all with Message-ID <{late_id}>; the ledger says sent, attempts {}",
        late_copies.len(),
        attempts_of(&job)
    ));

    let status = serve.stop(Duration::from_secs(30));
    assert!(status.success(), "serve stopped with {status}");
    assert!(panics(&std::fs::read_to_string(&log_a).unwrap()).is_empty());

    // --- C: a policy of three attempts, and dead letters.
    relay.set_mode(Mode::Down);
    let config = write_config(
        dir.path(),
        "serve-c.toml",
        relay.port(),
        SMTP_TIMEOUT_SECS,
        &GIVES_UP_QUICKLY,
    );
    let log_c = dir.path().join("serve-c.log");
    let serve = Serve::start(&db_url, Some(&config), &log_c);
    let api = Api {
        serve: &serve,
        token: &token,
    };
    let exhausted = api.inquire("exhausted");
    let dead = api.wait_dead(
        "the reply to use up its attempts",
        &exhausted,
        GIVES_UP_QUICKLY.longest_life() + Duration::from_secs(30),
    );
    assert_eq!(attempts_of(&dead), GIVES_UP_QUICKLY.max_attempts, "{dead}");
    let dead_error = dead["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(
        dead_error.starts_with(&format!(
            "gave up after {} attempts: smtp at connect",
            GIVES_UP_QUICKLY.max_attempts
        )),
        "{dead}"
    );
    check_retries(&api.audit(&exhausted), &GIVES_UP_QUICKLY, Some(PROMPT));

    relay.set_mode(Mode::Up);
    let bounce_address = "no-such-user@client.example";
    relay.reject(bounce_address);
    let bounced = api.inquire_from("bounced", bounce_address);
    let bounced_job = api.wait_dead(
        "the refused reply to be dead",
        &bounced,
        Duration::from_secs(30),
    );
    assert_eq!(
        attempts_of(&bounced_job),
        1,
        "a 550 is not retried: {bounced_job}"
    );
    let bounce_error = bounced_job["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(bounce_error.contains("550"), "{bounced_job}");

    let dead_list = api.jobs(Some("dead"));
    let mut listed: Vec<&str> = dead_list.keys().map(String::as_str).collect();
    listed.sort_unstable();
    let mut expected_dead = vec![exhausted.event_id.as_str(), bounced.event_id.as_str()];
    expected_dead.sort_unstable();
    assert_eq!(listed, expected_dead, "{dead_list:?}");
    let metrics = api.metrics();
    let series = |s: &str| metric(&metrics, s);
    assert_eq!(
        series("openevent_outbox_jobs{status=\"dead\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        series("openevent_deliveries_total{channel=\"email\",outcome=\"transient_error\"}"),
        Some(f64::from(GIVES_UP_QUICKLY.max_attempts)),
        "{metrics}"
    );
    assert_eq!(
        series("openevent_deliveries_total{channel=\"email\",outcome=\"permanent_error\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert!(copies(&relay.received(), &exhausted).is_empty());
    assert!(copies(&relay.received(), &bounced).is_empty());
    report.push(format!(
        "C: dead after {} attempts: {dead_error:?}; refused: {bounce_error:?}; both in /api/v1/outbox?status=dead and openevent_outbox_jobs{{status=\"dead\"}} 2",
        GIVES_UP_QUICKLY.max_attempts
    ));

    // Requeued by an operator at the command line while the server runs...
    let exhausted_job = dead_list[&exhausted.event_id]["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = run_ok(&db_url, &["outbox", "requeue", &exhausted_job]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("requeued {exhausted_job}")
    );
    api.wait_sent(
        "the requeued reply to be sent",
        std::slice::from_ref(&exhausted),
        Duration::from_secs(30),
    );
    // ... and through the API once the relay knows the address.
    relay.accept_again(bounce_address);
    let bounced_job_id = dead_list[&bounced.event_id]["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = serve.request(
        "POST",
        &format!("/api/v1/outbox/{bounced_job_id}/requeue"),
        Some(&token),
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    api.wait_sent(
        "the requeued refused reply to be sent",
        std::slice::from_ref(&bounced),
        Duration::from_secs(30),
    );
    let received = relay.received();
    assert_each_once(
        &received,
        &[exhausted.clone(), bounced.clone()],
        &mut seen_ids,
    );
    assert!(api.jobs(Some("dead")).is_empty());
    let metrics = api.metrics();
    assert!(
        metric(&metrics, "openevent_outbox_jobs{status=\"dead\"}").unwrap_or(0.0) == 0.0,
        "{metrics}"
    );

    // Over the whole run: one copy per reply, two or more only for the late acknowledgement.
    let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &received {
        *per_id.entry(r.message_id.as_str()).or_default() += 1;
    }
    let repeated: Vec<(&str, usize)> = per_id
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .collect();
    assert_eq!(repeated, vec![(late_id.as_str(), late_copies.len())]);
    assert_eq!(
        received.len(),
        REPLIES + SLOW_REPLIES + late_copies.len() + 2,
        "{received:#?}"
    );

    let status = serve.stop(Duration::from_secs(30));
    assert!(status.success(), "serve stopped with {status}");
    let log = std::fs::read_to_string(&log_c).unwrap();
    assert!(panics(&log).is_empty(), "{log}");
    report.push(format!(
        "C: requeued by the CLI and by the API (204), each delivered once; {} messages taken by the relay in all, {} Message-IDs",
        received.len(),
        per_id.len()
    ));
    eprintln!(
        "faults_smtp ({:.0} s):\n  {}",
        started.elapsed().as_secs_f64(),
        report.join("\n  ")
    );
}

/// Each reply of the relay in the lease test: slow, but a whole send (seven replies) stays well
/// within the default 30 s timeout, so every attempt succeeds.
const SLOW_BUT_IN_TIME: Duration = Duration::from_secs(1);
/// Replies the server's dispatcher claims as one batch in the lease test.
const BATCH: usize = 4;

/// A dispatcher that stalls past its lease (a frozen VM, a process paused mid-batch) while
/// another one runs: the second (here `openevent outbox run-due`, as a cron job would run it)
/// takes over the jobs whose lease expired, including ones the first has sent but not recorded.
/// Whatever it takes goes out twice, always under the same Message-ID, and the first one's late
/// outcome is refused. (A merely slow relay cannot cause this: a dispatcher starts no send in the
/// second half of its lease — `openevent-service/tests/automation.rs`.)
///
/// The stall is simulated by setting the second dispatcher's clock a lease ahead (`--now`): the
/// lease is all the claim looks at. Outcome and copies are printed.
#[test]
fn a_dispatcher_stalled_past_its_lease_has_its_jobs_taken_over_under_the_same_message_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}", dir.path().join("openevent.db").display());
    let token = faults::manager_token(&db_url);
    let mut relay = FakeSmtp::start();
    relay.set_mode(Mode::Slow(SLOW_BUT_IN_TIME));
    let config = write_config(
        dir.path(),
        "serve.toml",
        relay.port(),
        30,
        &OUTLASTS_THE_OUTAGE,
    );

    // Approved before the server starts, so that its first pass claims them all at once.
    let mut batch = Vec::new();
    for i in 0..BATCH {
        let client_email = format!("lease-{i}@client.example");
        let message_id = format!("lease-{i}@faults.example");
        let eml = format!(
            "From: Client {i} <{client_email}>\r\nTo: events@atelier.example\r\nSubject: Workshop\r\n\
             Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{INQUIRY}\r\n"
        );
        let path = dir.path().join(format!("lease-{i}.eml"));
        std::fs::write(&path, eml).unwrap();
        let turn = run_json(&db_url, &["ingest", path.to_str().unwrap()]);
        let task = turn["tasks"][0].as_str().expect("a drafted reply");
        let decided = run_json(&db_url, &["tasks", "approve", task]);
        assert_eq!(decided["queued_emails"], 1, "{decided}");
        batch.push(Inquiry {
            client_email,
            message_id,
            event_id: turn["event_id"].as_str().unwrap().to_owned(),
        });
    }

    let log = dir.path().join("serve.log");
    let serve = Serve::start(&db_url, Some(&config), &log);
    let api = Api {
        serve: &serve,
        token: &token,
    };
    wait_for(
        "the relay to take the batch's first reply",
        Duration::from_secs(60),
        || match relay.received().len() {
            0 => Err("nothing yet".to_owned()),
            _ => Ok(()),
        },
    );
    let jobs = api.jobs(None);
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for inq in &batch {
        *states
            .entry(jobs[&inq.event_id]["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let delivered_so_far = relay.received().len();

    let lease = Duration::try_from(openevent_automation::retry::RetryPolicy::default().lease())
        .expect("a positive lease");
    let later = jiff::Timestamp::now()
        + jiff::SignedDuration::try_from(lease + Duration::from_secs(1)).unwrap();
    let second = run_json(
        &db_url,
        &[
            "--now",
            &later.to_string(),
            "outbox",
            "run-due",
            "--config",
            config.to_str().unwrap(),
            "--limit",
            "1",
        ],
    );
    let taken_over = u32::try_from(second["executed"].as_u64().expect("executed")).unwrap();

    api.wait_sent(
        "the whole batch to be recorded as sent",
        &batch,
        SLOW_BUT_IN_TIME * 8 * (BATCH as u32 + 1) + Duration::from_secs(60),
    );
    let jobs = api.jobs(None);
    let attempts: u32 = batch.iter().map(|i| attempts_of(&jobs[&i.event_id])).sum();
    let status = serve.stop(Duration::from_secs(30));
    assert!(status.success(), "serve stopped with {status}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(panics(&text).is_empty(), "{text}");

    let received = relay.received();
    let mut ids = HashSet::new();
    let mut repeated = Vec::new();
    for inq in &batch {
        let got = copies(&received, inq);
        assert!(!got.is_empty(), "reply to {} never arrived", inq.message_id);
        assert!(
            got.iter().all(|c| c.message_id == got[0].message_id),
            "a resend changed the Message-ID: {got:#?}"
        );
        assert!(ids.insert(got[0].message_id.clone()), "{got:#?}");
        if got.len() > 1 {
            repeated.push(format!("<{}> x{}", got[0].message_id, got.len()));
        }
    }
    // Each job the second dispatcher took is an attempt more in the ledger and a copy more on
    // the wire; the first dispatcher's outcome for it is refused.
    assert_eq!(attempts, BATCH as u32 + taken_over, "{jobs:?}");
    assert_eq!(received.len(), BATCH + taken_over as usize, "{received:#?}");
    if taken_over > 0 {
        assert!(
            text.contains("lease lost before the outcome was recorded"),
            "{text}"
        );
    }
    eprintln!(
        "lease: when the relay had {delivered_so_far} of {BATCH} replies the outbox said {states:?}; a second dispatcher {lease:?} later took {taken_over} job(s) ({second}); the relay received {} messages; repeated: {repeated:?}",
        received.len(),
    );
}
