//! How each field of [`super::ExportOptions`] takes part in the layering
//! (given or not, how a higher layer covers a lower one) and how its
//! default reads in `--help`.

use std::path::PathBuf;

use clap::ValueEnum;

use super::values::{ByteSize, HumanDuration};
use crate::console::logging::LogFormat;
use crate::console::progress::ProgressMode;
use crate::output::{Compression, Format};
use crate::record::mask::MaskStyle;

/// How one field takes part in the layering: whether a layer gives it, how
/// a higher layer's value covers a lower one's, and how a default is shown.
pub(super) trait Layer: Sized {
    fn is_given(&self) -> bool;
    fn over(self, lower: Self) -> Self;
    fn show(&self) -> Option<String>;
}

impl<T: Show> Layer for Option<T> {
    fn is_given(&self) -> bool {
        self.is_some()
    }
    fn over(self, lower: Self) -> Self {
        self.or(lower)
    }
    fn show(&self) -> Option<String> {
        self.as_ref().map(Show::show)
    }
}

/// A switch: on in any layer is on.
impl Layer for bool {
    fn is_given(&self) -> bool {
        *self
    }
    fn over(self, lower: Self) -> Self {
        self || lower
    }
    fn show(&self) -> Option<String> {
        None
    }
}

/// A count (`-vv`): the highest layer that counts at all wins.
impl Layer for u8 {
    fn is_given(&self) -> bool {
        *self > 0
    }
    fn over(self, lower: Self) -> Self {
        if self > 0 {
            self
        } else {
            lower
        }
    }
    fn show(&self) -> Option<String> {
        None
    }
}

/// A repeatable flag: the highest layer that lists any wins, whole.
impl<T> Layer for Vec<T> {
    fn is_given(&self) -> bool {
        !self.is_empty()
    }
    fn over(self, lower: Self) -> Self {
        if self.is_empty() {
            lower
        } else {
            self
        }
    }
    fn show(&self) -> Option<String> {
        None
    }
}

/// How a default value reads in `--help`.
pub(super) trait Show {
    fn show(&self) -> String;
}

macro_rules! show_display {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
show_display!(String, usize, u32, u64, f64, HumanDuration, ByteSize);

impl Show for PathBuf {
    fn show(&self) -> String {
        self.display().to_string()
    }
}

macro_rules! show_value_enum {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn show(&self) -> String {
                self.to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            }
        }
    )*};
}
show_value_enum!(Format, Compression, ProgressMode, LogFormat, MaskStyle);
