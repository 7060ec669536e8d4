//! Text the server sent (a `Msg`, a body quoted in a parse error, a
//! redirect's target) is untrusted: before it reaches a log line, an error
//! or the failed file it is made safe here — the key replaced by
//! `<redacted>` (a server may echo the request line, query string and all),
//! control and bidirectional-formatting characters escaped (so a `\r\n`
//! cannot forge a log line, nor an escape sequence drive a terminal), and
//! the text cut to [`MAX_SHOWN`] characters (so a 50 MB `Msg` does not
//! become 50 MB of cron mail).

use std::fmt::Write as _;

use super::endpoint::ApiKey;

/// Most characters of server text shown.
pub const MAX_SHOWN: usize = 500;

/// Makes server text safe to show for one key; built once per run (the
/// key's encoded form is worked out here, not per message).
#[derive(Clone)]
pub struct Redactor {
    raw: String,
    /// The key as the request's query string carries it.
    encoded: String,
}

impl Redactor {
    pub fn new(key: &ApiKey) -> Redactor {
        let raw = key.expose().to_string();
        let mut url = reqwest::Url::parse("http://k/").expect("a valid URL");
        url.query_pairs_mut().append_pair("k", &raw);
        let encoded = url
            .query()
            .unwrap_or("")
            .trim_start_matches("k=")
            .to_string();
        Redactor { raw, encoded }
    }

    /// `text` made safe to show; the key never appears in it, raw or
    /// percent-encoded.
    pub fn shown(&self, text: &str) -> String {
        // Only the part that can be shown is worked on (a key cut by the
        // end of it is still caught: the part is longer by a key's worth).
        let reach = MAX_SHOWN + self.encoded.len().max(self.raw.len()) + 1;
        let part = match text.char_indices().nth(reach) {
            Some((end, _)) => &text[..end],
            None => text,
        };
        let mut redacted = part.replace(&self.raw, "<redacted>");
        if self.encoded != self.raw {
            redacted = redacted.replace(&self.encoded, "<redacted>");
        }
        let rest_of_text = text[part.len()..].chars().count();
        escape_and_cut(&redacted, rest_of_text)
    }
}

/// Escape `redacted` and cut it to [`MAX_SHOWN`] characters; `beyond` more
/// characters followed it in the original text.
fn escape_and_cut(redacted: &str, beyond: usize) -> String {
    let mut out = String::with_capacity(redacted.len().min(MAX_SHOWN + 32));
    let mut chars = redacted.chars();
    for (count, c) in chars.by_ref().enumerate() {
        if count == MAX_SHOWN {
            let rest = 1 + chars.count() + beyond;
            let _ = write!(out, "… ({rest} more characters)");
            return out;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_format(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that reorder how a terminal shows the text around them.
fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("sk+live/9f8e").unwrap()
    }

    #[test]
    fn the_key_is_redacted_raw_and_encoded() {
        let echoed = "bad request: POST /v1/openapi/chat/record?apiKey=sk%2Blive%2F9f8e HTTP/1.1";
        let s = Redactor::new(&key()).shown(echoed);
        assert!(s.contains("apiKey=<redacted>"), "{s}");
        assert!(!s.contains("9f8e"), "{s}");
        assert_eq!(
            Redactor::new(&key()).shown("key sk+live/9f8e here"),
            "key <redacted> here"
        );
    }

    #[test]
    fn control_characters_cannot_forge_a_line() {
        let s = Redactor::new(&key())
            .shown("ok\r\n2026-11-27T00:00:00Z ERROR forged\u{1b}[31m\u{202e}");
        assert!(
            !s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'),
            "{s}"
        );
        assert!(
            s.contains("\\r\\n") && s.contains("\\u{001b}") && s.contains("\\u{202e}"),
            "{s}"
        );
    }

    #[test]
    fn long_text_is_cut() {
        let s = Redactor::new(&key()).shown(&"错".repeat(50_000));
        assert_eq!(s.chars().filter(|&c| c == '错').count(), MAX_SHOWN);
        assert!(s.ends_with("(49500 more characters)"), "{s}");
        assert_eq!(Redactor::new(&key()).shown("short"), "short");
    }
}
