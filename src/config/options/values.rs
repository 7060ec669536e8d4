//! The value types of settings written the human way: durations (`30s`)
//! and sizes (`256MiB`), on the command line and in the file alike.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// A duration written the human way (`30s`, `500ms`, `2m`), on the command
/// line and in the file alike. A bad value is never echoed: it may be a key
/// pasted into the wrong field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        humantime::parse_duration(s.trim())
            .map(HumanDuration)
            .map_err(|e| format!("{e} (expected a duration such as 30s, 500ms or 2m)"))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom("not a duration (write it like 30s, 500ms or 2m)")
        })?;
        text.parse().map_err(|_| {
            serde::de::Error::custom("not a duration (write it like 30s, 500ms or 2m)")
        })
    }
}

/// A size in bytes: a number, optionally with a unit (`256MiB`, `64KiB`,
/// `1GiB`, `500000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(digits);
        let number: u64 = number
            .parse()
            .map_err(|_| "expected a size such as 256MiB, 64KiB or 1000000".to_string())?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            _ => return Err(format!("{unit:?}: the units are KiB, MiB and GiB")),
        };
        number
            .checked_mul(scale)
            .map(ByteSize)
            .ok_or_else(|| "too large".to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Number(n)) => Ok(ByteSize(n)),
            Ok(Raw::Text(t)) => t.parse().map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "not a size (write it like \"256MiB\" or 1000000)",
            )),
        }
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if n >= scale && n.is_multiple_of(scale) {
                return write!(f, "{}{unit}", n / scale);
            }
        }
        write!(f, "{n}")
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}
