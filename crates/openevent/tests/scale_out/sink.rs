//! A plain-SMTP server on loopback that accepts everything and notes each message it took.
//!
//! Each sending process says who it is in its EHLO name (its `smtp.hello_name`), so every
//! delivery is attributed to one process incarnation: a resend after a SIGKILL can be traced back
//! to the incarnation that was killed.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One message the sink answered 250 to.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Without angle brackets.
    pub message_id: String,
    pub recipients: Vec<String>,
    /// The EHLO name of the sender.
    pub helo: String,
    pub at: Instant,
}

#[derive(Default)]
struct Log {
    deliveries: Mutex<Vec<Delivery>>,
    last_by_helo: Mutex<HashMap<String, Instant>>,
}

pub struct Sink {
    port: u16,
    log: Arc<Log>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Log::default());
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let log = Arc::clone(&log);
                    // A session that breaks off (its sender was killed) just ends.
                    std::thread::spawn(move || {
                        let _ = session(stream, &log);
                    });
                }
            })
        };
        Sink {
            port,
            log,
            stop,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.log
            .deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn count(&self) -> usize {
        self.log
            .deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// When the sender that introduced itself as `helo` last completed a message.
    pub fn last_from(&self, helo: &str) -> Option<Instant> {
        self.log
            .last_by_helo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(helo)
            .copied()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so that the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    Ok(r.read_until(b'\n', buf)? > 0)
}

fn session(stream: TcpStream, log: &Log) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut helo = String::new();
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
            "EHLO" | "HELO" => {
                helo = text[4..].trim().to_owned();
                out.write_all(b"250 sink.test\r\n")?;
            }
            "MAIL" => {
                recipients.clear();
                out.write_all(b"250 ok\r\n")?;
            }
            "RCPT" => {
                let to = text
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map_or("", |(addr, _)| addr);
                recipients.push(to.to_owned());
                out.write_all(b"250 ok\r\n")?;
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut message_id = None;
                let mut in_headers = true;
                loop {
                    if !read_line(&mut input, &mut line)? {
                        // The sender went away in the middle: nothing was delivered.
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end();
                    if text.is_empty() {
                        in_headers = false;
                    } else if in_headers
                        && let Some((name, value)) = text.split_once(':')
                        && name.eq_ignore_ascii_case("message-id")
                    {
                        message_id = Some(
                            value
                                .trim()
                                .trim_start_matches('<')
                                .trim_end_matches('>')
                                .to_owned(),
                        );
                    }
                }
                let at = Instant::now();
                log.deliveries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Delivery {
                        message_id: message_id.unwrap_or_default(),
                        recipients: std::mem::take(&mut recipients),
                        helo: helo.clone(),
                        at,
                    });
                log.last_by_helo
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(helo.clone(), at);
                out.write_all(b"250 ok queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            "RSET" | "NOOP" => out.write_all(b"250 ok\r\n")?,
            _ => out.write_all(b"502 not implemented\r\n")?,
        }
    }
    Ok(())
}
