//! A plain-SMTP server on loopback whose behaviour the test switches while openevent sends to
//! it: up; down (nothing listens on the port, so a connect is refused); slow (every reply,
//! the greeting included, comes late); slow only in its answer to the end of DATA; and a
//! permanent 550 for chosen recipients. It notes every message it takes.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// The listener is closed: what a crashed or restarting relay looks like to a client.
    Down,
    /// Every reply waits this long.
    Slow(Duration),
    /// Only the reply to the final "." waits: the message has been taken, the client does not
    /// hear so in time.
    SlowFinalReply(Duration),
}

/// One message the server read to its final ".".
#[derive(Debug, Clone)]
pub struct Received {
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub recipients: Vec<String>,
}

struct State {
    mode: Mutex<Mode>,
    received: Mutex<Vec<Received>>,
    rejected: Mutex<HashSet<String>>,
    sessions: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

pub struct FakeSmtp {
    port: u16,
    state: Arc<State>,
    acceptor: Option<Acceptor>,
}

impl FakeSmtp {
    pub fn start() -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake SMTP server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Up),
            received: Mutex::new(Vec::new()),
            rejected: Mutex::new(HashSet::new()),
            sessions: AtomicUsize::new(0),
        });
        let acceptor = Some(accept(listener, &state));
        FakeSmtp {
            port,
            state,
            acceptor,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn set_mode(&mut self, mode: Mode) {
        *lock(&self.state.mode) = mode;
        match (mode, self.acceptor.is_some()) {
            (Mode::Down, true) => self.close(),
            (Mode::Down, false) | (_, true) => {}
            (_, false) => self.reopen(),
        }
    }

    /// RCPT TO this address is answered 550 from now on.
    pub fn reject(&self, address: &str) {
        lock(&self.state.rejected).insert(address.to_owned());
    }

    pub fn accept_again(&self, address: &str) {
        lock(&self.state.rejected).remove(address);
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// Connections accepted so far.
    pub fn sessions(&self) -> usize {
        self.state.sessions.load(Ordering::SeqCst)
    }

    fn close(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.stop.store(true, Ordering::SeqCst);
            // Wakes the blocking accept so that the thread sees the flag and drops the listener.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            acceptor.thread.join().expect("the acceptor thread");
        }
    }

    fn reopen(&mut self) {
        // The port was ours a moment ago; the kernel may take a moment to let it go.
        let started = Instant::now();
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot listen on port {} again: {e}", self.port),
            }
        };
        self.acceptor = Some(accept(listener, &self.state));
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.close();
    }
}

fn accept(listener: TcpListener, state: &Arc<State>) -> Acceptor {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (stop, state) = (Arc::clone(&stop), Arc::clone(state));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                state.sessions.fetch_add(1, Ordering::SeqCst);
                let state = Arc::clone(&state);
                // A session the client gave up on just ends.
                std::thread::spawn(move || {
                    let _ = session(stream, &state);
                });
            }
        })
    };
    Acceptor { stop, thread }
}

fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    Ok(r.read_until(b'\n', buf)? > 0)
}

fn reply(state: &State, out: &mut TcpStream, text: &str, final_dot: bool) -> io::Result<()> {
    let mode = *lock(&state.mode);
    match mode {
        Mode::Slow(d) => std::thread::sleep(d),
        Mode::SlowFinalReply(d) if final_dot => std::thread::sleep(d),
        _ => {}
    }
    out.write_all(format!("{text}\r\n").as_bytes())
}

fn header_value(value: &str) -> String {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

fn session(stream: TcpStream, state: &State) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    reply(state, &mut out, "220 fake.test ESMTP", false)?;
    let mut recipients = Vec::new();
    let mut line = Vec::new();
    while read_line(&mut input, &mut line)? {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let verb = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => reply(state, &mut out, "250 fake.test", false)?,
            "MAIL" => {
                recipients.clear();
                reply(state, &mut out, "250 2.1.0 ok", false)?;
            }
            "RCPT" => {
                let to = text
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map_or("", |(addr, _)| addr)
                    .to_owned();
                if lock(&state.rejected).contains(&to) {
                    reply(
                        state,
                        &mut out,
                        &format!("550 5.1.1 <{to}>: no such user"),
                        false,
                    )?;
                } else {
                    recipients.push(to);
                    reply(state, &mut out, "250 2.1.5 ok", false)?;
                }
            }
            "DATA" => {
                reply(state, &mut out, "354 end with <CRLF>.<CRLF>", false)?;
                let mut message_id = String::new();
                let mut in_reply_to = None;
                let mut in_headers = true;
                loop {
                    if !read_line(&mut input, &mut line)? {
                        // The client went away before the final dot: nothing was taken.
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end();
                    if text.is_empty() {
                        in_headers = false;
                    } else if in_headers && let Some((name, value)) = text.split_once(':') {
                        if name.eq_ignore_ascii_case("message-id") {
                            message_id = header_value(value);
                        } else if name.eq_ignore_ascii_case("in-reply-to") {
                            in_reply_to = Some(header_value(value));
                        }
                    }
                }
                // Taken once the final dot is read, as a real relay would queue it: a 250 that
                // arrives too late does not un-send the message.
                lock(&state.received).push(Received {
                    message_id,
                    in_reply_to,
                    recipients: std::mem::take(&mut recipients),
                });
                let n = lock(&state.received).len();
                reply(state, &mut out, &format!("250 2.0.0 queued as {n}"), true)?;
            }
            "QUIT" => {
                reply(state, &mut out, "221 2.0.0 bye", false)?;
                return Ok(());
            }
            "RSET" | "NOOP" => reply(state, &mut out, "250 2.0.0 ok", false)?,
            _ => reply(state, &mut out, "502 5.5.2 not implemented", false)?,
        }
    }
    Ok(())
}
