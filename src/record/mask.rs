//! `--mask`: personal data in message text rewritten before any format
//! sees it. Four classes, each a rule a reviewer can check:
//!
//! - **mobile**: 11 digits starting `1[3-9]`, alone or after `+86`, `0086`
//!   or `86`, in one run or grouped 3-4-4 by single spaces or hyphens;
//! - **id-card**: 17 digits and a check digit (`X` allowed) whose ISO 7064
//!   MOD 11-2 check holds and whose birth date is a real date;
//! - **bank-card**: 16 to 19 digits, in one run or grouped by 4 with single
//!   spaces or hyphens, that pass the Luhn check;
//! - **email**: `local@domain.tld`.
//!
//! A digit match never starts or ends inside a longer run of digits, so
//! order numbers, timestamps and amounts of other lengths stay. One pass
//! over each text, after a cheap filter: text with no ASCII digit and no
//! `@` is returned as it is. docs/output.md ("Masking") states the rules
//! and what they cannot tell apart.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::api::json::{Extra, Field};

/// A class of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Mobile,
    IdCard,
    BankCard,
    Email,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Mobile, Class::IdCard, Class::BankCard, Class::Email];

    /// The name in `--mask` and in the reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Mobile => "mobile",
            Class::IdCard => "id-card",
            Class::BankCard => "bank-card",
            Class::Email => "email",
        }
    }

    /// The tag a match becomes in the `tag` style.
    fn tag(self) -> &'static str {
        match self {
            Class::Mobile => "[MOBILE]",
            Class::IdCard => "[ID_CARD]",
            Class::BankCard => "[BANK_CARD]",
            Class::Email => "[EMAIL]",
        }
    }
}

/// How a match is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskStyle {
    /// A tag naming the class: `[MOBILE]`.
    #[default]
    Tag,
    /// The customary visible parts: `138****5678`.
    Partial,
}

/// Matches per class, by class name.
pub type MaskCounts = BTreeMap<String, u64>;

/// The classes to mask and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masker {
    classes: Vec<Class>,
    style: MaskStyle,
}

impl Masker {
    /// Parse a `--mask` list (`mobile,email`, or `pii` for every class).
    pub fn parse(list: &str, style: MaskStyle) -> Result<Masker, String> {
        let mut classes = Vec::new();
        for name in list.split(',').map(str::trim) {
            if name == "pii" {
                classes.extend(Class::ALL);
                continue;
            }
            let class = Class::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| {
                    format!("--mask: unknown class {name:?}; choose from mobile,id-card,bank-card,email or pii")
                })?;
            classes.push(class);
        }
        classes.sort_unstable();
        classes.dedup();
        Ok(Masker { classes, style })
    }

    /// What the journal's fingerprint records: `mobile,email/tag`.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.classes.iter().map(|c| c.name()).collect();
        let style = match self.style {
            MaskStyle::Tag => "tag",
            MaskStyle::Partial => "partial",
        };
        format!("{}/{style}", names.join(","))
    }

    fn wants(&self, class: Class) -> bool {
        self.classes.contains(&class)
    }

    /// `text` with every match rewritten, counting them in `counts`;
    /// borrowed when nothing matched.
    pub fn mask<'a>(&self, text: &'a str, counts: &mut MaskCounts) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        if !bytes.iter().any(|b| b.is_ascii_digit() || *b == b'@') {
            return Cow::Borrowed(text);
        }
        let found = self.matches(bytes);
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, class) in found {
            out.push_str(&text[at..start]);
            self.write(&text[start..end], class, &mut out);
            *counts.entry(class.name().to_string()).or_default() += 1;
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The JSON text of a value with matches masked inside its string
    /// values only (a number stays a number, and the JSON stays valid: a
    /// replacement holds no quote or backslash).
    /// Rewrite, in place, what this mask finds in a field of an answer:
    /// text as [`Self::mask`], any other JSON value as [`Self::mask_json`].
    pub fn mask_field(&self, field: &mut Field<'_>, counts: &mut MaskCounts) {
        match field {
            Field::Text(text) => {
                if let Cow::Owned(masked) = self.mask(text, counts) {
                    *text = Cow::Owned(masked);
                }
            }
            Field::Json(json) => {
                if let Cow::Owned(masked) = self.mask_json(json, counts) {
                    *json = Cow::Owned(masked);
                }
            }
            Field::Absent => {}
        }
    }

    /// Rewrite, in place, what this mask finds in the string values of
    /// an item's undocumented fields (each a JSON text).
    pub fn mask_extra(&self, extra: &mut Extra<'_>, counts: &mut MaskCounts) {
        for (_, json) in extra.iter_mut() {
            if let Cow::Owned(masked) = self.mask_json(json, counts) {
                *json = Cow::Owned(masked);
            }
        }
    }

    pub fn mask_json<'a>(&self, json: &'a str, counts: &mut MaskCounts) -> Cow<'a, str> {
        let bytes = json.as_bytes();
        if !bytes.iter().any(|b| b.is_ascii_digit() || *b == b'@') {
            return Cow::Borrowed(json);
        }
        let mut out = String::new();
        let (mut at, mut i, mut changed) = (0, 0, false);
        while i < bytes.len() {
            if bytes[i] != b'"' {
                i += 1;
                continue;
            }
            // A string token: up to its closing quote, past escapes.
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = j.min(bytes.len());
            if let Cow::Owned(masked) = self.mask(&json[start..end], counts) {
                out.push_str(&json[at..start]);
                out.push_str(&masked);
                at = end;
                changed = true;
            }
            i = end + 1;
        }
        if !changed {
            return Cow::Borrowed(json);
        }
        out.push_str(&json[at..]);
        Cow::Owned(out)
    }

    /// Every match, in order, not overlapping (an e-mail address wins over
    /// digits inside it).
    fn matches(&self, b: &[u8]) -> Vec<(usize, usize, Class)> {
        let urls = urls(b);
        let in_url = |i: usize| urls.iter().any(|&(s, e)| s <= i && i < e);
        let mut found = Vec::new();
        if self.wants(Class::Email) {
            found.extend(
                emails(b)
                    .into_iter()
                    .filter(|&(s, _)| !in_url(s))
                    .map(|(s, e)| (s, e, Class::Email)),
            );
        }
        let mut i = 0;
        while i < b.len() {
            if in_url(i) {
                i += 1;
                continue;
            }
            let starts =
                (b[i].is_ascii_digit() || b[i] == b'+') && (i == 0 || !b[i - 1].is_ascii_digit());
            if starts {
                if let Some((end, class)) = self.digits_at(b, i) {
                    if !found.iter().any(|&(s, e, _)| s < end && i < e) {
                        found.push((i, end, class));
                    }
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        found.sort_unstable_by_key(|&(s, _, _)| s);
        found
    }

    /// A digit match starting at `i`: the longest rule that holds wins.
    fn digits_at(&self, b: &[u8], i: usize) -> Option<(usize, Class)> {
        if self.wants(Class::IdCard) {
            if let Some(end) = id_card(b, i) {
                return Some((end, Class::IdCard));
            }
        }
        if self.wants(Class::BankCard) {
            if let Some(end) = bank_card(b, i) {
                return Some((end, Class::BankCard));
            }
        }
        if self.wants(Class::Mobile) {
            if let Some(end) = mobile(b, i) {
                return Some((end, Class::Mobile));
            }
        }
        None
    }

    /// Write the replacement of `found` (a match of `class`).
    fn write(&self, found: &str, class: Class, out: &mut String) {
        if self.style == MaskStyle::Tag {
            out.push_str(class.tag());
            return;
        }
        match class {
            Class::Email => {
                let (local, domain) = found.split_once('@').unwrap_or((found, ""));
                out.extend(local.chars().next());
                out.push_str("***@");
                out.push_str(domain);
            }
            Class::Mobile => {
                let digits: String = found.chars().filter(char::is_ascii_digit).collect();
                let national = &digits[digits.len() - 11..];
                out.push_str(&national[..3]);
                out.push_str("****");
                out.push_str(&national[7..]);
            }
            Class::IdCard => {
                out.push_str(&found[..4]);
                out.push_str("**********");
                out.push_str(&found[14..]);
            }
            Class::BankCard => {
                let total = found.bytes().filter(u8::is_ascii_digit).count();
                let mut seen = 0;
                for c in found.chars() {
                    if c.is_ascii_digit() {
                        seen += 1;
                        out.push(if seen <= 4 || seen > total - 4 {
                            c
                        } else {
                            '*'
                        });
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }
}

/// Whether the byte at `end` ends a digit match (no digit follows).
fn bounded(b: &[u8], end: usize) -> bool {
    end >= b.len() || !b[end].is_ascii_digit()
}

/// Digits from `i` on, with single separators (`sep`) allowed after the
/// group lengths in `groups`, or none at all: the end, and the digits.
fn grouped(b: &[u8], i: usize, groups: &[usize]) -> Option<(usize, Vec<u8>)> {
    let mut digits = Vec::new();
    let mut at = i;
    let mut sep: Option<u8> = None;
    for (n, &len) in groups.iter().enumerate() {
        if n > 0 {
            let s = *b.get(at)?;
            if !(s == b' ' || s == b'-') || sep.is_some_and(|x| x != s) {
                return None;
            }
            sep = Some(s);
            at += 1;
        }
        let run = b.get(at..at + len)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits.extend_from_slice(run);
        at += len;
    }
    Some((at, digits))
}

/// A run of exactly `len` digits at `i`, bounded.
fn run(b: &[u8], i: usize, len: usize) -> Option<usize> {
    let end = i + len;
    (b.get(i..end)?.iter().all(u8::is_ascii_digit) && bounded(b, end)).then_some(end)
}

/// A mainland mobile number at `i`, with its prefix if any.
fn mobile(b: &[u8], i: usize) -> Option<usize> {
    let mut at = i;
    for prefix in [&b"+86"[..], b"0086", b"86"] {
        if b[i..].starts_with(prefix) {
            let mut next = i + prefix.len();
            if matches!(b.get(next), Some(b' ' | b'-')) {
                next += 1;
            }
            if national(b, next).is_some() {
                at = next;
                break;
            }
        }
    }
    if b[at] == b'+' {
        return None;
    }
    national(b, at)
}

/// The 11 national digits at `i`: one run, or 3-4-4.
fn national(b: &[u8], i: usize) -> Option<usize> {
    let ok = |d: &[u8]| d[0] == b'1' && (b'3'..=b'9').contains(&d[1]);
    if let Some(end) = run(b, i, 11) {
        if ok(&b[i..end]) {
            return Some(end);
        }
    }
    let (end, digits) = grouped(b, i, &[3, 4, 4])?;
    (bounded(b, end) && ok(&digits)).then_some(end)
}

/// A resident ID number at `i`: 17 digits and a check character.
fn id_card(b: &[u8], i: usize) -> Option<usize> {
    let body = b.get(i..i + 17)?;
    if !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let check = *b.get(i + 17)?;
    let end = i + 18;
    if !(check.is_ascii_digit() || check == b'X' || check == b'x')
        || b.get(end).is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let expected = b"10X98765432"[(sum % 11) as usize];
    if check.to_ascii_uppercase() != expected {
        return None;
    }
    let number = |r: std::ops::Range<usize>| -> u32 {
        body[r].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    let real = (1900..=2100).contains(&year)
        && chrono::NaiveDate::from_ymd_opt(year as i32, month, day).is_some();
    real.then_some(end)
}

/// A bank card number at `i`: 16 to 19 digits, one run or groups of 4,
/// passing the Luhn check.
fn bank_card(b: &[u8], i: usize) -> Option<usize> {
    for len in (16..=19).rev() {
        if let Some(end) = run(b, i, len) {
            return luhn(&b[i..end]).then_some(end);
        }
    }
    for last in (1..=4).rev() {
        for groups in [&[4, 4, 4, 4][..], &[4, 4, 4, 4, last][..]] {
            let Some((end, digits)) = grouped(b, i, groups) else {
                continue;
            };
            if (16..=19).contains(&digits.len()) && bounded(b, end) && luhn(&digits) {
                return Some(end);
            }
        }
    }
    None
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(n, d)| {
            let d = u32::from(d - b'0');
            if n % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Every URL (`http://`, `https://`, `www.` up to the next space or
/// non-ASCII character): its digits and `@`s are an address, not data.
fn urls(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let url = rest.starts_with(b"http://")
            || rest.starts_with(b"https://")
            || (rest.starts_with(b"www.") && (i == 0 || !b[i - 1].is_ascii_alphanumeric()));
        if url {
            let end = rest
                .iter()
                .position(|c| c.is_ascii_whitespace() || !c.is_ascii())
                .map_or(b.len(), |n| i + n);
            out.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Every e-mail address: a local part of letters, digits and `._%+-`
/// before `@`, a domain of labels with a dot and a final label of two or
/// more letters after it.
fn emails(b: &[u8]) -> Vec<(usize, usize)> {
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut out = Vec::new();
    for (at, _) in b.iter().enumerate().filter(|(_, c)| **c == b'@') {
        let mut start = at;
        while start > 0 && local(b[start - 1]) {
            start -= 1;
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < b.len() && domain(b[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let host = &b[at + 1..end];
        let tld = host.rsplit(|c| *c == b'.').next().unwrap_or_default();
        let ok = start < at
            && host.contains(&b'.')
            && tld.len() >= 2
            && tld.iter().all(u8::is_ascii_alphabetic)
            && !out.iter().any(|&(_, e)| e > start);
        if ok {
            out.push((start, end));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str, style: MaskStyle) -> (String, MaskCounts) {
        let m = Masker::parse("pii", style).unwrap();
        let mut counts = MaskCounts::new();
        let out = m.mask(text, &mut counts).into_owned();
        (out, counts)
    }

    fn tag(text: &str) -> String {
        masked(text, MaskStyle::Tag).0
    }

    #[test]
    fn mobiles_in_every_accepted_form_are_masked() {
        for form in [
            "13812345678",
            "+8613812345678",
            "008613812345678",
            "8613812345678",
            "+86 138 1234 5678",
            "138 1234 5678",
            "138-1234-5678",
        ] {
            assert_eq!(
                tag(&format!("call {form} now")),
                "call [MOBILE] now",
                "{form}"
            );
        }
        assert_eq!(
            masked("手机13812345678。", MaskStyle::Partial).0,
            "手机138****5678。"
        );
    }

    #[test]
    fn id_cards_need_their_check_digit_and_a_real_birth_date() {
        // 11010519491231002X: a valid check digit, born 1949-12-31.
        assert_eq!(tag("身份证11010519491231002X"), "身份证[ID_CARD]");
        assert_eq!(
            masked("id 11010519491231002x.", MaskStyle::Partial).0,
            "id 1101**********002x."
        );
        assert_eq!(
            tag("110105194912310021"),
            "110105194912310021",
            "wrong check digit"
        );
        // A right check digit but the 31st of February.
        let body = *b"11010519490231002";
        let sum: u32 = body
            .iter()
            .zip([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
            .map(|(d, w)| u32::from(*d - b'0') * w)
            .sum();
        let check = b"10X98765432"[(sum % 11) as usize];
        let number = format!("{}{}", std::str::from_utf8(&body).unwrap(), check as char);
        assert_eq!(tag(&number), number, "no such date");
    }

    #[test]
    fn bank_cards_need_the_luhn_check() {
        // 6222021234567890123 (19 digits) and 4111111111111111 pass Luhn.
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
        ] {
            assert_eq!(tag(&format!("卡号{card}")), "卡号[BANK_CARD]", "{card}");
        }
        assert_eq!(
            masked("4111 1111 1111 1111", MaskStyle::Partial).0,
            "4111 **** **** 1111"
        );
        assert_eq!(tag("4111111111111112"), "4111111111111112", "fails Luhn");
    }

    #[test]
    fn emails_are_masked_and_urls_with_at_survive() {
        assert_eq!(tag("mail zhang.san@example.com."), "mail [EMAIL].");
        assert_eq!(
            masked("zhang@example.com", MaskStyle::Partial).0,
            "z***@example.com"
        );
        for decoy in ["https://example.com/@user", "a@b", "@home", "x@localhost"] {
            assert_eq!(tag(decoy), decoy);
        }
        assert_eq!(tag("13812345678@qq.com"), "[EMAIL]", "the address wins");
    }

    /// Order numbers, timestamps, amounts, URLs and digit runs of other
    /// lengths stay; a phone number inside a longer run is not one.
    #[test]
    fn decoys_survive() {
        for decoy in [
            "订单号 202611260001234",
            "1764115200",
            "¥138.00",
            "123456789012",
            "12345678901234",
            "913812345678",
            "138123456789",
            "12812345678",
            "2026-11-26 13:45:00",
            "https://shop.example.com/item/13812345678x",
            "no digits here, 你好",
        ] {
            assert_eq!(tag(decoy), decoy, "{decoy}");
        }
    }

    #[test]
    fn masking_is_idempotent_and_counts_each_match() {
        let text = "13812345678 and 4111111111111111 and a@example.com";
        let (once, counts) = masked(text, MaskStyle::Tag);
        assert_eq!(tag(&once), once);
        let (partial, _) = masked(text, MaskStyle::Partial);
        assert_eq!(masked(&partial, MaskStyle::Partial).0, partial);
        assert_eq!(counts["mobile"], 1);
        assert_eq!(counts["bank-card"], 1);
        assert_eq!(counts["email"], 1);
        let plain = "没有数字";
        assert!(matches!(
            Masker::parse("pii", MaskStyle::Tag)
                .unwrap()
                .mask(plain, &mut MaskCounts::new()),
            Cow::Borrowed(_)
        ));
    }

    /// Properties, over many random texts of digits, separators, `@`,
    /// letters and Chinese: masking is idempotent, leaves text without a
    /// digit or `@` alone (borrowed), and never grows a match's count on
    /// a second pass.
    #[test]
    fn masking_properties_hold_on_random_text() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet: Vec<char> = "0123456789138645 -+@.xX_abz中文。".chars().collect();
        for style in [MaskStyle::Tag, MaskStyle::Partial] {
            let m = Masker::parse("pii", style).unwrap();
            for _ in 0..5000 {
                let len = rng.random_range(0..60);
                let text: String = (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect();
                let mut counts = MaskCounts::new();
                let once = m.mask(&text, &mut counts).into_owned();
                let mut again = MaskCounts::new();
                let twice = m.mask(&once, &mut again).into_owned();
                if style == MaskStyle::Tag {
                    assert_eq!(twice, once, "{text:?}");
                    assert!(again.is_empty(), "{text:?}");
                }
                let plain: String = text
                    .chars()
                    .filter(|c| !c.is_ascii_digit() && *c != '@')
                    .collect();
                assert!(matches!(m.mask(&plain, &mut counts), Cow::Borrowed(_)));
            }
        }
    }

    #[test]
    fn json_is_masked_in_string_values_only() {
        let m = Masker::parse("mobile", MaskStyle::Tag).unwrap();
        let mut counts = MaskCounts::new();
        let json = r#"{"note":"call 13812345678","phone":13812345678,"q":"\"13912345678\""}"#;
        let out = m.mask_json(json, &mut counts);
        assert_eq!(
            out,
            r#"{"note":"call [MOBILE]","phone":13812345678,"q":"\"[MOBILE]\""}"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }

    #[test]
    fn only_the_asked_classes_are_masked() {
        let m = Masker::parse("email", MaskStyle::Tag).unwrap();
        let out = m.mask("13812345678 a@example.com", &mut MaskCounts::new());
        assert_eq!(out, "13812345678 [EMAIL]");
        assert!(Masker::parse("phone", MaskStyle::Tag).is_err());
        assert_eq!(
            Masker::parse("email,mobile,email", MaskStyle::Partial)
                .unwrap()
                .describe(),
            "mobile,email/partial"
        );
    }
}
