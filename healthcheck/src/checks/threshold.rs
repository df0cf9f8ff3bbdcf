//! Thresholds of the resource checkers (`disk`, `memory`): an amount or a percentage below which
//! what is left makes a check degraded or unhealthy.

use std::fmt;
use std::str::FromStr;

use crate::component::Status;

/// A level of what is left — free bytes, free inodes, available memory — below which a checker
/// reports degraded or unhealthy: an absolute amount or a percentage of the total.
///
/// Build one with [`Threshold::bytes`], [`Threshold::mib`], [`Threshold::gib`],
/// [`Threshold::count`] or [`Threshold::percent`], or parse one from text:
///
/// | text | threshold |
/// |---|---|
/// | `"5%"`, `"2.5 %"` | 5 %, 2.5 % of the total |
/// | `"512MiB"`, `"10GiB"`, `"1 TiB"`, `"64KiB"` | binary units: 2¹⁰, 2²⁰, 2³⁰, 2⁴⁰ bytes |
/// | `"500MB"`, `"10GB"`, `"1TB"`, `"64kB"` | decimal units: 10³, 10⁶, 10⁹, 10¹² bytes |
/// | `"100000"`, `"4096B"` | that many bytes (or inodes) |
///
/// Units are case-insensitive (`"10gib"`, `"10G"` = 10⁹, `"10Gi"` = 2³⁰). A percentage must be a
/// finite number in 0..=100. A threshold of zero never triggers: it turns its level off.
///
/// # Example
/// ```
/// use healthcheck::checks::Threshold;
///
/// assert_eq!("10GiB".parse::<Threshold>()?, Threshold::gib(10));
/// assert_eq!("5%".parse::<Threshold>()?, Threshold::percent(5.0));
/// assert!("150%".parse::<Threshold>().is_err());
/// # Ok::<(), healthcheck::checks::ThresholdError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// An amount: bytes for space and memory, a number of inodes for inodes.
    Absolute(u64),
    /// A percentage of the total, in 0..=100.
    Percent(f64),
}

impl Threshold {
    /// `n` bytes.
    #[must_use]
    pub const fn bytes(n: u64) -> Self {
        Threshold::Absolute(n)
    }

    /// `n` MiB (2²⁰ bytes each).
    #[must_use]
    pub const fn mib(n: u64) -> Self {
        Threshold::Absolute(n.saturating_mul(1 << 20))
    }

    /// `n` GiB (2³⁰ bytes each).
    #[must_use]
    pub const fn gib(n: u64) -> Self {
        Threshold::Absolute(n.saturating_mul(1 << 30))
    }

    /// `n` items (inodes).
    #[must_use]
    pub const fn count(n: u64) -> Self {
        Threshold::Absolute(n)
    }

    /// `p` percent of the total. A value outside 0..=100, or not finite, makes the check that
    /// uses it fail to build.
    #[must_use]
    pub const fn percent(p: f64) -> Self {
        Threshold::Percent(p)
    }

    /// Checks the value: a percentage must be finite and in 0..=100.
    ///
    /// # Errors
    /// A [`ThresholdError`] saying what is wrong.
    pub fn validate(self) -> Result<Self, ThresholdError> {
        match self {
            Threshold::Percent(p) if !p.is_finite() || !(0.0..=100.0).contains(&p) => Err(
                ThresholdError(format!("the percentage {p} is not a number in 0..=100")),
            ),
            _ => Ok(self),
        }
    }

    /// Whether `left` of `total` is below this level. A zero threshold never triggers; a
    /// percentage of an unknown (zero) total does not either.
    pub(crate) fn is_above(self, left: u64, total: u64) -> bool {
        match self {
            Threshold::Absolute(n) => left < n,
            Threshold::Percent(p) => total > 0 && percent_of(left, total) < p,
        }
    }

    /// The threshold for a message: `5 %`, `10.0 GiB` (bytes) or `1000` (a count).
    pub(crate) fn describe(self, bytes: bool) -> String {
        match self {
            Threshold::Percent(p) => format!("{p} %"),
            Threshold::Absolute(n) if bytes => human_bytes(n),
            Threshold::Absolute(n) => n.to_string(),
        }
    }

    fn is_off(self) -> bool {
        match self {
            Threshold::Absolute(n) => n == 0,
            Threshold::Percent(p) => p == 0.0,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Threshold::Absolute(n) => write!(f, "{n}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bad = |why: &str| ThresholdError(format!("invalid threshold {text:?}: {why}"));
        if let Some(number) = trimmed.strip_suffix('%') {
            let p: f64 = number
                .trim()
                .parse()
                .map_err(|_| bad("expected a number before `%`"))?;
            return Threshold::Percent(p)
                .validate()
                .map_err(|e| bad(&e.0.replace("the percentage ", "")));
        }
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        if number.is_empty() {
            return Err(bad("expected a number, then a unit such as `GiB` or `%`"));
        }
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "t" | "tb" => 1_000_000_000_000,
            "ki" | "kib" => 1 << 10,
            "mi" | "mib" => 1 << 20,
            "gi" | "gib" => 1 << 30,
            "ti" | "tib" => 1 << 40,
            _ => {
                return Err(bad(
                    "unknown unit (expected B, kB, MB, GB, TB, KiB, MiB, GiB, TiB or %)",
                ));
            }
        };
        let amount = if let Ok(whole) = number.parse::<u64>() {
            whole.checked_mul(scale).ok_or_else(|| bad("too large"))?
        } else {
            let value: f64 = number.parse().map_err(|_| bad("not a number"))?;
            let bytes = (value * scale as f64).round();
            if !bytes.is_finite() || bytes >= u64::MAX as f64 {
                return Err(bad("too large"));
            }
            bytes as u64
        };
        Ok(Threshold::Absolute(amount))
    }
}

/// Why a threshold is not valid: a percentage outside 0..=100, a unit not known, not a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdError(String);

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ThresholdError {}

/// What a threshold setter accepts: a [`Threshold`], or text parsed as one (`"10GiB"`, `"5%"`).
/// Text that does not parse makes the check fail to build, saying why.
pub trait IntoThreshold {
    /// The threshold.
    ///
    /// # Errors
    /// A [`ThresholdError`] when the text does not parse or the percentage is out of range.
    fn into_threshold(self) -> Result<Threshold, ThresholdError>;
}

impl IntoThreshold for Threshold {
    fn into_threshold(self) -> Result<Threshold, ThresholdError> {
        self.validate()
    }
}

impl IntoThreshold for &str {
    fn into_threshold(self) -> Result<Threshold, ThresholdError> {
        self.parse()
    }
}

impl IntoThreshold for String {
    fn into_threshold(self) -> Result<Threshold, ThresholdError> {
        self.parse()
    }
}

impl IntoThreshold for &String {
    fn into_threshold(self) -> Result<Threshold, ThresholdError> {
        self.parse()
    }
}

/// A pair of levels, degraded and unhealthy, with the defaults of a checker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Levels {
    pub(crate) degraded: Threshold,
    pub(crate) unhealthy: Threshold,
    degraded_set: bool,
    unhealthy_set: bool,
}

impl Levels {
    /// Degraded below `degraded` and unhealthy below `unhealthy`, until set otherwise.
    pub(crate) const fn defaults(degraded: Threshold, unhealthy: Threshold) -> Self {
        Self {
            degraded,
            unhealthy,
            degraded_set: false,
            unhealthy_set: false,
        }
    }

    /// Sets the degraded level; an invalid one is returned as the reason, for `Common::invalid`.
    pub(crate) fn set_degraded(&mut self, what: &str, t: impl IntoThreshold) -> Result<(), String> {
        self.degraded = t.into_threshold().map_err(|e| format!("{what}: {e}"))?;
        self.degraded_set = true;
        Ok(())
    }

    /// Sets the unhealthy level; an invalid one is returned as the reason.
    pub(crate) fn set_unhealthy(
        &mut self,
        what: &str,
        t: impl IntoThreshold,
    ) -> Result<(), String> {
        self.unhealthy = t.into_threshold().map_err(|e| format!("{what}: {e}"))?;
        self.unhealthy_set = true;
        Ok(())
    }

    /// The levels in order, or why not: the unhealthy level above the degraded one (both of the
    /// same kind, neither off). `names` are the two setters, for the message.
    pub(crate) fn check_order(&self, names: (&str, &str), bytes: bool) -> Result<(), String> {
        if self.degraded.is_off() || self.unhealthy.is_off() {
            return Ok(());
        }
        let inverted = match (self.degraded, self.unhealthy) {
            (Threshold::Absolute(d), Threshold::Absolute(u)) => u > d,
            (Threshold::Percent(d), Threshold::Percent(u)) => u > d,
            _ => false,
        };
        if !inverted {
            return Ok(());
        }
        let default = |set: bool| if set { "" } else { " (the default)" };
        Err(format!(
            "{} {}{} is above {} {}{}: the unhealthy level must not be above the degraded one",
            names.1,
            self.unhealthy.describe(bytes),
            default(self.unhealthy_set),
            names.0,
            self.degraded.describe(bytes),
            default(self.degraded_set),
        ))
    }

    /// The status of `left` of `total`, and the level crossed, if any.
    pub(crate) fn status_of(&self, left: u64, total: u64) -> (Status, Option<Threshold>) {
        if self.unhealthy.is_above(left, total) {
            (Status::Unhealthy, Some(self.unhealthy))
        } else if self.degraded.is_above(left, total) {
            (Status::Degraded, Some(self.degraded))
        } else {
            (Status::Healthy, None)
        }
    }
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
pub(crate) fn percent_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// `n` bytes in the largest binary unit that keeps it at 1 or more: `12.3 GiB`, `512.0 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A percentage for a message: one decimal.
pub(crate) fn human_percent(p: f64) -> String {
    format!("{p:.1} %")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parses_to_amounts_and_percentages() {
        for (text, expected) in [
            ("5%", Threshold::Percent(5.0)),
            (" 2.5 % ", Threshold::Percent(2.5)),
            ("0%", Threshold::Percent(0.0)),
            ("100%", Threshold::Percent(100.0)),
            ("10GiB", Threshold::Absolute(10 << 30)),
            ("10 gib", Threshold::Absolute(10 << 30)),
            ("10Gi", Threshold::Absolute(10 << 30)),
            ("512MiB", Threshold::Absolute(512 << 20)),
            ("1.5GiB", Threshold::Absolute(3 << 29)),
            ("10GB", Threshold::Absolute(10_000_000_000)),
            ("10G", Threshold::Absolute(10_000_000_000)),
            ("64kB", Threshold::Absolute(64_000)),
            ("1TiB", Threshold::Absolute(1 << 40)),
            ("4096B", Threshold::Absolute(4096)),
            ("100000", Threshold::Absolute(100_000)),
        ] {
            assert_eq!(text.parse::<Threshold>(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        for (text, says) in [
            ("150%", "0..=100"),
            ("-1%", "0..=100"),
            ("NaN%", "0..=100"),
            ("inf%", "0..=100"),
            ("%", "number before"),
            ("abc%", "number before"),
            ("", "expected a number"),
            ("GiB", "expected a number"),
            ("10XB", "unknown unit"),
            ("10 GiB extra", "unknown unit"),
            ("1.2.3GiB", "not a number"),
            ("-5GiB", "expected a number"),
            ("99999999999TiB", "too large"),
            ("1e30", "unknown unit"),
        ] {
            let err = text.parse::<Threshold>().expect_err(text).to_string();
            assert!(err.contains(says), "{text}: {err}");
            assert!(err.contains(&format!("{text:?}")), "{text}: {err}");
        }
        for bad in [-0.1, 100.1, f64::NAN, f64::INFINITY] {
            assert!(Threshold::percent(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn levels_order_and_status() {
        let mut levels = Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0));
        assert_eq!(levels.status_of(50, 100), (Status::Healthy, None));
        assert_eq!(
            levels.status_of(9, 100),
            (Status::Degraded, Some(Threshold::percent(10.0)))
        );
        assert_eq!(
            levels.status_of(4, 100),
            (Status::Unhealthy, Some(Threshold::percent(5.0)))
        );
        assert!(levels.check_order(("d", "u"), true).is_ok());
        levels.set_degraded("d", "2%").unwrap();
        let err = levels.check_order(("d", "u"), true).unwrap_err();
        assert!(err.contains("u 5 % (the default) is above d 2 %"), "{err}");
        // Off levels and mixed kinds are not compared.
        levels.set_degraded("d", "0%").unwrap();
        assert!(levels.check_order(("d", "u"), true).is_ok());
        levels.set_degraded("d", "1GiB").unwrap();
        assert!(levels.check_order(("d", "u"), true).is_ok());
        levels.set_unhealthy("u", "2GiB").unwrap();
        assert!(levels.check_order(("d", "u"), true).is_err());
        assert!(
            levels
                .set_unhealthy("u", "200%")
                .unwrap_err()
                .starts_with("u: ")
        );
        // A zero total is not a percentage below anything.
        assert_eq!(levels.status_of(0, 0).0, Status::Unhealthy); // 0 < 2 GiB
        let percent = Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0));
        assert_eq!(percent.status_of(0, 0).0, Status::Healthy);
    }

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(512 << 20), "512.0 MiB");
        assert_eq!(human_bytes(10 << 30), "10.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
