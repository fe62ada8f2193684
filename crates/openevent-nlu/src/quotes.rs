//! Removes quoted history and signatures so that only what the client wrote now is read.
//!
//! Cut points (the first one wins, everything below it goes):
//! - reply headers: "On … wrote:", "Am … schrieb …:", "Le … a écrit :", "Il … ha scritto:",
//!   "El … escribió:" (also when the mail client wrapped the header over two lines);
//! - Outlook blocks: "-----Original Message-----", "-----Ursprüngliche Nachricht-----",
//!   "From: … / Sent: …", "Von: … / Gesendet: …", "De : … / Envoyé : …", "Da: … / Inviato: …";
//! - a signature delimiter line "-- ".
//!
//! Lines starting with ">" are dropped wherever they are.

use std::sync::LazyLock;

use crate::text::Re;

static REPLY_HEADER: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?i)^\s*(?:on\s.{3,200}\bwrote\s*:|am\s.{3,200}\bschrieb\b.{0,200}:|le\s.{3,200}\ba\s+écrit\s*:|il\s.{3,200}\bha\s+scritto\s*:|el\s.{3,200}\bescribió\s*:)\s*$",
    )
});

static OUTLOOK_SEPARATOR: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?i)^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|messaggio originale|mensaje original)\s*-{2,}\s*$",
    )
});

static HEADER_FROM: LazyLock<Re> =
    LazyLock::new(|| Re::new(r"(?i)^\s*\*?(?:from|von|de|da)\s*\*?\s*:\s*\S"));

static HEADER_SENT: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?i)^\s*\*?(?:sent|date|gesendet|datum|envoyé|inviato|enviado|fecha|to|an|à|a|para)\s*\*?\s*:",
    )
});

/// The text the client wrote in this message, without quoted history or signature.
pub fn strip_quoted(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut cut = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if is_cut_point(&lines, i, line) {
            cut = i;
            break;
        }
    }
    let mut out = String::with_capacity(body.len());
    for line in &lines[..cut] {
        if line.trim_start().starts_with('>') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

fn is_cut_point(lines: &[&str], i: usize, line: &str) -> bool {
    if line == "-- " || line.trim_end() == "--" {
        return true;
    }
    // Each pattern is anchored at the line start after white space: a look at the first
    // bytes rules most lines out before a pattern runs.
    let start = line.trim_start();
    if start.starts_with("--") && OUTLOOK_SEPARATOR.is_match(line) {
        return true;
    }
    if line.len() < 400
        && may_start_with(start, &["on", "am", "le", "il", "el"])
        && REPLY_HEADER.is_match(line)
    {
        return true;
    }
    // A header wrapped over two lines: "On Tue, 3 Mar 2026 at 10:00, Anna" / "<a@b.ch> wrote:".
    // The cheap start check first: most lines are not the start of a header.
    if let Some(next) = lines.get(i + 1)
        && looks_like_header_start(line)
    {
        let joined = format!("{} {}", line.trim_end(), next.trim_start());
        if joined.len() < 400 && REPLY_HEADER.is_match(&joined) && !REPLY_HEADER.is_match(next) {
            return true;
        }
    }
    // "From: … " followed within three lines by "Sent: …" / "Gesendet: …".
    let after_star = start.strip_prefix('*').unwrap_or(start);
    if may_start_with(after_star, &["f", "v", "d"]) && HEADER_FROM.is_match(line) {
        return lines
            .iter()
            .skip(i + 1)
            .take(3)
            .any(|l| HEADER_SENT.is_match(l));
    }
    false
}

/// Whether `text` may start, ignoring ASCII case, with one of the lowercase ASCII `prefixes`
/// (all of one length). A non-ASCII start is left to the pattern (Unicode case folding).
fn may_start_with(text: &str, prefixes: &[&str]) -> bool {
    let n = prefixes.first().map_or(0, |p| p.len());
    match text.as_bytes().get(..n) {
        Some(head) if head.is_ascii() => prefixes
            .iter()
            .any(|p| head.eq_ignore_ascii_case(p.as_bytes())),
        _ => true,
    }
}

fn looks_like_header_start(line: &str) -> bool {
    let l = line.trim_start().to_lowercase();
    ["on ", "am ", "le ", "il ", "el "]
        .iter()
        .any(|p| l.starts_with(p))
        && l.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_reply_headers_in_five_languages() {
        for header in [
            "On Tue, 3 Mar 2026 at 10:12, The Atelier <events@atelier.ch> wrote:",
            "Am 03.03.2026 um 10:12 schrieb The Atelier <events@atelier.ch>:",
            "Le mar. 3 mars 2026 à 10:12, The Atelier <events@atelier.ch> a écrit :",
            "Il giorno mar 3 mar 2026 alle ore 10:12 The Atelier ha scritto:",
            "El mar, 3 mar 2026 a las 10:12, The Atelier escribió:",
        ] {
            let body =
                format!("Yes, 17 March works.\n\n{header}\n> We can offer 20 March.\n> Best");
            assert_eq!(strip_quoted(&body), "Yes, 17 March works.", "{header}");
        }
    }

    #[test]
    fn cuts_wrapped_header_and_outlook_blocks() {
        let body = "Fine.\nOn Tue, 3 Mar 2026 at 10:12, Events\n<events@atelier.ch> wrote:\n> old";
        assert_eq!(strip_quoted(body), "Fine.");
        let body = "Ok for us.\n\n-----Original Message-----\nFrom: x\nSent: y\nDate 20.03.2026";
        assert_eq!(strip_quoted(body), "Ok for us.");
        let body = "Passt.\n\nVon: Events <e@a.ch>\nGesendet: Dienstag, 3. März 2026\nAn: Anna\nBetreff: Offerte";
        assert_eq!(strip_quoted(body), "Passt.");
        let body = "Merci.\n\nDe : Events\nEnvoyé : mardi 3 mars\nÀ : Anna";
        assert_eq!(strip_quoted(body), "Merci.");
    }

    #[test]
    fn drops_quote_lines_and_signature() {
        let body = "Hi\n> quoted 17.03.2026\nWe are 30.\n-- \nAnna Muster\n+41 44 123 45 67";
        assert_eq!(strip_quoted(body), "Hi\nWe are 30.");
    }

    #[test]
    fn keeps_plain_text() {
        let body = "From the 12th we are free.\nOn Monday we will call you.";
        assert_eq!(strip_quoted(body), body);
        assert_eq!(strip_quoted(""), "");
    }
}
