//! When an automatic backup is due.
//!
//! A [`Schedule`] is a set of instants, all in UTC and on whole minutes: hourly, daily,
//! weekly, or a standard 5-field cron expression ([`CronExpr`]). `sitepack auto run SITE
//! --if-due` is called every few minutes by a cron job or systemd timer and asks
//! [`Schedule::is_due`]: a backup is due when the most recent scheduled instant at or
//! before now is later than the last successful backup. That gives exactly one backup per
//! period however often the check runs, and a single catch-up backup (not one per missed
//! period) after the machine was down.
//!
//! The search for instants is the `croner` crate's. This module keeps the cron parser:
//! it accepts exactly the classic syntax (croner also takes `L`, `W`, `#`, `?`, seconds
//! and `@daily`), names the field and item in its errors, and keeps the classic rule for
//! `*/n` day fields, which croner would read as restricted (see [`CronExpr`]).
//!
//! ```
//! use sitepack_format::Timestamp;
//! use sitepack_store::schedule::Schedule;
//!
//! let schedule = Schedule::from_config("daily", Some("02:30"), None)?;
//! assert_eq!(schedule.to_string(), "daily at 02:30 UTC");
//! let last: Timestamp = "2026-11-21T02:33:00Z".parse()?;
//! assert!(!schedule.is_due(Some(last), "2026-11-22T02:29:59Z".parse()?));
//! assert!(schedule.is_due(Some(last), "2026-11-22T02:30:00Z".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Serialize, Serializer};
use sitepack_format::Timestamp;
use time::Weekday;
#[cfg(test)]
use time::{Duration, OffsetDateTime};

/// When automatic backups are made. All times are UTC.
///
/// Build one with [`Schedule::from_config`], which validates the values. A `Schedule`
/// built directly with an out-of-range field (a minute of 60, an hour of 24) has no
/// scheduled instants at all: [`Schedule::latest_at_or_before`] returns `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every hour at `minute` past the hour.
    Hourly {
        /// 0–59.
        minute: u8,
    },
    /// Every day at `hour:minute`.
    Daily {
        /// 0–23.
        hour: u8,
        /// 0–59.
        minute: u8,
    },
    /// Every week on `weekday` at `hour:minute`.
    Weekly {
        /// The day of the week.
        weekday: Weekday,
        /// 0–23.
        hour: u8,
        /// 0–59.
        minute: u8,
    },
    /// A standard 5-field cron expression, evaluated in UTC.
    Cron(CronExpr),
}

/// A standard 5-field cron expression: `minute hour day-of-month month day-of-week`.
///
/// Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of
/// these. Minutes are 0–59, hours 0–23, days of the month 1–31, months 1–12 or
/// `jan`..`dec`, days of the week 0–7 (0 and 7 are Sunday) or `sun`..`sat`; names are
/// case-insensitive. A single value with a step (`5/10`) is rejected: write `5-59/10`.
///
/// Days follow the classic (Vixie cron, cronie) rule: when both the day-of-month and the
/// day-of-week field are restricted, a day matches if *either* matches; when one of
/// them starts with `*` (as `*` or `*/2` do), a day must match both. So
/// `0 12 13 * fri` runs on every 13th and on every Friday, while `0 0 */2 * mon` runs on
/// Mondays that fall on an odd day of the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    /// The fields joined by single spaces.
    text: String,
    fields: Fields,
}

impl CronExpr {
    /// The expression, its fields separated by single spaces.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for CronExpr {
    type Err = ScheduleError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = expr.split_ascii_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = parts[..] else {
            return Err(ScheduleError::CronFieldCount {
                expr: expr.to_owned(),
                actual: parts.len(),
            });
        };
        let mut weekdays = parse_field(expr, &DAY_OF_WEEK, day_of_week)?;
        // 7 is another name for Sunday.
        if weekdays & bit(7) != 0 {
            weekdays = (weekdays & !bit(7)) | bit(0);
        }
        let fields = Fields {
            minutes: parse_field(expr, &MINUTE, minute)?,
            hours: parse_field(expr, &HOUR, hour)?,
            days_of_month: parse_field(expr, &DAY_OF_MONTH, day_of_month)?,
            months: parse_field(expr, &MONTH, month)?,
            days_of_week: weekdays,
            day_of_month_star: day_of_month.starts_with('*'),
            day_of_week_star: day_of_week.starts_with('*'),
        };
        Ok(Self {
            text: parts.join(" "),
            fields,
        })
    }
}

/// Why a schedule could not be built from the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// `schedule` is neither a named schedule nor a cron expression.
    #[error(
        "unknown schedule {schedule:?}: expected `hourly`, `daily`, `weekly` or a 5-field cron \
         expression \"minute hour day-of-month month day-of-week\""
    )]
    UnknownSchedule {
        /// The text given.
        schedule: String,
    },
    /// A cron expression without exactly five fields.
    #[error(
        "cron expression {expr:?} has {actual} field(s): expected 5, \
         \"minute hour day-of-month month day-of-week\""
    )]
    CronFieldCount {
        /// The expression.
        expr: String,
        /// How many whitespace-separated fields it has.
        actual: usize,
    },
    /// One item of a cron field is invalid.
    #[error(
        "cron expression {expr:?}: {field} {value:?} {problem}; the {field} field takes \
         {expected}, written as *, a value, a range a-b, a step */n or a-b/n, or a comma \
         list of these"
    )]
    CronField {
        /// The expression.
        expr: String,
        /// Which field: `minute`, `hour`, `day-of-month`, `month` or `day-of-week`.
        field: &'static str,
        /// The offending item of the field (one element of a comma list).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
        /// The values the field accepts.
        expected: &'static str,
    },
    /// `time` is not a valid `HH:MM`.
    #[error(
        "invalid time {time:?}: expected HH:MM in UTC, from 00:00 to 23:59 (H:MM is accepted too)"
    )]
    InvalidTime {
        /// The text given.
        time: String,
    },
    /// `weekday` is not a day of the week.
    #[error(
        "invalid weekday {weekday:?}: expected mon, tue, wed, thu, fri, sat, sun or a full name \
         such as monday"
    )]
    InvalidWeekday {
        /// The text given.
        weekday: String,
    },
    /// A cron expression that matches no instant at all (`0 0 30 2 *`: there is no
    /// February 30): it would never back up.
    #[error(
        "cron expression {expr:?} never fires: no date matches its day-of-month, month and \
         day-of-week together (e.g. February 30); automatic backups would never be made"
    )]
    NeverFires {
        /// The expression.
        expr: String,
    },
    /// An option was given that the schedule does not use.
    #[error("`{option}` cannot be used with schedule {schedule:?}: {hint}")]
    OptionNotAllowed {
        /// `time` or `weekday`.
        option: &'static str,
        /// The schedule it was given with.
        schedule: String,
        /// Which schedules take the option.
        hint: &'static str,
    },
}

impl Schedule {
    /// Builds a schedule from the configuration values.
    ///
    /// `schedule` is `hourly`, `daily`, `weekly` (case-insensitive) or a 5-field cron
    /// expression (see [`CronExpr`]) that matches some instant (`0 0 30 2 *` never does
    /// and is refused). `time` is `HH:MM` in UTC, also accepted as `H:MM`
    /// (`7:05`) but never with a one-digit minute (`7:5` is rejected: 07:05 or 07:50?);
    /// it defaults to `00:00`. For `hourly` only its minute is used (`00:15` means a
    /// quarter past every hour) and the default is minute 0. `weekday` is only for
    /// `weekly`: `mon`..`sun` or a full name, case-insensitive, default Sunday. A cron
    /// expression sets its own times, so `time` or `weekday` with one is an error, as is
    /// `weekday` with `hourly` or `daily`.
    pub fn from_config(
        schedule: &str,
        time: Option<&str>,
        weekday: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let not_allowed = |option, hint| ScheduleError::OptionNotAllowed {
            option,
            schedule: schedule.to_owned(),
            hint,
        };
        let hour_minute = time.map_or(Ok((0, 0)), parse_time);
        let keyword = schedule.to_ascii_lowercase();
        match keyword.as_str() {
            "hourly" | "daily" if weekday.is_some() => Err(not_allowed(
                "weekday",
                "only `weekly` takes a weekday (a cron expression gives its own)",
            )),
            "hourly" => Ok(Self::Hourly {
                minute: hour_minute?.1,
            }),
            "daily" => {
                let (hour, minute) = hour_minute?;
                Ok(Self::Daily { hour, minute })
            }
            "weekly" => {
                let (hour, minute) = hour_minute?;
                let weekday = weekday.map_or(Ok(Weekday::Sunday), parse_weekday)?;
                Ok(Self::Weekly {
                    weekday,
                    hour,
                    minute,
                })
            }
            _ if schedule.split_ascii_whitespace().nth(1).is_none() => {
                Err(ScheduleError::UnknownSchedule {
                    schedule: schedule.to_owned(),
                })
            }
            _ => {
                let hint = "a cron expression gives its own times and days; remove the \
                            option or use hourly, daily or weekly";
                if time.is_some() {
                    Err(not_allowed("time", hint))
                } else if weekday.is_some() {
                    Err(not_allowed("weekday", hint))
                } else {
                    let cron = Self::Cron(schedule.parse()?);
                    // Every expression that can match does within 40 years of any time
                    // (croner looks up to the year 5000).
                    let reference = Timestamp::from_unix_seconds(946_684_800) // 2000-01-01
                        .ok()
                        .and_then(|t| cron.next_after(t));
                    match reference {
                        Some(_) => Ok(cron),
                        None => Err(ScheduleError::NeverFires {
                            expr: schedule.trim().to_owned(),
                        }),
                    }
                }
            }
        }
    }

    /// The most recent scheduled instant at or before `now`; an instant exactly at `now`
    /// counts. `None` when there is none (e.g. `0 0 30 2 *`: croner searches back to
    /// the year 1).
    #[must_use]
    pub fn latest_at_or_before(&self, now: Timestamp) -> Option<Timestamp> {
        let found = self
            .fields()
            .to_croner()?
            .find_previous_occurrence(&to_chrono(now)?, true);
        from_chrono(&found.ok()?)
    }

    /// The first scheduled instant strictly after `t`, for display. `None` when there is
    /// none (croner searches up to the year 5000).
    #[must_use]
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let found = self
            .fields()
            .to_croner()?
            .find_next_occurrence(&to_chrono(t)?, false);
        from_chrono(&found.ok()?)
    }

    /// Whether a backup is due at `now`: there never was a successful one, or the most
    /// recent scheduled instant at or before `now` is strictly after `last_success`.
    ///
    /// Record `now` (or the time the backup finished) as the new last success. Checked
    /// every few minutes, this gives one backup per period; after downtime it gives a
    /// single catch-up backup, not one per missed period.
    #[must_use]
    pub fn is_due(&self, last_success: Option<Timestamp>, now: Timestamp) -> bool {
        let Some(last_success) = last_success else {
            return true;
        };
        self.latest_at_or_before(now)
            .is_some_and(|latest| latest > last_success)
    }

    /// Whether backups are overdue: at least two scheduled runs were missed.
    ///
    /// True when `last_success` is before the *second* most recent scheduled instant at
    /// or before `now` (so neither that run nor the most recent one succeeded). With one
    /// missed run (the latest instant is after `last_success` but the one before is not)
    /// it is false: that is merely due. Without any success it is true as soon as two
    /// scheduled instants have passed, false before.
    #[must_use]
    pub fn overdue(&self, last_success: Option<Timestamp>, now: Timestamp) -> bool {
        let Some(second_latest) = self
            .latest_at_or_before(now)
            .and_then(|latest| Timestamp::from_unix_seconds(latest.unix_seconds() - 1).ok())
            .and_then(|before| self.latest_at_or_before(before))
        else {
            return false;
        };
        last_success.is_none_or(|last_success| last_success < second_latest)
    }

    fn fields(&self) -> Fields {
        let all = Fields {
            minutes: ALL_MINUTES,
            hours: ALL_HOURS,
            days_of_month: ALL_DAYS_OF_MONTH,
            months: ALL_MONTHS,
            days_of_week: ALL_DAYS_OF_WEEK,
            day_of_month_star: true,
            day_of_week_star: true,
        };
        // Masking makes an out-of-range field an empty set rather than a bogus bit.
        match *self {
            Self::Hourly { minute } => Fields {
                minutes: bit(minute) & ALL_MINUTES,
                ..all
            },
            Self::Daily { hour, minute } => Fields {
                minutes: bit(minute) & ALL_MINUTES,
                hours: bit(hour) & ALL_HOURS,
                ..all
            },
            Self::Weekly {
                weekday,
                hour,
                minute,
            } => Fields {
                minutes: bit(minute) & ALL_MINUTES,
                hours: bit(hour) & ALL_HOURS,
                days_of_week: bit(weekday.number_days_from_sunday()),
                day_of_week_star: false,
                ..all
            },
            Self::Cron(ref cron) => cron.fields,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hourly { minute } => write!(f, "hourly at :{minute:02} UTC"),
            Self::Daily { hour, minute } => write!(f, "daily at {hour:02}:{minute:02} UTC"),
            Self::Weekly {
                weekday,
                hour,
                minute,
            } => write!(f, "weekly on {weekday} at {hour:02}:{minute:02} UTC"),
            Self::Cron(cron) => write!(f, "cron \"{cron}\" (UTC)"),
        }
    }
}

/// Serialized as its [`Display`](fmt::Display) text, e.g. `"daily at 02:30 UTC"`.
impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn to_chrono(t: Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.unix_seconds(), 0)
}

fn from_chrono(t: &DateTime<Utc>) -> Option<Timestamp> {
    Timestamp::from_unix_seconds(t.timestamp()).ok()
}

/// `HH:MM` or `H:MM`, 00:00 to 23:59.
fn parse_time(text: &str) -> Result<(u8, u8), ScheduleError> {
    let bad = || ScheduleError::InvalidTime {
        time: text.to_owned(),
    };
    let (hour, minute) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&hour.len()) || minute.len() != 2 || !digits(hour) || !digits(minute) {
        return Err(bad());
    }
    let hour: u8 = hour.parse().map_err(|_| bad())?;
    let minute: u8 = minute.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok((hour, minute))
}

fn parse_weekday(text: &str) -> Result<Weekday, ScheduleError> {
    const NAMES: [(Weekday, &str, &str); 7] = [
        (Weekday::Monday, "mon", "monday"),
        (Weekday::Tuesday, "tue", "tuesday"),
        (Weekday::Wednesday, "wed", "wednesday"),
        (Weekday::Thursday, "thu", "thursday"),
        (Weekday::Friday, "fri", "friday"),
        (Weekday::Saturday, "sat", "saturday"),
        (Weekday::Sunday, "sun", "sunday"),
    ];
    NAMES
        .iter()
        .find(|(_, short, long)| {
            text.eq_ignore_ascii_case(short) || text.eq_ignore_ascii_case(long)
        })
        .map(|&(weekday, _, _)| weekday)
        .ok_or_else(|| ScheduleError::InvalidWeekday {
            weekday: text.to_owned(),
        })
}

/// The value range and names of one cron field.
struct FieldSpec {
    name: &'static str,
    min: u8,
    max: u8,
    /// Names for `min`, `min + 1`, ...
    names: &'static [&'static str],
    expected: &'static str,
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    expected: "0-59",
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    expected: "0-23",
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    expected: "1-31",
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    expected: "1-12 or jan-dec",
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    expected: "0-7 (0 and 7 are Sunday) or sun-sat",
};

/// One cron field as a bit set (bit `n` set when value `n` matches).
fn parse_field(expr: &str, spec: &FieldSpec, text: &str) -> Result<u64, ScheduleError> {
    let mut set = 0;
    for item in text.split(',') {
        let bad = |problem| ScheduleError::CronField {
            expr: expr.to_owned(),
            field: spec.name,
            value: item.to_owned(),
            problem,
            expected: spec.expected,
        };
        let value = |s: &str| -> Result<u8, ScheduleError> {
            let number = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                // Too many digits for a u8 is out of range too.
                s.parse::<u8>().unwrap_or(u8::MAX)
            } else {
                let index = spec
                    .names
                    .iter()
                    .position(|name| s.eq_ignore_ascii_case(name))
                    .ok_or_else(|| bad("is not a number or name"))?;
                spec.min + u8::try_from(index).map_err(|_| bad("is not a number or name"))?
            };
            if (spec.min..=spec.max).contains(&number) {
                Ok(number)
            } else {
                Err(bad("is out of range"))
            }
        };
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = Some(step)
                    .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u8>().ok())
                    .filter(|&step| step > 0)
                    .ok_or_else(|| bad("has a step that is not a whole number of 1 or more"))?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let (low, high) = (value(low)?, value(high)?);
            if low > high {
                return Err(bad("is a range whose start is after its end"));
            }
            (low, high)
        } else if step.is_some() {
            return Err(bad("has a step on a single value (write */n or a-b/n)"));
        } else {
            let value = value(range)?;
            (value, value)
        };
        let step = step.unwrap_or(1);
        let mut n = low;
        while n <= high {
            set |= bit(n);
            match n.checked_add(step) {
                Some(next) => n = next,
                None => break,
            }
        }
    }
    Ok(set)
}

const fn bit(n: u8) -> u64 {
    if n < 64 { 1 << n } else { 0 }
}

/// Bits `low..=high` (both below 64).
const fn bits(low: u8, high: u8) -> u64 {
    (u64::MAX >> (63 - high)) & (u64::MAX << low)
}

const ALL_MINUTES: u64 = bits(0, 59);
const ALL_HOURS: u64 = bits(0, 23);
const ALL_DAYS_OF_MONTH: u64 = bits(1, 31);
const ALL_MONTHS: u64 = bits(1, 12);
const ALL_DAYS_OF_WEEK: u64 = bits(0, 6);

fn contains(set: u64, n: u8) -> bool {
    set & bit(n) != 0
}

/// Which minutes, hours, days and months match, as bit sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fields {
    /// Bits 0–59.
    minutes: u64,
    /// Bits 0–23.
    hours: u64,
    /// Bits 1–31.
    days_of_month: u64,
    /// Bits 1–12.
    months: u64,
    /// Bits 0–6, Sunday = 0.
    days_of_week: u64,
    /// The day-of-month field started with `*`.
    day_of_month_star: bool,
    /// The day-of-week field started with `*`.
    day_of_week_star: bool,
}

impl Fields {
    /// The same instants as a `croner` schedule, or `None` when a field is empty (a
    /// [`Schedule`] built directly with an out-of-range value).
    ///
    /// Each field is handed over as the plain list of its values, so croner never reads
    /// our syntax (nor its own extensions such as `L` or `#`). The day rule is chosen
    /// here: croner treats only a bare `*` as unrestricted, while the classic rule counts
    /// any field starting with `*` (`*/2`), so such a field selects croner's AND mode.
    fn to_croner(self) -> Option<Cron> {
        let list = |set: u64| -> Option<String> {
            let values: Vec<String> = (0..64)
                .filter(|&n| contains(set, n))
                .map(|n| n.to_string())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let pattern = [
            self.minutes,
            self.hours,
            self.days_of_month,
            self.months,
            self.days_of_week,
        ]
        .map(list)
        .into_iter()
        .collect::<Option<Vec<String>>>()?
        .join(" ");
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(self.day_of_month_star || self.day_of_week_star)
            .build()
            .parse(&pattern)
            .ok()
    }

    /// The plain definition of a match, which the tests hold croner's search to.
    #[cfg(test)]
    fn matches(&self, t: OffsetDateTime) -> bool {
        let day_of_month = contains(self.days_of_month, t.day());
        let day_of_week = contains(self.days_of_week, t.weekday().number_days_from_sunday());
        let day = if self.day_of_month_star || self.day_of_week_star {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        };
        contains(self.months, u8::from(t.month()))
            && day
            && contains(self.hours, t.hour())
            && contains(self.minutes, t.minute())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn schedule(schedule: &str, time: Option<&str>, weekday: Option<&str>) -> Schedule {
        Schedule::from_config(schedule, time, weekday).unwrap()
    }

    /// A cron schedule built directly, so that the evaluator can be tested on
    /// expressions that [`Schedule::from_config`] refuses (those that never fire).
    fn cron(expr: &str) -> Schedule {
        Schedule::Cron(expr.parse().unwrap())
    }

    #[test]
    fn a_cron_expression_that_never_fires_is_refused() {
        for expr in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "15 3 31 2,4 *"] {
            let error = Schedule::from_config(expr, None, None).unwrap_err();
            assert_eq!(
                error,
                ScheduleError::NeverFires {
                    expr: expr.to_owned()
                }
            );
            assert!(error.to_string().contains("never fires"), "{error}");
        }
        // Rare is not never: February 29, and February 29 on a Monday (every 28 years or so).
        for expr in ["0 0 29 2 *", "0 0 29 2 mon", "0 0 30 2 mon"] {
            assert!(Schedule::from_config(expr, None, None).is_ok(), "{expr}");
        }
    }

    fn fields(expr: &str) -> Fields {
        expr.parse::<CronExpr>().unwrap().fields
    }

    /// The members of a bit set, for readable assertions.
    fn members(set: u64) -> Vec<u8> {
        (0..64).filter(|&n| contains(set, n)).collect()
    }

    #[test]
    fn named_schedules_parse_with_their_defaults() {
        use Weekday::{Monday, Sunday, Thursday};
        let cases: &[(&str, Option<&str>, Option<&str>, Schedule)] = &[
            ("hourly", None, None, Schedule::Hourly { minute: 0 }),
            (
                "hourly",
                Some("05:45"),
                None,
                Schedule::Hourly { minute: 45 },
            ),
            (
                "HOURLY",
                Some("00:07"),
                None,
                Schedule::Hourly { minute: 7 },
            ),
            ("daily", None, None, Schedule::Daily { hour: 0, minute: 0 }),
            (
                "daily",
                Some("02:30"),
                None,
                Schedule::Daily {
                    hour: 2,
                    minute: 30,
                },
            ),
            (
                "daily",
                Some("7:05"),
                None,
                Schedule::Daily { hour: 7, minute: 5 },
            ),
            (
                "Daily",
                Some("23:59"),
                None,
                Schedule::Daily {
                    hour: 23,
                    minute: 59,
                },
            ),
            (
                "weekly",
                None,
                None,
                Schedule::Weekly {
                    weekday: Sunday,
                    hour: 0,
                    minute: 0,
                },
            ),
            (
                "weekly",
                Some("02:30"),
                Some("Mon"),
                Schedule::Weekly {
                    weekday: Monday,
                    hour: 2,
                    minute: 30,
                },
            ),
            (
                "weekly",
                None,
                Some("THURSDAY"),
                Schedule::Weekly {
                    weekday: Thursday,
                    hour: 0,
                    minute: 0,
                },
            ),
            (
                "weekly",
                Some("18:00"),
                Some("sunday"),
                Schedule::Weekly {
                    weekday: Sunday,
                    hour: 18,
                    minute: 0,
                },
            ),
        ];
        for (name, time, weekday, expected) in cases {
            let parsed = Schedule::from_config(name, *time, *weekday);
            assert_eq!(parsed.as_ref(), Ok(expected), "{name} {time:?} {weekday:?}");
        }
    }

    #[test]
    fn cron_fields_parse_to_the_right_sets() {
        let f = fields("*/20 10-20/5 1,15,31 jan-MAR,dec mon-fri");
        assert_eq!(members(f.minutes), [0, 20, 40]);
        assert_eq!(members(f.hours), [10, 15, 20]);
        assert_eq!(members(f.days_of_month), [1, 15, 31]);
        assert_eq!(members(f.months), [1, 2, 3, 12]);
        assert_eq!(members(f.days_of_week), [1, 2, 3, 4, 5]);
        assert!(!f.day_of_month_star && !f.day_of_week_star);

        let f = fields("0   0  *  *   5-7");
        assert_eq!(members(f.minutes), [0]);
        assert_eq!(members(f.hours), [0]);
        assert_eq!(members(f.days_of_month), (1..=31).collect::<Vec<_>>());
        assert_eq!(members(f.months), (1..=12).collect::<Vec<_>>());
        assert_eq!(members(f.days_of_week), [0, 5, 6], "7 is Sunday");
        assert!(f.day_of_month_star && !f.day_of_week_star);

        assert_eq!(members(fields("* * * * 7").days_of_week), [0]);
        assert_eq!(
            members(fields("* * * * 0-7").days_of_week),
            [0, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(members(fields("* * * * SUN,sat").days_of_week), [0, 6]);
        assert_eq!(members(fields("* * * * */3").days_of_week), [0, 3, 6]);
        assert_eq!(members(fields("5-59/15 * * * *").minutes), [5, 20, 35, 50]);
        assert_eq!(members(fields("59 * * * *").minutes), [59]);
        assert_eq!(
            members(fields("* 23 */10 * *").days_of_month),
            [1, 11, 21, 31]
        );
        assert_eq!(
            members(fields("*/100 * * * *").minutes),
            [0],
            "a step past the range"
        );
        assert_eq!(members(fields("05 * * * *").minutes), [5], "leading zero");
        assert!(fields("0 0 */2 * mon").day_of_month_star, "*/2 counts as *");
        assert!(
            !fields("0 0 1-31 * mon").day_of_month_star,
            "1-31 is restricted"
        );
        assert_eq!(
            "*/15\t*  * * *".parse::<CronExpr>().unwrap().as_str(),
            "*/15 * * * *",
            "whitespace is normalized"
        );
    }

    #[test]
    fn bad_configuration_is_rejected_with_a_useful_message() {
        type Check = fn(&ScheduleError) -> bool;
        type Case = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Check,
            &'static str,
        );
        let time: Check = |e| matches!(e, ScheduleError::InvalidTime { .. });
        let weekday: Check = |e| matches!(e, ScheduleError::InvalidWeekday { .. });
        let unknown: Check = |e| matches!(e, ScheduleError::UnknownSchedule { .. });
        let count: Check = |e| matches!(e, ScheduleError::CronFieldCount { .. });
        let field: Check = |e| matches!(e, ScheduleError::CronField { .. });
        let option: Check = |e| matches!(e, ScheduleError::OptionNotAllowed { .. });
        let cases: &[Case] = &[
            ("daily", Some("25:00"), None, time, "\"25:00\""),
            ("daily", Some("24:00"), None, time, "HH:MM"),
            ("daily", Some("12:60"), None, time, "12:60"),
            ("daily", Some("7:5"), None, time, "7:5"),
            ("daily", Some("007:05"), None, time, "007:05"),
            ("daily", Some("1200"), None, time, "1200"),
            ("daily", Some("12:00:00"), None, time, "12:00:00"),
            ("daily", Some(" 12:00"), None, time, " 12:00"),
            ("daily", Some("+1:00"), None, time, "+1:00"),
            ("daily", Some(""), None, time, "HH:MM"),
            ("hourly", Some("99:15"), None, time, "99:15"),
            ("weekly", Some("02:61"), Some("mon"), time, "02:61"),
            ("weekly", None, Some("mo"), weekday, "\"mo\""),
            ("weekly", None, Some("funday"), weekday, "sun"),
            ("weekly", None, Some("1"), weekday, "monday"),
            ("weekly", None, Some(""), weekday, "mon"),
            ("daily", None, Some("mon"), option, "weekday"),
            ("hourly", Some("00:15"), Some("mon"), option, "weekly"),
            ("monthly", None, None, unknown, "\"monthly\""),
            ("@daily", None, None, unknown, "5-field cron"),
            ("", None, None, unknown, "hourly"),
            ("* * * *", None, None, count, "4 field"),
            ("0 0 * * * *", None, None, count, "6 field"),
            (
                "60 * * * *",
                None,
                None,
                field,
                "minute \"60\" is out of range",
            ),
            ("* 24 * * *", None, None, field, "0-23"),
            ("* * 0 * *", None, None, field, "1-31"),
            ("* * 32 * *", None, None, field, "day-of-month \"32\""),
            ("* * * 0 *", None, None, field, "jan-dec"),
            ("* * * 13 *", None, None, field, "month \"13\""),
            ("* * * * 8", None, None, field, "0-7"),
            ("* * * * 300", None, None, field, "out of range"),
            (
                "5-2 * * * *",
                None,
                None,
                field,
                "\"5-2\" is a range whose start",
            ),
            ("*/0 * * * *", None, None, field, "step"),
            ("*/x * * * *", None, None, field, "step"),
            ("*/ * * * *", None, None, field, "step"),
            ("5/10 * * * *", None, None, field, "a-b/n"),
            ("1,,2 * * * *", None, None, field, "minute \"\""),
            ("a * * * *", None, None, field, "not a number"),
            ("-1 * * * *", None, None, field, "minute \"-1\""),
            ("* * * * mon-", None, None, field, "mon-"),
            ("* * * mon *", None, None, field, "month \"mon\""),
            ("* * * * jan", None, None, field, "day-of-week \"jan\""),
            ("* * * * monday", None, None, field, "sun-sat"),
            ("0 0 * * *", Some("02:00"), None, option, "`time`"),
            ("0 0 * * *", None, Some("mon"), option, "`weekday`"),
        ];
        for (name, time, day, check, message) in cases {
            let error = Schedule::from_config(name, *time, *day).unwrap_err();
            assert!(check(&error), "{name:?} {time:?} {day:?}: {error:?}");
            let text = error.to_string();
            assert!(
                text.contains(message),
                "{text:?} should contain {message:?}"
            );
        }
    }

    #[test]
    fn display_and_serialize() {
        let cases = [
            (schedule("hourly", Some("00:05"), None), "hourly at :05 UTC"),
            (schedule("daily", Some("2:30"), None), "daily at 02:30 UTC"),
            (
                schedule("weekly", Some("18:00"), Some("fri")),
                "weekly on Friday at 18:00 UTC",
            ),
            (cron("*/15  * * * *"), "cron \"*/15 * * * *\" (UTC)"),
        ];
        for (schedule, text) in cases {
            assert_eq!(schedule.to_string(), text);
            assert_eq!(
                serde_json::to_value(&schedule).unwrap(),
                serde_json::Value::String(text.to_owned())
            );
        }
    }

    /// Asserts `latest_at_or_before(now) == expected` for each `(now, expected)`.
    fn assert_latest(schedule: &Schedule, cases: &[(&str, &str)]) {
        for (now, expected) in cases {
            let latest = schedule.latest_at_or_before(ts(now));
            assert_eq!(latest, Some(ts(expected)), "{schedule} at {now}");
        }
    }

    #[test]
    fn hourly_latest_at_or_before() {
        // Exactly on the schedule counts; the seconds of `now` are ignored.
        assert_latest(
            &schedule("hourly", None, None),
            &[
                ("2026-11-22T08:00:00Z", "2026-11-22T08:00:00Z"),
                ("2026-11-22T08:59:59Z", "2026-11-22T08:00:00Z"),
                ("2026-11-22T07:59:59Z", "2026-11-22T07:00:00Z"),
                ("2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z"),
            ],
        );
        assert_latest(
            &schedule("hourly", Some("00:45"), None),
            &[
                ("2026-11-22T08:44:59Z", "2026-11-22T07:45:00Z"),
                ("2026-11-22T08:45:00Z", "2026-11-22T08:45:00Z"),
                ("2027-01-01T00:10:00Z", "2026-12-31T23:45:00Z"),
            ],
        );
    }

    #[test]
    fn daily_latest_at_or_before() {
        assert_latest(
            &schedule("daily", Some("02:30"), None),
            &[
                ("2026-11-22T02:30:00Z", "2026-11-22T02:30:00Z"),
                ("2026-11-22T02:29:59Z", "2026-11-21T02:30:00Z"),
                ("2026-11-22T23:59:59Z", "2026-11-22T02:30:00Z"),
                ("2026-03-01T01:00:00Z", "2026-02-28T02:30:00Z"),
                ("2024-03-01T01:00:00Z", "2024-02-29T02:30:00Z"),
                ("2027-01-01T00:00:00Z", "2026-12-31T02:30:00Z"),
            ],
        );
        assert_latest(
            &schedule("daily", None, None),
            &[
                ("2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z"),
                ("2026-11-21T23:59:59Z", "2026-11-21T00:00:00Z"),
                ("2027-01-01T00:00:59Z", "2027-01-01T00:00:00Z"),
            ],
        );
        assert_latest(
            &schedule("daily", Some("23:59"), None),
            &[
                ("2027-01-01T00:00:00Z", "2026-12-31T23:59:00Z"),
                ("2026-12-31T23:59:00Z", "2026-12-31T23:59:00Z"),
                ("2026-12-31T23:58:59Z", "2026-12-30T23:59:00Z"),
            ],
        );
    }

    #[test]
    fn weekly_latest_at_or_before() {
        // 2026-11-22 is a Sunday.
        assert_latest(
            &schedule("weekly", None, None),
            &[
                ("2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z"),
                ("2026-11-21T23:59:59Z", "2026-11-15T00:00:00Z"),
            ],
        );
        assert_latest(
            &schedule("weekly", Some("09:00"), Some("mon")),
            &[
                ("2026-11-22T12:00:00Z", "2026-11-16T09:00:00Z"),
                ("2026-11-16T08:59:00Z", "2026-11-09T09:00:00Z"),
            ],
        );
        assert_latest(
            &schedule("weekly", Some("18:00"), Some("fri")),
            &[
                ("2027-01-03T00:00:00Z", "2027-01-01T18:00:00Z"),
                ("2027-01-01T17:59:59Z", "2026-12-25T18:00:00Z"),
            ],
        );
    }

    #[test]
    fn cron_latest_at_or_before() {
        assert_latest(
            &cron("*/15 * * * *"),
            &[
                ("2026-11-22T08:44:59Z", "2026-11-22T08:30:00Z"),
                ("2026-11-22T08:45:00Z", "2026-11-22T08:45:00Z"),
                ("2027-01-01T00:14:00Z", "2027-01-01T00:00:00Z"),
                ("2026-12-31T23:59:59Z", "2026-12-31T23:45:00Z"),
            ],
        );
        // Leap day: only every four years.
        assert_latest(
            &cron("0 0 29 2 *"),
            &[
                ("2026-11-22T00:00:00Z", "2024-02-29T00:00:00Z"),
                ("2028-02-29T00:00:00Z", "2028-02-29T00:00:00Z"),
                ("2028-02-28T23:59:59Z", "2024-02-29T00:00:00Z"),
            ],
        );
        assert_latest(
            &cron("0 0 29 feb *"),
            &[("2024-03-01T00:00:00Z", "2024-02-29T00:00:00Z")],
        );
        // Never: there is no February 30 and no April 31.
        let now = ts("2026-11-22T00:00:00Z");
        assert_eq!(cron("0 0 30 2 *").latest_at_or_before(now), None);
        assert_eq!(cron("0 0 31 4,6,9,11 *").latest_at_or_before(now), None);
        assert_latest(
            &cron("59 23 31 * *"),
            &[("2026-03-30T12:00:00Z", "2026-01-31T23:59:00Z")],
        );
        assert_latest(
            &cron("59 23 31 12 *"),
            &[("2027-12-31T23:58:00Z", "2026-12-31T23:59:00Z")],
        );
        assert_latest(
            &cron("0 0 1 jan,jul *"),
            &[
                ("2026-11-22T00:00:00Z", "2026-07-01T00:00:00Z"),
                ("2026-07-01T00:00:00Z", "2026-07-01T00:00:00Z"),
            ],
        );
        assert_latest(
            &cron("30 */6 * * *"),
            &[("2027-01-01T00:29:00Z", "2026-12-31T18:30:00Z")],
        );
    }

    #[test]
    fn cron_days_of_month_and_week() {
        // Both restricted: every 13th OR every Friday. Nov 13 2026 is a Friday, Nov 20
        // too; Dec 13 is a Sunday and Dec 11 a Friday.
        assert_latest(
            &cron("0 12 13 * fri"),
            &[
                ("2026-11-22T00:00:00Z", "2026-11-20T12:00:00Z"),
                ("2026-11-20T11:59:00Z", "2026-11-13T12:00:00Z"),
                ("2026-12-14T00:00:00Z", "2026-12-13T12:00:00Z"),
                ("2026-12-12T00:00:00Z", "2026-12-11T12:00:00Z"),
            ],
        );
        // A `*`-prefixed field means AND: Mondays on odd days (Nov 9, not Nov 21).
        assert_latest(
            &cron("0 0 */2 * mon"),
            &[("2026-11-22T00:00:00Z", "2026-11-09T00:00:00Z")],
        );
        // 7 and 0 are both Sunday.
        assert_latest(
            &cron("0 0 * * 7"),
            &[("2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z")],
        );
        assert_latest(
            &cron("0 0 * * 0"),
            &[("2026-11-21T23:59:00Z", "2026-11-15T00:00:00Z")],
        );
        // Steps and ranges; Nov 22 2026 is a Sunday, Nov 23 a Monday.
        assert_latest(
            &cron("10-20/5 8-17 * * mon-fri"),
            &[
                ("2026-11-22T12:00:00Z", "2026-11-20T17:20:00Z"),
                ("2026-11-23T08:12:00Z", "2026-11-23T08:10:00Z"),
                ("2026-11-23T08:09:00Z", "2026-11-20T17:20:00Z"),
                ("2026-11-23T13:04:00Z", "2026-11-23T12:20:00Z"),
            ],
        );
    }

    #[test]
    fn next_after_table() {
        let cases: &[(Schedule, &str, Option<&str>)] = &[
            (
                schedule("daily", Some("02:30"), None),
                "2026-11-22T02:30:00Z",
                Some("2026-11-23T02:30:00Z"),
            ),
            (
                schedule("daily", Some("02:30"), None),
                "2026-11-22T02:29:59Z",
                Some("2026-11-22T02:30:00Z"),
            ),
            (
                schedule("hourly", Some("00:59"), None),
                "2026-12-31T23:59:00Z",
                Some("2027-01-01T00:59:00Z"),
            ),
            (
                schedule("weekly", None, None),
                "2026-12-31T00:00:00Z",
                Some("2027-01-03T00:00:00Z"),
            ),
            (
                cron("0 0 29 2 *"),
                "2024-02-29T00:00:00Z",
                Some("2028-02-29T00:00:00Z"),
            ),
            (
                cron("0 12 13 * fri"),
                "2026-11-20T12:00:00Z",
                Some("2026-11-27T12:00:00Z"),
            ),
            (
                cron("0 12 13 * fri"),
                "2026-12-11T12:00:00Z",
                Some("2026-12-13T12:00:00Z"),
            ),
            (
                cron("*/15 * * * *"),
                "2026-11-22T08:44:59Z",
                Some("2026-11-22T08:45:00Z"),
            ),
            (
                cron("0 0 1 jan,jul *"),
                "2026-07-01T00:00:00Z",
                Some("2027-01-01T00:00:00Z"),
            ),
            (cron("0 0 30 2 *"), "2026-11-22T00:00:00Z", None),
        ];
        for (schedule, t, expected) in cases {
            assert_eq!(
                schedule.next_after(ts(t)),
                expected.map(ts),
                "{schedule} after {t}"
            );
        }
    }

    #[test]
    fn out_of_range_fields_built_directly_never_match() {
        let now = ts("2026-11-22T08:00:00Z");
        for schedule in [
            Schedule::Hourly { minute: 60 },
            Schedule::Hourly { minute: 255 },
            Schedule::Daily {
                hour: 24,
                minute: 0,
            },
        ] {
            assert_eq!(schedule.latest_at_or_before(now), None, "{schedule:?}");
            assert_eq!(schedule.next_after(now), None, "{schedule:?}");
        }
    }

    /// Calls `is_due` every `step` seconds from `from` (inclusive) to `to` (exclusive),
    /// as a timer would, recording a success whenever a backup is due.
    fn simulate(
        schedule: &Schedule,
        last_success: &mut Option<Timestamp>,
        from: &str,
        to: &str,
        step: i64,
    ) -> Vec<Timestamp> {
        let mut successes = Vec::new();
        let mut now = ts(from).unix_seconds();
        while now < ts(to).unix_seconds() {
            let t = Timestamp::from_unix_seconds(now).unwrap();
            if schedule.is_due(*last_success, t) {
                *last_success = Some(t);
                successes.push(t);
            }
            now += step;
        }
        successes
    }

    /// Asserts one success per period, where `period` names the period a time is in:
    /// consecutive successes are in distinct periods, and there are `periods` of them.
    fn assert_one_per_period<K: PartialEq + fmt::Debug>(
        successes: &[Timestamp],
        periods: usize,
        period: impl Fn(OffsetDateTime) -> K,
    ) {
        let keys: Vec<K> = successes
            .iter()
            .map(|t| period(t.as_offset_date_time()))
            .collect();
        for pair in keys.windows(2) {
            assert_ne!(
                pair[0], pair[1],
                "two successes in one period: {successes:?}"
            );
        }
        assert_eq!(keys.len(), periods, "{keys:?}");
    }

    const SEVEN_MINUTES: i64 = 7 * 60;

    #[test]
    fn daily_runs_once_a_day_then_catches_up_once_after_downtime() {
        let daily = schedule("daily", Some("02:30"), None);
        let mut last = None;
        // Never succeeded: due at once.
        let successes = simulate(
            &daily,
            &mut last,
            "2026-11-20T00:00:13Z",
            "2026-11-20T00:00:14Z",
            1,
        );
        assert_eq!(successes, [ts("2026-11-20T00:00:13Z")]);

        // Nov 20 to Nov 25, every 7 minutes, with odd seconds.
        let successes = simulate(
            &daily,
            &mut last,
            "2026-11-20T00:07:13Z",
            "2026-11-26T00:00:00Z",
            SEVEN_MINUTES,
        );
        assert_one_per_period(&successes, 6, OffsetDateTime::date);
        for t in &successes {
            let t = t.as_offset_date_time();
            let minutes = u16::from(t.hour()) * 60 + u16::from(t.minute());
            assert!((150..157).contains(&minutes), "late run at {t}");
        }

        // Down from Nov 26 00:00 until Nov 29 10:00: the first call catches up once.
        let successes = simulate(
            &daily,
            &mut last,
            "2026-11-29T10:00:00Z",
            "2026-12-01T00:00:00Z",
            SEVEN_MINUTES,
        );
        assert_eq!(
            successes,
            [ts("2026-11-29T10:00:00Z"), ts("2026-11-30T02:34:00Z")],
            "one catch-up, then the next period"
        );
    }

    #[test]
    fn daily_checked_every_minute_runs_exactly_on_time() {
        let daily = schedule("daily", Some("23:59"), None);
        let mut last = Some(ts("2026-12-28T23:59:30Z"));
        let successes = simulate(
            &daily,
            &mut last,
            "2026-12-29T00:00:00Z",
            "2027-01-02T00:00:00Z",
            60,
        );
        assert_eq!(
            successes,
            ["2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01"]
                .map(|day| ts(&format!("{day}T23:59:00Z")))
        );
    }

    #[test]
    fn hourly_runs_once_an_hour() {
        let hourly = schedule("hourly", Some("00:15"), None);
        // Every minute: each run is exactly at :15, then not again that hour.
        let mut last = Some(ts("2026-12-30T23:15:00Z"));
        let successes = simulate(
            &hourly,
            &mut last,
            "2026-12-31T00:00:00Z",
            "2027-01-02T00:00:00Z",
            60,
        );
        assert_one_per_period(&successes, 48, |t| (t.date(), t.hour()));
        assert!(successes.iter().all(|t| t.unix_seconds() % 3600 == 15 * 60));

        // Every 7 minutes, starting at an odd second, across a day boundary.
        let mut last = Some(ts("2026-12-30T23:15:00Z"));
        let successes = simulate(
            &hourly,
            &mut last,
            "2026-12-31T00:00:41Z",
            "2027-01-03T00:00:00Z",
            SEVEN_MINUTES,
        );
        assert_one_per_period(&successes, 72, |t| (t.date(), t.hour()));

        // Down for 3 days: one catch-up, then the next :15.
        let successes = simulate(
            &hourly,
            &mut last,
            "2027-01-06T00:20:00Z",
            "2027-01-06T01:30:00Z",
            SEVEN_MINUTES,
        );
        assert_eq!(
            successes,
            [ts("2027-01-06T00:20:00Z"), ts("2027-01-06T01:16:00Z")]
        );
    }

    #[test]
    fn weekly_runs_once_an_iso_week() {
        let weekly = schedule("weekly", Some("09:00"), Some("mon"));
        let mut last = Some(ts("2026-11-30T09:05:00Z"));
        // Dec 1 2026 (a Tuesday) to Feb 1 2027 (a Monday, excluded): eight Mondays, across
        // a year end (ISO week 2026-W53).
        let successes = simulate(
            &weekly,
            &mut last,
            "2026-12-01T00:00:00Z",
            "2027-02-01T00:00:00Z",
            SEVEN_MINUTES,
        );
        assert_one_per_period(&successes, 8, |t| (t.to_iso_week_date().0, t.iso_week()));
        assert!(
            successes
                .iter()
                .all(|t| t.as_offset_date_time().weekday() == Weekday::Monday)
        );

        // Down for 3 days over a Monday: one catch-up on Thursday, then next Monday.
        let successes = simulate(
            &weekly,
            &mut last,
            "2027-02-11T06:00:00Z",
            "2027-02-16T00:00:00Z",
            SEVEN_MINUTES,
        );
        assert_eq!(
            successes,
            [ts("2027-02-11T06:00:00Z"), ts("2027-02-15T09:03:00Z")]
        );
    }

    #[test]
    fn cron_runs_once_per_matching_instant() {
        let quarterly = cron("*/15 * * * *");
        for step in [60, SEVEN_MINUTES] {
            let mut last = Some(ts("2026-12-31T21:59:00Z"));
            let successes = simulate(
                &quarterly,
                &mut last,
                "2026-12-31T22:00:00Z",
                "2027-01-01T03:00:00Z",
                step,
            );
            assert_one_per_period(&successes, 5 * 4, |t| (t.date(), t.hour(), t.minute() / 15));
        }

        // Every 13th and every Friday at noon, over December 2026: Fridays 4, 11, 18, 25
        // and Sunday the 13th.
        let mut last = Some(ts("2026-11-30T23:00:00Z"));
        let successes = simulate(
            &cron("0 12 13 * fri"),
            &mut last,
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            SEVEN_MINUTES,
        );
        let days: Vec<u8> = successes
            .iter()
            .map(|t| t.as_offset_date_time().day())
            .collect();
        assert_eq!(days, [4, 11, 13, 18, 25]);
    }

    #[test]
    fn overdue_after_two_missed_runs_not_one() {
        let daily = schedule("daily", Some("02:30"), None);
        let last = Some(ts("2026-11-20T02:31:00Z"));
        let cases = [
            ("2026-11-20T23:00:00Z", false, false),
            ("2026-11-21T02:30:00Z", true, false), // one run missed
            ("2026-11-22T02:29:59Z", true, false),
            ("2026-11-22T02:30:00Z", true, true), // two runs missed
            ("2026-12-22T00:00:00Z", true, true),
        ];
        for (now, due, overdue) in cases {
            assert_eq!(daily.is_due(last, ts(now)), due, "is_due at {now}");
            assert_eq!(daily.overdue(last, ts(now)), overdue, "overdue at {now}");
        }
        // A success exactly at the second-latest instant is not overdue.
        let on_time = Some(ts("2026-11-21T02:30:00Z"));
        assert!(!daily.overdue(on_time, ts("2026-11-22T02:30:00Z")));
        assert!(daily.overdue(on_time, ts("2026-11-23T02:30:00Z")));

        // Never succeeded: overdue once two instants have passed.
        assert!(daily.overdue(None, ts("2026-11-22T02:30:00Z")));
        assert!(!cron("0 0 30 2 *").overdue(None, ts("2026-11-22T02:30:00Z")));
        assert!(cron("0 0 29 2 *").overdue(None, ts("2026-11-22T02:30:00Z")));
        // A last success in the future (clock went back) is neither due nor overdue.
        let future = Some(ts("2027-01-01T00:00:00Z"));
        assert!(!daily.is_due(future, ts("2026-11-22T02:30:00Z")));
        assert!(!daily.overdue(future, ts("2026-11-22T02:30:00Z")));
    }

    #[test]
    fn never_succeeded_is_always_due() {
        let now = ts("2026-11-22T08:00:00Z");
        assert!(schedule("daily", None, None).is_due(None, now));
        assert!(cron("0 0 30 2 *").is_due(None, now));
        assert!(!cron("0 0 30 2 *").is_due(Some(ts("2020-01-01T00:00:00Z")), now));
    }

    const EXPRESSIONS: &[&str] = &[
        "*/15 * * * *",
        "0 12 13 * fri",
        "30 2 * * 1-5",
        "5 4 1,15 * *",
        "0 0 * * sun",
        "0 */6 * * *",
        "59 23 31 * *",
        "0 0 29 2 *",
        "10-20/5 8-17 * jan-mar,oct mon-fri",
        "0 0 */2 * mon",
        "7 3 1-7 * 0",
        "45 23 * * 6,7",
    ];

    /// The plain definition: the matching minutes, walked one by one (40 days at most).
    fn brute_force(
        fields: &Fields,
        start: OffsetDateTime,
        step: Duration,
    ) -> Option<OffsetDateTime> {
        let mut t = start.replace_second(0).unwrap();
        for _ in 0..40 * 24 * 60 {
            if fields.matches(t) {
                return Some(t);
            }
            t += step;
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// croner's search agrees with a minute-by-minute walk.
        #[test]
        fn search_agrees_with_brute_force(
            index in 0..EXPRESSIONS.len(),
            // 2020-01-01 to 2035-01-01.
            seconds in 1_577_836_800_i64..2_051_222_400,
        ) {
            let schedule = cron(EXPRESSIONS[index]);
            let fields = schedule.fields();
            let now = Timestamp::from_unix_seconds(seconds).unwrap();
            let odt = now.as_offset_date_time();
            let latest = schedule.latest_at_or_before(now);
            match brute_force(&fields, odt, -Duration::MINUTE) {
                Some(t) => prop_assert_eq!(latest.map(|l| l.as_offset_date_time()), Some(t)),
                None => prop_assert!(latest.is_none_or(|l| l.as_offset_date_time() < odt - Duration::days(39))),
            }
            let next = schedule.next_after(now);
            match brute_force(&fields, odt + Duration::MINUTE, Duration::MINUTE) {
                Some(t) => prop_assert_eq!(next.map(|n| n.as_offset_date_time()), Some(t)),
                None => prop_assert!(next.is_none_or(|n| n.as_offset_date_time() > odt + Duration::days(39))),
            }
            if let Some(latest) = latest {
                prop_assert!(latest <= now);
                let before = Timestamp::from_unix_seconds(latest.unix_seconds() - 1).unwrap();
                prop_assert_eq!(schedule.next_after(before), Some(latest));
                prop_assert!(schedule.next_after(now).is_none_or(|n| n > now));
            }
        }
    }
}
