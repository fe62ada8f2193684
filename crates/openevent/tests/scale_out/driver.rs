//! The client side of the run: the messages of every booking, posted as raw RFC 5322 over HTTP,
//! round-robin over the live processes. A booking's inquiry goes first; once it is answered its
//! replies are put at the front of the queue, so that several client threads post them at the
//! same time to different processes and their turns race on the one booking record.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fleet::Addrs;

/// How long one message may take, failovers included, before the run fails.
const POST_DEADLINE: Duration = Duration::from_secs(300);
/// A process under load answers within this, or the post goes elsewhere.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest quantity the NLU reads is three digits: reply `k` asks for `2^(k-1)` chairs, so at
/// most 10 replies.
pub const MAX_REPLIES: usize = 10;

pub fn inquiry_id(booking: usize) -> String {
    format!("inquiry-{booking}@client.example")
}

pub fn reply_id(booking: usize, reply: usize) -> String {
    format!("reply-{booking}-{reply}@client.example")
}

pub fn client(booking: usize) -> String {
    format!("client{booking}@example.com")
}

/// Chairs asked for by reply `reply` (1-based): one bit per reply, so a booking's total says
/// which replies reached its record.
pub fn chairs(reply: usize) -> u32 {
    1 << (reply - 1)
}

#[derive(Debug, Clone)]
pub struct Post {
    pub booking: usize,
    /// `None`: the inquiry.
    pub reply: Option<usize>,
    pub message_id: String,
    pub raw: Vec<u8>,
}

/// The booking's first message: a new client asking for a room for some people on a date.
pub fn inquiry(booking: usize, date: &str) -> Post {
    let people = 10 + booking % 30;
    let id = inquiry_id(booking);
    let raw = format!(
        "From: Client {booking} <{}>\r\nTo: events@atelier.example\r\n\
         Subject: Room for {people} people\r\nMessage-ID: <{id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello, we would like to book a room for a team workshop with {people} participants \
         on {date}. Is there availability?\r\n",
        client(booking)
    );
    Post {
        booking,
        reply: None,
        message_id: id,
        raw: raw.into_bytes(),
    }
}

/// A reply in the inquiry's thread adding chairs to the booking.
pub fn reply(booking: usize, reply: usize) -> Post {
    let id = reply_id(booking, reply);
    let parent = inquiry_id(booking);
    let raw = format!(
        "From: Client {booking} <{}>\r\nTo: events@atelier.example\r\n\
         Subject: Re: Room for {} people\r\nMessage-ID: <{id}>\r\n\
         In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Please add {} extra chairs.\r\n",
        client(booking),
        10 + booking % 30,
        chairs(reply)
    );
    Post {
        booking,
        reply: Some(reply),
        message_id: id,
        raw: raw.into_bytes(),
    }
}

/// The API's answer to a message.
#[derive(Debug, Clone)]
pub struct Answer {
    pub duplicate: bool,
    pub event_id: Option<String>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Post>,
    /// Posts not finished yet, including replies whose inquiry is still on its way.
    remaining: usize,
}

pub struct Driver {
    state: Mutex<State>,
    wake: Condvar,
    replies: usize,
    addrs: Addrs,
    token: String,
    next_slot: AtomicUsize,
    /// Set when the run is abandoned (a panic in the test thread): client threads stop.
    pub abort: AtomicBool,
    /// Messages answered 200.
    pub done: AtomicUsize,
    /// Attempts that failed on a dead or failing process and were made again elsewhere.
    pub failovers: AtomicUsize,
    answers: Mutex<HashMap<String, Answer>>,
    failures: Mutex<Vec<String>>,
}

impl Driver {
    pub fn new(dates: &[String], replies: usize, addrs: Addrs, token: String) -> Driver {
        let ready: VecDeque<Post> = dates
            .iter()
            .enumerate()
            .map(|(booking, date)| inquiry(booking, date))
            .collect();
        let remaining = ready.len() * (1 + replies);
        Driver {
            state: Mutex::new(State { ready, remaining }),
            wake: Condvar::new(),
            replies,
            addrs,
            token,
            next_slot: AtomicUsize::new(0),
            abort: AtomicBool::new(false),
            done: AtomicUsize::new(0),
            failovers: AtomicUsize::new(0),
            answers: Mutex::new(HashMap::new()),
            failures: Mutex::new(Vec::new()),
        }
    }

    pub fn total(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remaining
    }

    /// One client thread: posts until every message is answered.
    pub fn client(&self) {
        while let Some(post) = self.next() {
            let answered = self.deliver(&post);
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.remaining -= 1;
            match answered {
                Ok(answer) => {
                    if post.reply.is_none() {
                        for k in (1..=self.replies).rev() {
                            state.ready.push_front(reply(post.booking, k));
                        }
                    }
                    self.done.fetch_add(1, Ordering::SeqCst);
                    self.answers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(post.message_id.clone(), answer);
                }
                Err(e) => {
                    if post.reply.is_none() {
                        // Its replies will never be posted.
                        state.remaining -= self.replies;
                    }
                    self.failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(e);
                }
            }
            self.wake.notify_all();
        }
    }

    fn next(&self) -> Option<Post> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.abort.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(post) = state.ready.pop_front() {
                return Some(post);
            }
            if state.remaining == 0 {
                return None;
            }
            state = self
                .wake
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The next live process, round-robin.
    fn pick(&self) -> Option<String> {
        let addrs = self.addrs.read().unwrap_or_else(PoisonError::into_inner);
        let n = addrs.len();
        let start = self.next_slot.fetch_add(1, Ordering::Relaxed);
        (0..n).find_map(|i| addrs[(start + i) % n].clone())
    }

    /// Posts one message until a process answers it. A process that is gone (refused, reset,
    /// cut off) or answers 5xx is given up on and the next one tried: the Message-ID makes a
    /// repeat harmless. Any other answer is a failure of the run.
    fn deliver(&self, post: &Post) -> Result<Answer, String> {
        let started = Instant::now();
        let mut last = String::from("no process was up");
        while started.elapsed() < POST_DEADLINE {
            if self.abort.load(Ordering::SeqCst) {
                return Err(format!("{}: abandoned", post.message_id));
            }
            let Some(addr) = self.pick() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            match http_post(&addr, &self.token, &post.raw) {
                Ok((200, body)) => {
                    let v: Value = serde_json::from_str(&body).map_err(|e| {
                        format!("{}: answer is not JSON ({e}): {body}", post.message_id)
                    })?;
                    return Ok(Answer {
                        duplicate: v["duplicate"].as_bool().ok_or_else(|| {
                            format!("{}: answer without 'duplicate': {body}", post.message_id)
                        })?,
                        event_id: v["event_id"].as_str().map(str::to_owned),
                    });
                }
                Ok((status, body)) if status >= 500 || status == 0 => {
                    last = format!("{addr} answered {status}: {body}");
                }
                Ok((status, body)) => {
                    return Err(format!(
                        "{}: {addr} answered {status}: {body}",
                        post.message_id
                    ));
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
            self.failovers.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{}: no answer within {POST_DEADLINE:?}; last: {last}",
            post.message_id
        ))
    }

    pub fn answers(&self) -> HashMap<String, Answer> {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `POST /api/v1/messages/raw` on a connection of its own: the status and the body (status 0
/// when the answer was cut off).
fn http_post(addr: &str, token: &str, raw: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let head = format!(
        "POST /api/v1/messages/raw HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        raw.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(raw)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        return Ok((0, response.into_owned()));
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if length.is_some_and(|n| body.len() < n) {
        return Ok((0, body.to_owned()));
    }
    Ok((status, body.to_owned()))
}
