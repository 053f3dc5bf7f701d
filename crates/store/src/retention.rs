//! Which saved backups a retention policy keeps, with the rules of `restic forget --keep-*`.
//!
//! [`decide`] takes every saved backup ([`Candidate`]: its creation time and whether it was
//! made by hand) and a [`RetentionPolicy`], and returns one [`Decision`] per backup, in input
//! order: keep it or remove it, and every rule that keeps it ([`KeepReason`]).
//!
//! # Rules
//!
//! - All times are UTC. Hours, days, weeks, months and years are UTC calendar periods.
//! - Rules are OR-ed: a backup is kept when any rule keeps it, and its `reasons` list every
//!   rule that keeps it, in the order of [`KeepReason`]'s variants. A removed backup has no
//!   reasons.
//! - The backups the rules look at (the *considered* backups) are walked newest first. Two
//!   backups with the same time are ordered by their position in the input: the later one
//!   counts as the newer one. The input itself may be in any order.
//! - `keep_last = n`: the `n` newest considered backups.
//! - `keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly` `= n`: walking
//!   newest first, a backup is kept when its period (hour; day; ISO 8601 week, i.e. ISO
//!   week-numbering year and week number, so 2020-12-31 and 2021-01-03 share week 53 of
//!   2020; month; year) differs from the period of the last backup kept by that same rule,
//!   until that rule has kept `n` backups. In other words: the newest backup of each of the
//!   `n` most recent periods that have backups. Periods without backups do not count.
//!   When fewer than `n` periods have backups, the oldest considered backup is kept too
//!   (reasons [`KeepReason::OldestHourly`] … [`KeepReason::OldestYearly`], restic's
//!   "oldest daily snapshot"), unless that rule keeps it already.
//! - `keep_within = d`: every considered backup whose time is strictly after `newest - d`,
//!   where `newest` is the time of the newest considered backup that is not dated after
//!   `now` (as restic does); backups dated after `now` are within, and when every
//!   considered backup is in the future, all are within. See [`KeepWithin`] for how
//!   `newest - d` is computed with calendar years and months.
//! - The newest backup of all, made by hand or not, is never removed (reason
//!   [`KeepReason::Newest`]); when it is dated after `now`, the newest backup that is
//!   not is never removed either (reason `Newest` too).
//! - A backup made by hand (`manual: true`) is never removed unless `include_manual` is set.
//!   Without it, such a backup is kept with reason [`KeepReason::Manual`] and takes no part
//!   in the other rules: it is not a considered backup, uses no `keep_*` slot, and is not the
//!   `newest` that `keep_within` measures from. With `include_manual`, backups made by hand
//!   are considered like the others.
//! - A count of 0 is the same as leaving the rule out. A policy without any rule
//!   ([`RetentionPolicy::is_empty`]) keeps every backup; then the kept backups list only the
//!   reasons `Newest` and `Manual` where they apply, so some have no reason at all. (Callers
//!   are expected to refuse an empty policy before calling [`decide`].)
//!
//! # Differences from restic
//!
//! - Subtracting months from a day that the target month does not have gives the last day of
//!   that month (2026-03-31 minus one month is 2026-02-28); restic (Go's `AddDate`) rolls
//!   over into the next month (2026-03-03). See [`KeepWithin`].
//! - `keep_within` accepts each unit at most once, in the order `y`, `m`, `d`, `h`, with
//!   numbers from 1 and no leading zeros, so that it prints back as written.
//! - Counts cannot be -1 ("unlimited"); restic's tags rules and `--keep-within-daily`
//!   and the like do not exist.
//! - restic has no rule that keeps the newest snapshot or snapshots made by hand: the
//!   `Newest` and `Manual` reasons are sitepack's own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sitepack_format::Timestamp;
use time::{Date, Month};

/// A retention policy: which saved backups to keep. Every rule left out (`None`) or set to 0
/// keeps nothing by itself; see the [module documentation](self) for the rules.
///
/// Read from a configuration file as, for example, `keep_daily = 7` and
/// `keep_within = "2y5m7d3h"`; unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionPolicy {
    /// Keep the `n` newest backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the `n` most recent hours that have backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<u32>,
    /// Keep the newest backup of each of the `n` most recent days that have backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the `n` most recent ISO 8601 weeks that have backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the `n` most recent months that have backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Keep the newest backup of each of the `n` most recent years that have backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
    /// Keep every backup made within this duration before the newest one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<KeepWithin>,
    /// Apply the rules to backups made by hand too, instead of always keeping them.
    pub include_manual: bool,
}

impl RetentionPolicy {
    /// Whether the policy has no rule: every count is left out or 0 and there is no
    /// `keep_within`. (`include_manual` is not a rule.)
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let counts = [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ];
        counts.iter().all(|count| count.unwrap_or(0) == 0) && self.keep_within.is_none()
    }
}

/// A duration in restic's `--keep-within` syntax: `<n>y`, `<n>m` (months), `<n>d`, `<n>h`
/// parts, for example `1y2m`, `36h`, `7d` or `2y5m7d3h`.
///
/// Each unit appears at most once, in that order, with a whole number from 1 and without
/// leading zeros, so the value prints back ([`Display`](fmt::Display)) exactly as it was
/// written; it is read and written as that string by serde.
///
/// `newest - duration` is computed as restic does, part by part from the newest time, with
/// one difference for days that do not exist:
/// 1. years and months are subtracted as calendar months, keeping the day of month and the
///    time of day; when the target month is shorter than that day, the day becomes the last
///    day of the target month (2026-03-31 minus `1m` is 2026-02-28, 2024-02-29 minus `1y` is
///    2023-02-28; restic would give 2026-03-03 and 2023-03-01);
/// 2. then the days (24 hours each, as every UTC day is) and the hours are subtracted.
///
/// So 2026-05-31 minus `1m1d` is 2026-04-29 (the last day of April, then one day less).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeepWithin {
    // 0 means "not written": a written part is at least 1.
    years: u32,
    months: u32,
    days: u32,
    hours: u32,
}

/// The text given for a [`KeepWithin`] is not a duration in the accepted syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid keep_within duration {text:?}: {problem}; expected <n>y, <n>m (months), <n>d, \
     <n>h parts, each at most once and in that order, with whole numbers from 1 without \
     leading zeros, for example \"1y2m\", \"36h\" or \"7d\""
)]
#[non_exhaustive]
pub struct ParseKeepWithinError {
    /// The text that was given.
    pub text: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl KeepWithin {
    /// The years part (0 when not given).
    #[must_use]
    pub fn years(&self) -> u32 {
        self.years
    }

    /// The months part (0 when not given).
    #[must_use]
    pub fn months(&self) -> u32 {
        self.months
    }

    /// The days part (0 when not given).
    #[must_use]
    pub fn days(&self) -> u32 {
        self.days
    }

    /// The hours part (0 when not given).
    #[must_use]
    pub fn hours(&self) -> u32 {
        self.hours
    }

    /// `newest - self` in Unix seconds, as described on the type; `None` when that lies
    /// before the earliest representable date (then every backup is within).
    fn cutoff(&self, newest: Timestamp) -> Option<i64> {
        let newest = newest.as_offset_date_time();
        let date = newest.date();
        let month_index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1;
        let target = month_index - (i64::from(self.years) * 12 + i64::from(self.months));
        let year = i32::try_from(target.div_euclid(12)).ok()?;
        let month = Month::try_from(u8::try_from(target.rem_euclid(12) + 1).ok()?).ok()?;
        let day = date.day().min(month.length(year));
        let shifted = Date::from_calendar_date(year, month, day).ok()?;
        let shifted = newest.replace_date(shifted).unix_timestamp();
        Some(shifted - i64::from(self.days) * 86_400 - i64::from(self.hours) * 3_600)
    }
}

impl fmt::Display for KeepWithin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ];
        for (number, unit) in parts {
            if number != 0 {
                write!(f, "{number}{unit}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for KeepWithin {
    type Err = ParseKeepWithinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem| ParseKeepWithinError {
            text: s.to_owned(),
            problem,
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        // years, months, days, hours
        let mut parts = [0_u32; 4];
        let mut next_allowed = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad("a part does not start with a number"));
            }
            let (number, after) = rest.split_at(digits);
            let unit = after
                .chars()
                .next()
                .ok_or_else(|| bad("the last number has no unit"))?;
            let index = match unit {
                'y' => 0,
                'm' => 1,
                'd' => 2,
                'h' => 3,
                _ => return Err(bad("a unit is not one of y, m, d, h")),
            };
            if index < next_allowed {
                return Err(bad("a unit is repeated or out of order"));
            }
            if number == "0" {
                return Err(bad("a part is zero"));
            }
            if number.starts_with('0') {
                return Err(bad("a number has a leading zero"));
            }
            parts[index] = number.parse().map_err(|_| bad("a number is too large"))?;
            next_allowed = index + 1;
            rest = &after[unit.len_utf8()..];
        }
        let [years, months, days, hours] = parts;
        Ok(Self {
            years,
            months,
            days,
            hours,
        })
    }
}

impl TryFrom<String> for KeepWithin {
    type Error = ParseKeepWithinError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KeepWithin> for String {
    fn from(value: KeepWithin) -> Self {
        value.to_string()
    }
}

/// One saved backup, as [`decide`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// When the backup was made.
    pub created_at: Timestamp,
    /// Whether it was made by hand rather than by a schedule.
    pub manual: bool,
}

/// A rule that keeps a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// The newest backup of all, which is never removed.
    Newest,
    /// Made by hand, and the policy does not include such backups.
    Manual,
    /// One of the `keep_last` newest backups.
    Last,
    /// The newest backup of one of the `keep_hourly` most recent hours.
    Hourly,
    /// The newest backup of one of the `keep_daily` most recent days.
    Daily,
    /// The newest backup of one of the `keep_weekly` most recent ISO weeks.
    Weekly,
    /// The newest backup of one of the `keep_monthly` most recent months.
    Monthly,
    /// The newest backup of one of the `keep_yearly` most recent years.
    Yearly,
    /// The oldest backup, kept because `keep_hourly` found fewer hours than it may keep
    /// (restic's "oldest hourly snapshot").
    OldestHourly,
    /// The oldest backup, kept because `keep_daily` found fewer days than it may keep.
    OldestDaily,
    /// The oldest backup, kept because `keep_weekly` found fewer weeks than it may keep.
    OldestWeekly,
    /// The oldest backup, kept because `keep_monthly` found fewer months than it may keep.
    OldestMonthly,
    /// The oldest backup, kept because `keep_yearly` found fewer years than it may keep.
    OldestYearly,
    /// Made within `keep_within` of the newest backup.
    Within,
}

/// What happens to one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the backup is kept.
    pub keep: bool,
    /// Every rule that keeps it, in the order of [`KeepReason`]'s variants; empty when it is
    /// removed (and, under an empty policy, for kept backups that are neither the newest nor
    /// made by hand).
    pub reasons: Vec<KeepReason>,
}

/// The periods of the `keep_hourly` ... `keep_yearly` rules.
#[derive(Debug, Clone, Copy)]
enum Period {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    /// A number that is the same for two times exactly when they are in the same period.
    fn bucket(self, at: Timestamp) -> i64 {
        let at = at.as_offset_date_time();
        match self {
            Self::Hour => at.unix_timestamp().div_euclid(3_600),
            Self::Day => i64::from(at.date().to_julian_day()),
            Self::Week => {
                let (iso_year, week, _) = at.date().to_iso_week_date();
                i64::from(iso_year) * 100 + i64::from(week)
            }
            Self::Month => i64::from(at.year()) * 12 + i64::from(u8::from(at.month())),
            Self::Year => i64::from(at.year()),
        }
    }

    fn reason(self) -> KeepReason {
        match self {
            Self::Hour => KeepReason::Hourly,
            Self::Day => KeepReason::Daily,
            Self::Week => KeepReason::Weekly,
            Self::Month => KeepReason::Monthly,
            Self::Year => KeepReason::Yearly,
        }
    }

    fn oldest_reason(self) -> KeepReason {
        match self {
            Self::Hour => KeepReason::OldestHourly,
            Self::Day => KeepReason::OldestDaily,
            Self::Week => KeepReason::OldestWeekly,
            Self::Month => KeepReason::OldestMonthly,
            Self::Year => KeepReason::OldestYearly,
        }
    }
}

/// Decides which of `backups` `policy` keeps at time `now`: one [`Decision`] per backup,
/// in input order. `now` tells which backups are dated in the future.
///
/// The rules are described in the [module documentation](self).
#[must_use]
pub fn decide(backups: &[Candidate], policy: &RetentionPolicy, now: Timestamp) -> Vec<Decision> {
    let mut reasons = vec![Vec::new(); backups.len()];

    // Newest first; of two backups with the same time, the later in the input is newer.
    let mut newest_first: Vec<usize> = (0..backups.len()).collect();
    newest_first.sort_unstable_by_key(|&i| std::cmp::Reverse((backups[i].created_at, i)));

    if let Some(&newest) = newest_first.first() {
        reasons[newest].push(KeepReason::Newest);
    }
    // A backup dated in the future (a wrong clock) never takes the place of the newest
    // real one.
    if let Some(&newest_real) = newest_first.iter().find(|&&i| backups[i].created_at <= now)
        && newest_first.first() != Some(&newest_real)
    {
        reasons[newest_real].push(KeepReason::Newest);
    }
    let considered: Vec<usize> = newest_first
        .iter()
        .copied()
        .filter(|&i| {
            let excluded = backups[i].manual && !policy.include_manual;
            if excluded {
                reasons[i].push(KeepReason::Manual);
            }
            !excluded
        })
        .collect();

    let empty = policy.is_empty();
    if !empty {
        apply_rules(backups, &considered, policy, now, &mut reasons);
    }

    reasons
        .into_iter()
        .map(|mut reasons| {
            reasons.sort_unstable();
            Decision {
                keep: empty || !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}

/// Adds the reasons of the `keep_*` rules; `considered` is newest first.
fn apply_rules(
    backups: &[Candidate],
    considered: &[usize],
    policy: &RetentionPolicy,
    now: Timestamp,
    reasons: &mut [Vec<KeepReason>],
) {
    let last = usize::try_from(policy.keep_last.unwrap_or(0)).unwrap_or(usize::MAX);
    for &i in considered.iter().take(last) {
        reasons[i].push(KeepReason::Last);
    }

    let periods = [
        (policy.keep_hourly, Period::Hour),
        (policy.keep_daily, Period::Day),
        (policy.keep_weekly, Period::Week),
        (policy.keep_monthly, Period::Month),
        (policy.keep_yearly, Period::Year),
    ];
    for (count, period) in periods {
        let mut remaining = count.unwrap_or(0);
        let mut last_kept = None;
        for &i in considered {
            if remaining == 0 {
                break;
            }
            let bucket = period.bucket(backups[i].created_at);
            if last_kept != Some(bucket) {
                reasons[i].push(period.reason());
                last_kept = Some(bucket);
                remaining -= 1;
            }
        }
        // Slots left over: the oldest backup is kept too, so that the history reaches
        // as far back as it can.
        if remaining > 0
            && let Some(&oldest) = considered.last()
            && !reasons[oldest].contains(&period.reason())
        {
            reasons[oldest].push(period.oldest_reason());
        }
    }

    // Measured from the newest backup that is not dated in the future; future-dated
    // backups are within.
    if let Some(within) = policy.keep_within {
        let newest_real = considered.iter().find(|&&i| backups[i].created_at <= now);
        let cutoff = newest_real.and_then(|&i| within.cutoff(backups[i].created_at));
        for &i in considered {
            if cutoff.is_none_or(|cutoff| backups[i].created_at.unix_seconds() > cutoff) {
                reasons[i].push(KeepReason::Within);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::KeepReason::{
        Daily, Hourly, Last, Manual, Monthly, Newest, OldestDaily, OldestHourly, OldestWeekly,
        OldestYearly, Weekly, Within, Yearly,
    };
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A clock later than every backup of the cases that are not about the future.
    static NOW: std::sync::LazyLock<Timestamp> =
        std::sync::LazyLock::new(|| at("2100-01-01T00:00:00Z"));

    fn within(text: &str) -> KeepWithin {
        text.parse().unwrap()
    }

    /// One backup of a table case and the reasons it must be kept for (none: removed).
    struct Row {
        at: &'static str,
        manual: bool,
        expect: &'static [KeepReason],
    }

    const fn auto(at: &'static str, expect: &'static [KeepReason]) -> Row {
        Row {
            at,
            manual: false,
            expect,
        }
    }

    const fn by_hand(at: &'static str, expect: &'static [KeepReason]) -> Row {
        Row {
            at,
            manual: true,
            expect,
        }
    }

    struct Case {
        name: &'static str,
        policy: RetentionPolicy,
        rows: Vec<Row>,
    }

    /// Checks every case in input order, reversed, and rotated (the rows of a case have
    /// distinct times, so the order must not matter).
    fn check(cases: &[Case]) {
        check_at(cases, *NOW);
    }

    /// [`check`] with the clock at `now`.
    fn check_at(cases: &[Case], now: Timestamp) {
        for case in cases {
            let n = case.rows.len();
            let orders: Vec<Vec<usize>> = vec![
                (0..n).collect(),
                (0..n).rev().collect(),
                (0..n).map(|i| (i + n / 2) % n).collect(),
                (0..n).step_by(2).chain((1..n).step_by(2)).collect(),
            ];
            for order in orders {
                let input: Vec<Candidate> = order
                    .iter()
                    .map(|&i| Candidate {
                        created_at: at(case.rows[i].at),
                        manual: case.rows[i].manual,
                    })
                    .collect();
                let decisions = decide(&input, &case.policy, now);
                assert_eq!(decisions.len(), n, "{}", case.name);
                for (&i, decision) in order.iter().zip(&decisions) {
                    let row = &case.rows[i];
                    assert_eq!(
                        decision.reasons, row.expect,
                        "case {:?}, backup {} (input order {order:?})",
                        case.name, row.at
                    );
                    assert_eq!(decision.keep, !row.expect.is_empty(), "{}", case.name);
                }
            }
        }
    }

    #[test]
    fn daily_keeps_the_newest_backup_of_each_day_that_has_backups() {
        check(&[
            Case {
                name: "several backups a day",
                policy: RetentionPolicy {
                    keep_daily: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T09:00:00Z", &[]),
                    auto("2026-01-01T18:00:00Z", &[]),
                    auto("2026-01-02T08:00:00Z", &[]),
                    auto("2026-01-02T20:00:00Z", &[Daily]),
                    auto("2026-01-03T07:00:00Z", &[Newest, Daily]),
                ],
            },
            Case {
                name: "day boundary is midnight UTC",
                policy: RetentionPolicy {
                    keep_daily: Some(3),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T09:00:00Z", &[]),
                    auto("2026-01-01T23:59:59Z", &[Daily]),
                    auto("2026-01-02T00:00:00Z", &[]),
                    auto("2026-01-02T00:00:01Z", &[Daily]),
                    auto("2026-01-03T07:00:00Z", &[Newest, Daily]),
                ],
            },
            Case {
                name: "days without backups do not use a slot",
                policy: RetentionPolicy {
                    keep_daily: Some(3),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2025-12-01T12:00:00Z", &[]),
                    auto("2026-01-01T12:00:00Z", &[]),
                    auto("2026-01-05T12:00:00Z", &[Daily]),
                    auto("2026-01-20T12:00:00Z", &[Daily]),
                    auto("2026-02-01T12:00:00Z", &[Newest, Daily]),
                ],
            },
            Case {
                name: "the same day of another month is another day",
                policy: RetentionPolicy {
                    keep_daily: Some(5),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2025-02-03T12:00:00Z", &[Daily]),
                    auto("2026-01-03T12:00:00Z", &[Daily]),
                    auto("2026-02-03T11:00:00Z", &[]),
                    auto("2026-02-03T12:00:00Z", &[Newest, Daily]),
                ],
            },
        ]);
    }

    #[test]
    fn hourly_keeps_the_newest_backup_of_each_hour_that_has_backups() {
        check(&[
            Case {
                name: "several backups an hour, with gaps",
                policy: RetentionPolicy {
                    keep_hourly: Some(3),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-06-01T08:59:59Z", &[]),
                    auto("2026-06-01T10:05:00Z", &[]),
                    auto("2026-06-01T10:55:00Z", &[Hourly]),
                    auto("2026-06-01T11:30:00Z", &[Hourly]),
                    auto("2026-06-01T13:00:00Z", &[]),
                    auto("2026-06-01T13:59:59Z", &[Newest, Hourly]),
                ],
            },
            Case {
                name: "the same hour of another day is another hour",
                policy: RetentionPolicy {
                    keep_hourly: Some(4),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-05-31T23:30:00Z", &[Hourly]),
                    auto("2026-06-01T00:10:00Z", &[Hourly]),
                    auto("2026-06-02T00:20:00Z", &[Hourly]),
                    auto("2026-06-03T00:20:00Z", &[Newest, Hourly]),
                ],
            },
        ]);
    }

    #[test]
    fn weekly_uses_iso_weeks_across_the_year_boundary() {
        // 2020 has 53 ISO weeks: week 53 runs from Monday 2020-12-28 to Sunday 2021-01-03;
        // week 1 of 2021 starts on Monday 2021-01-04.
        let rows = |expect_week_52: &'static [KeepReason]| {
            vec![
                auto("2020-12-21T12:00:00Z", &[]),               // 2020-W52, Monday
                auto("2020-12-27T12:00:00Z", expect_week_52),    // 2020-W52, Sunday
                auto("2020-12-28T12:00:00Z", &[]),               // 2020-W53, Monday
                auto("2020-12-31T12:00:00Z", &[]),               // 2020-W53, Thursday
                auto("2021-01-03T12:00:00Z", &[Weekly]),         // 2020-W53, Sunday
                auto("2021-01-04T12:00:00Z", &[]),               // 2021-W01, Monday
                auto("2021-01-10T12:00:00Z", &[Weekly]),         // 2021-W01, Sunday
                auto("2021-01-11T12:00:00Z", &[Newest, Weekly]), // 2021-W02, Monday
            ]
        };
        check(&[
            Case {
                name: "three weeks",
                policy: RetentionPolicy {
                    keep_weekly: Some(3),
                    ..RetentionPolicy::default()
                },
                rows: rows(&[]),
            },
            Case {
                name: "four weeks",
                policy: RetentionPolicy {
                    keep_weekly: Some(4),
                    ..RetentionPolicy::default()
                },
                rows: rows(&[Weekly]),
            },
            Case {
                name: "2026-01-01 is in week 1 of 2026, with 2025-12-29",
                policy: RetentionPolicy {
                    keep_weekly: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2025-12-28T12:00:00Z", &[Weekly]), // 2025-W52, Sunday
                    auto("2025-12-29T12:00:00Z", &[]),       // 2026-W01, Monday
                    auto("2026-01-01T12:00:00Z", &[Newest, Weekly]), // 2026-W01, Thursday
                ],
            },
        ]);
    }

    #[test]
    fn monthly_and_yearly_across_year_boundaries() {
        check(&[
            Case {
                name: "monthly",
                policy: RetentionPolicy {
                    keep_monthly: Some(3),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2025-10-31T23:59:59Z", &[]),
                    auto("2025-11-15T12:00:00Z", &[Monthly]),
                    auto("2025-12-01T00:00:00Z", &[]),
                    auto("2025-12-31T23:59:59Z", &[Monthly]),
                    auto("2026-01-01T00:00:00Z", &[]),
                    auto("2026-01-20T12:00:00Z", &[Newest, Monthly]),
                ],
            },
            Case {
                name: "the same month of another year is another month",
                policy: RetentionPolicy {
                    keep_monthly: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2025-01-05T12:00:00Z", &[Monthly]),
                    auto("2026-01-05T12:00:00Z", &[Newest, Monthly]),
                ],
            },
            Case {
                name: "yearly",
                policy: RetentionPolicy {
                    keep_yearly: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2022-06-01T00:00:00Z", &[]),
                    auto("2024-06-01T00:00:00Z", &[]),
                    auto("2024-12-31T23:59:59Z", &[Yearly]),
                    auto("2025-01-01T00:00:00Z", &[]),
                    auto("2025-07-01T00:00:00Z", &[Newest, Yearly]),
                ],
            },
            Case {
                name: "years without backups do not use a slot",
                policy: RetentionPolicy {
                    keep_yearly: Some(3),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2010-03-01T00:00:00Z", &[]),
                    auto("2015-03-01T00:00:00Z", &[Yearly]),
                    auto("2020-03-01T00:00:00Z", &[Yearly]),
                    auto("2025-03-01T00:00:00Z", &[Newest, Yearly]),
                ],
            },
        ]);
    }

    #[test]
    fn keep_last_keeps_the_n_newest() {
        check(&[
            Case {
                name: "fewer than n",
                policy: RetentionPolicy {
                    keep_last: Some(5),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T00:00:00Z", &[Last]),
                    auto("2026-01-01T00:00:01Z", &[Newest, Last]),
                ],
            },
            Case {
                name: "more than n, same second apart",
                policy: RetentionPolicy {
                    keep_last: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T00:00:00Z", &[]),
                    auto("2026-01-01T00:00:01Z", &[]),
                    auto("2026-01-01T00:00:02Z", &[Last]),
                    auto("2026-01-01T00:00:03Z", &[Newest, Last]),
                ],
            },
        ]);
    }

    #[test]
    fn keep_within_uses_calendar_years_and_months() {
        let policy = |text| RetentionPolicy {
            keep_within: Some(within(text)),
            ..RetentionPolicy::default()
        };
        check(&[
            Case {
                // 2026-03-31 minus one month is clamped to 2026-02-28 (restic: 2026-03-03).
                name: "1m from the 31st",
                policy: policy("1m"),
                rows: vec![
                    auto("2026-02-27T12:00:00Z", &[]),
                    auto("2026-02-28T12:00:00Z", &[]),
                    auto("2026-02-28T12:00:01Z", &[Within]),
                    auto("2026-03-02T00:00:00Z", &[Within]),
                    auto("2026-03-31T12:00:00Z", &[Newest, Within]),
                ],
            },
            Case {
                name: "1y from a leap day",
                policy: policy("1y"),
                rows: vec![
                    auto("2023-02-28T06:00:00Z", &[]),
                    auto("2023-02-28T06:00:01Z", &[Within]),
                    auto("2024-02-29T06:00:00Z", &[Newest, Within]),
                ],
            },
            Case {
                name: "2m across the year boundary",
                policy: policy("2m"),
                rows: vec![
                    auto("2025-11-15T00:00:00Z", &[]),
                    auto("2025-11-15T00:00:01Z", &[Within]),
                    auto("2026-01-15T00:00:00Z", &[Newest, Within]),
                ],
            },
            Case {
                name: "2y5m7d3h",
                policy: policy("2y5m7d3h"),
                rows: vec![
                    auto("2024-06-15T05:30:00Z", &[]),
                    auto("2024-06-15T05:30:01Z", &[Within]),
                    auto("2026-11-22T08:30:00Z", &[Newest, Within]),
                ],
            },
            Case {
                name: "36h",
                policy: policy("36h"),
                rows: vec![
                    auto("2026-02-27T13:00:00Z", &[]),
                    auto("2026-02-27T13:00:01Z", &[Within]),
                    auto("2026-03-01T01:00:00Z", &[Newest, Within]),
                ],
            },
            Case {
                name: "measured from the newest considered backup, not a manual one",
                policy: policy("1d"),
                rows: vec![
                    auto("2026-03-01T00:00:00Z", &[]),
                    auto("2026-03-09T00:00:01Z", &[Within]),
                    auto("2026-03-10T00:00:00Z", &[Within]),
                    by_hand("2026-03-20T00:00:00Z", &[Newest, Manual]),
                ],
            },
        ]);
    }

    #[test]
    fn within_cutoff_table() {
        let cases = [
            ("2026-03-31T12:00:00Z", "1m", "2026-02-28T12:00:00Z"),
            ("2024-03-31T00:00:00Z", "1m", "2024-02-29T00:00:00Z"),
            ("2024-02-29T06:00:00Z", "1y", "2023-02-28T06:00:00Z"),
            ("2024-02-29T06:00:00Z", "4y", "2020-02-29T06:00:00Z"),
            ("2026-01-15T00:00:00Z", "2m", "2025-11-15T00:00:00Z"),
            ("2026-01-15T00:00:00Z", "13m", "2024-12-15T00:00:00Z"),
            ("2026-11-22T08:30:00Z", "2y5m7d3h", "2024-06-15T05:30:00Z"),
            ("2026-05-31T00:00:00Z", "1m1d", "2026-04-29T00:00:00Z"),
            ("2026-03-01T00:00:00Z", "1d", "2026-02-28T00:00:00Z"),
            ("2026-03-01T01:00:00Z", "36h", "2026-02-27T13:00:00Z"),
            ("2026-03-01T01:00:00Z", "1d12h", "2026-02-27T13:00:00Z"),
        ];
        for (newest, duration, expected) in cases {
            let duration: KeepWithin = duration.parse().unwrap();
            assert_eq!(
                duration.cutoff(at(newest)),
                Some(at(expected).unix_seconds()),
                "{newest} - {duration}"
            );
        }
        // Far before the earliest date: no lower bound, everything is within.
        let huge: KeepWithin = "4294967295y".parse().unwrap();
        assert_eq!(huge.cutoff(at("2026-01-01T00:00:00Z")), None);
        let backups = [
            Candidate {
                created_at: at("0000-01-01T00:00:00Z"),
                manual: false,
            },
            Candidate {
                created_at: at("2026-01-01T00:00:00Z"),
                manual: false,
            },
        ];
        let policy = RetentionPolicy {
            keep_within: Some(huge),
            ..RetentionPolicy::default()
        };
        assert!(decide(&backups, &policy, *NOW).iter().all(|d| d.keep));
    }

    #[test]
    fn rules_are_ored_and_every_reason_is_listed() {
        check(&[Case {
            name: "last, daily, weekly, monthly, within",
            policy: RetentionPolicy {
                keep_last: Some(2),
                keep_daily: Some(2),
                keep_weekly: Some(2),
                keep_monthly: Some(3),
                keep_within: Some(within("1d")),
                ..RetentionPolicy::default()
            },
            rows: vec![
                auto("2026-01-10T12:00:00Z", &[Monthly]),
                auto("2026-02-15T12:00:00Z", &[]),
                auto("2026-02-20T12:00:00Z", &[Weekly, Monthly]),
                auto("2026-03-02T08:00:00Z", &[]),
                auto("2026-03-02T09:00:00Z", &[Daily]),
                auto("2026-03-03T10:00:00Z", &[Last, Within]),
                auto(
                    "2026-03-03T11:00:00Z",
                    &[Newest, Last, Daily, Weekly, Monthly, Within],
                ),
            ],
        }]);
    }

    #[test]
    fn manual_backups_are_kept_and_use_no_slot_unless_included() {
        let rows = |included: bool| {
            if included {
                vec![
                    auto("2026-01-01T12:00:00Z", &[]),
                    auto("2026-01-02T12:00:00Z", &[]),
                    by_hand("2026-01-02T13:00:00Z", &[Daily]),
                    auto("2026-01-03T12:00:00Z", &[]),
                    by_hand("2026-01-03T18:00:00Z", &[Newest, Daily]),
                ]
            } else {
                vec![
                    auto("2026-01-01T12:00:00Z", &[]),
                    auto("2026-01-02T12:00:00Z", &[Daily]),
                    by_hand("2026-01-02T13:00:00Z", &[Manual]),
                    auto("2026-01-03T12:00:00Z", &[Daily]),
                    by_hand("2026-01-03T18:00:00Z", &[Newest, Manual]),
                ]
            }
        };
        check(&[
            Case {
                name: "manual excluded",
                policy: RetentionPolicy {
                    keep_daily: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: rows(false),
            },
            Case {
                name: "manual included",
                policy: RetentionPolicy {
                    keep_daily: Some(2),
                    include_manual: true,
                    ..RetentionPolicy::default()
                },
                rows: rows(true),
            },
            Case {
                name: "manual backups use no keep_last slot",
                policy: RetentionPolicy {
                    keep_last: Some(1),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T00:00:00Z", &[]),
                    auto("2026-01-02T00:00:00Z", &[Last]),
                    by_hand("2026-01-03T00:00:00Z", &[Manual]),
                    by_hand("2026-01-04T00:00:00Z", &[Newest, Manual]),
                ],
            },
            Case {
                name: "only manual backups",
                policy: RetentionPolicy {
                    keep_last: Some(1),
                    keep_within: Some(within("1h")),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    by_hand("2020-01-01T00:00:00Z", &[Manual]),
                    by_hand("2026-01-04T00:00:00Z", &[Newest, Manual]),
                ],
            },
        ]);
    }

    #[test]
    fn keep_within_is_measured_from_the_newest_backup_not_in_the_future() {
        let now = at("2026-11-22T12:00:00Z");
        check_at(
            &[
                Case {
                    name: "one backup a year ahead",
                    policy: RetentionPolicy {
                        keep_within: Some(within("7d")),
                        ..RetentionPolicy::default()
                    },
                    rows: vec![
                        auto("2026-11-01T00:00:00Z", &[]),
                        auto("2026-11-16T00:00:00Z", &[Within]),
                        auto("2026-11-22T00:00:00Z", &[Newest, Within]),
                        auto("2027-11-22T00:00:00Z", &[Newest, Within]),
                    ],
                },
                Case {
                    name: "the clock itself is not the measure",
                    policy: RetentionPolicy {
                        keep_within: Some(within("1d")),
                        ..RetentionPolicy::default()
                    },
                    rows: vec![
                        auto("2026-10-01T00:00:00Z", &[Within]),
                        auto("2026-10-01T12:00:00Z", &[Newest, Within]),
                        auto("2026-11-22T12:00:01Z", &[Newest, Within]),
                    ],
                },
                Case {
                    name: "every backup in the future",
                    policy: RetentionPolicy {
                        keep_within: Some(within("1h")),
                        keep_last: Some(1),
                        ..RetentionPolicy::default()
                    },
                    rows: vec![
                        auto("2030-01-01T00:00:00Z", &[Within]),
                        auto("2031-01-01T00:00:00Z", &[Newest, Last, Within]),
                    ],
                },
                Case {
                    name: "a manual future backup with manual backups left out",
                    policy: RetentionPolicy {
                        keep_within: Some(within("2d")),
                        ..RetentionPolicy::default()
                    },
                    rows: vec![
                        auto("2026-11-01T00:00:00Z", &[]),
                        auto("2026-11-20T00:00:00Z", &[Within]),
                        auto("2026-11-21T00:00:00Z", &[Newest, Within]),
                        by_hand("2027-01-01T00:00:00Z", &[Newest, Manual]),
                    ],
                },
            ],
            now,
        );
    }

    #[test]
    fn period_rules_keep_the_oldest_backup_when_slots_are_left() {
        check(&[
            Case {
                name: "two days for seven slots",
                policy: RetentionPolicy {
                    keep_daily: Some(7),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T09:00:00Z", &[OldestDaily]),
                    auto("2026-01-01T18:00:00Z", &[Daily]),
                    auto("2026-01-02T08:00:00Z", &[]),
                    auto("2026-01-02T20:00:00Z", &[Newest, Daily]),
                ],
            },
            Case {
                name: "the oldest is its day's newest already",
                policy: RetentionPolicy {
                    keep_daily: Some(7),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T09:00:00Z", &[Daily]),
                    auto("2026-01-02T08:00:00Z", &[]),
                    auto("2026-01-02T20:00:00Z", &[Newest, Daily]),
                ],
            },
            Case {
                name: "no slot left",
                policy: RetentionPolicy {
                    keep_daily: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    auto("2026-01-01T09:00:00Z", &[]),
                    auto("2026-01-01T18:00:00Z", &[Daily]),
                    auto("2026-01-02T20:00:00Z", &[Newest, Daily]),
                ],
            },
            Case {
                name: "every period rule, and only the considered backups",
                policy: RetentionPolicy {
                    keep_hourly: Some(5),
                    keep_weekly: Some(3),
                    keep_monthly: Some(1),
                    keep_yearly: Some(2),
                    ..RetentionPolicy::default()
                },
                rows: vec![
                    by_hand("2025-12-31T07:00:00Z", &[Manual]),
                    auto(
                        "2026-01-01T09:00:00Z",
                        &[OldestHourly, OldestWeekly, OldestYearly],
                    ),
                    auto("2026-01-01T09:30:00Z", &[Hourly]),
                    auto(
                        "2026-01-01T10:00:00Z",
                        &[Newest, Hourly, Weekly, Monthly, Yearly],
                    ),
                ],
            },
        ]);
    }

    #[test]
    fn the_newest_backup_is_always_kept() {
        check(&[Case {
            name: "newest not kept by any keep rule",
            policy: RetentionPolicy {
                keep_yearly: Some(1),
                ..RetentionPolicy::default()
            },
            rows: vec![
                auto("2026-01-01T00:00:00Z", &[Yearly]),
                by_hand("2026-01-02T00:00:00Z", &[Newest, Manual]),
            ],
        }]);
    }

    #[test]
    fn an_empty_policy_keeps_everything() {
        for policy in [
            RetentionPolicy::default(),
            RetentionPolicy {
                keep_last: Some(0),
                keep_daily: Some(0),
                include_manual: true,
                ..RetentionPolicy::default()
            },
        ] {
            assert!(policy.is_empty());
            let backups = [
                Candidate {
                    created_at: at("2026-01-01T00:00:00Z"),
                    manual: false,
                },
                Candidate {
                    created_at: at("2026-01-03T00:00:00Z"),
                    manual: false,
                },
                Candidate {
                    created_at: at("2026-01-02T00:00:00Z"),
                    manual: true,
                },
            ];
            let decisions = decide(&backups, &policy, *NOW);
            assert!(decisions.iter().all(|d| d.keep));
            assert_eq!(decisions[1].reasons, [Newest]);
            let manual: &[KeepReason] = if policy.include_manual {
                &[]
            } else {
                &[Manual]
            };
            assert_eq!(decisions[2].reasons, manual);
            assert_eq!(decisions[0].reasons, []);
        }
        assert!(
            !RetentionPolicy {
                keep_within: Some(within("1h")),
                ..RetentionPolicy::default()
            }
            .is_empty()
        );
        assert!(
            !RetentionPolicy {
                keep_yearly: Some(1),
                ..RetentionPolicy::default()
            }
            .is_empty()
        );
        assert!(decide(&[], &RetentionPolicy::default(), *NOW).is_empty());
    }

    #[test]
    fn equal_times_are_ordered_by_input_position() {
        let t = at("2026-01-01T00:00:00Z");
        let backups = [
            Candidate {
                created_at: t,
                manual: false,
            },
            Candidate {
                created_at: t,
                manual: false,
            },
            Candidate {
                created_at: at("2025-12-31T00:00:00Z"),
                manual: false,
            },
        ];
        let policy = RetentionPolicy {
            keep_daily: Some(5),
            ..RetentionPolicy::default()
        };
        let reasons: Vec<_> = decide(&backups, &policy, *NOW)
            .into_iter()
            .map(|d| d.reasons)
            .collect();
        assert_eq!(reasons, [vec![], vec![Newest, Daily], vec![Daily]]);
        assert_eq!(
            decide(&backups, &policy, *NOW),
            decide(&backups, &policy, *NOW)
        );
    }

    #[test]
    fn keep_within_parses_and_prints_back() {
        let good = [
            ("1y", (1, 0, 0, 0)),
            ("2m", (0, 2, 0, 0)),
            ("7d", (0, 0, 7, 0)),
            ("36h", (0, 0, 0, 36)),
            ("1y2m", (1, 2, 0, 0)),
            ("1y3h", (1, 0, 0, 3)),
            ("2y5m7d3h", (2, 5, 7, 3)),
            ("10d", (0, 0, 10, 0)),
            ("4294967295h", (0, 0, 0, u32::MAX)),
        ];
        for (text, (years, months, days, hours)) in good {
            let parsed: KeepWithin = text.parse().unwrap();
            assert_eq!(
                (
                    parsed.years(),
                    parsed.months(),
                    parsed.days(),
                    parsed.hours()
                ),
                (years, months, days, hours),
                "{text}"
            );
            assert_eq!(parsed.to_string(), text);
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<KeepWithin>(&json).unwrap(), parsed);
        }

        let bad = [
            ("", "it is empty"),
            ("7", "the last number has no unit"),
            ("1y2", "the last number has no unit"),
            ("d", "a part does not start with a number"),
            ("-1d", "a part does not start with a number"),
            ("+1d", "a part does not start with a number"),
            (" 7d", "a part does not start with a number"),
            ("7d ", "a part does not start with a number"),
            ("1 d", "a unit is not one of y, m, d, h"),
            ("1.5d", "a unit is not one of y, m, d, h"),
            ("2w", "a unit is not one of y, m, d, h"),
            ("1D", "a unit is not one of y, m, d, h"),
            ("5s", "a unit is not one of y, m, d, h"),
            ("1é", "a unit is not one of y, m, d, h"),
            ("1d1y", "a unit is repeated or out of order"),
            ("1d1d", "a unit is repeated or out of order"),
            ("0d", "a part is zero"),
            ("1y0m", "a part is zero"),
            ("07d", "a number has a leading zero"),
            ("4294967296h", "a number is too large"),
        ];
        for (text, problem) in bad {
            let error = text.parse::<KeepWithin>().unwrap_err();
            assert_eq!(error.problem, problem, "{text:?}");
            assert_eq!(error.text, text);
            let message = error.to_string();
            assert!(message.contains(&format!("{text:?}")), "{message}");
            assert!(
                message.contains("<n>y, <n>m (months), <n>d, <n>h"),
                "{message}"
            );
        }
    }

    #[test]
    fn policy_reads_from_configuration() {
        let policy: RetentionPolicy = serde_json::from_str(
            r#"{"keep_daily": 7, "keep_weekly": 4, "keep_within": "2y5m7d3h", "include_manual": true}"#,
        )
        .unwrap();
        assert_eq!(
            policy,
            RetentionPolicy {
                keep_daily: Some(7),
                keep_weekly: Some(4),
                keep_within: Some(within("2y5m7d3h")),
                include_manual: true,
                ..RetentionPolicy::default()
            }
        );
        assert_eq!(
            serde_json::to_string(&policy).unwrap(),
            r#"{"keep_daily":7,"keep_weekly":4,"keep_within":"2y5m7d3h","include_manual":true}"#
        );
        assert_eq!(
            serde_json::from_str::<RetentionPolicy>("{}").unwrap(),
            RetentionPolicy::default()
        );
        let unknown = serde_json::from_str::<RetentionPolicy>(r#"{"keep_dayly": 7}"#);
        assert!(unknown.unwrap_err().to_string().contains("keep_dayly"));
        let bad = serde_json::from_str::<RetentionPolicy>(r#"{"keep_within": "1w"}"#);
        assert!(bad.unwrap_err().to_string().contains("\"1w\""));

        let decision = Decision {
            keep: true,
            reasons: vec![Newest, Daily],
        };
        assert_eq!(
            serde_json::to_string(&decision).unwrap(),
            r#"{"keep":true,"reasons":["newest","daily"]}"#
        );
    }

    // ---- property tests ----

    fn candidates(spread: i64) -> impl Strategy<Value = Vec<Candidate>> {
        // 2019-06-01T00:00:00Z: the spread crosses year and ISO-week-53 boundaries.
        let base = 1_559_347_200_i64;
        prop::collection::vec((0..spread, any::<bool>(), 0..4_u8), 0..40).prop_map(move |raw| {
            raw.into_iter()
                .map(|(offset, manual, manual_odds)| Candidate {
                    created_at: Timestamp::from_unix_seconds(base + offset).unwrap(),
                    // Manual backups are rarer than scheduled ones.
                    manual: manual && manual_odds == 0,
                })
                .collect()
        })
    }

    fn any_candidates() -> impl Strategy<Value = Vec<Candidate>> {
        prop_oneof![
            candidates(3 * 3_600),
            candidates(5 * 86_400),
            candidates(120 * 86_400),
            candidates(4 * 365 * 86_400),
        ]
    }

    fn any_policy() -> impl Strategy<Value = RetentionPolicy> {
        let count = || prop::option::of(0..6_u32);
        let keep_within =
            prop::option::of((0..3_u32, 0..3_u32, 0..10_u32, 0..48_u32)).prop_map(|parts| {
                parts
                    .map(|(years, months, days, hours)| KeepWithin {
                        years,
                        months,
                        days,
                        hours,
                    })
                    .filter(|w| (w.years, w.months, w.days, w.hours) != (0, 0, 0, 0))
            });
        (
            (count(), count(), count(), count(), count(), count()),
            keep_within,
            any::<bool>(),
        )
            .prop_map(
                |(
                    (keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly),
                    keep_within,
                    include_manual,
                )| RetentionPolicy {
                    keep_last,
                    keep_hourly,
                    keep_daily,
                    keep_weekly,
                    keep_monthly,
                    keep_yearly,
                    keep_within,
                    include_manual,
                },
            )
    }

    /// The newest backup of each of the `n` most recent periods that have considered
    /// backups, computed by grouping rather than by walking.
    fn reference_kept(
        backups: &[Candidate],
        policy: &RetentionPolicy,
        period: Period,
        n: u32,
    ) -> Vec<usize> {
        let mut newest_per_bucket: BTreeMap<i64, usize> = BTreeMap::new();
        for (i, backup) in backups.iter().enumerate() {
            if backup.manual && !policy.include_manual {
                continue;
            }
            let slot = newest_per_bucket
                .entry(period.bucket(backup.created_at))
                .or_insert(i);
            if (backup.created_at, i) > (backups[*slot].created_at, *slot) {
                *slot = i;
            }
        }
        let mut kept: Vec<usize> = newest_per_bucket
            .values()
            .rev()
            .take(n as usize)
            .copied()
            .collect();
        kept.sort_unstable();
        kept
    }

    proptest! {
        #[test]
        fn decisions_hold_their_invariants(
            backups in any_candidates(),
            policy in any_policy(),
        ) {
            let decisions = decide(&backups, &policy, *NOW);
            prop_assert_eq!(decisions.len(), backups.len());

            // The newest is kept, with reason Newest.
            if let Some(newest) = (0..backups.len()).max_by_key(|&i| (backups[i].created_at, i)) {
                prop_assert!(decisions[newest].keep);
                prop_assert_eq!(decisions[newest].reasons.first(), Some(&Newest));
            }
            for (backup, decision) in backups.iter().zip(&decisions) {
                if !decision.keep {
                    prop_assert!(decision.reasons.is_empty());
                }
                if !policy.is_empty() {
                    prop_assert_eq!(decision.keep, !decision.reasons.is_empty());
                }
                if backup.manual && !policy.include_manual {
                    prop_assert!(decision.keep);
                    prop_assert!(decision.reasons.iter().all(|r| matches!(r, Newest | Manual)));
                }
                // Reasons are listed once each, in the enum's order.
                let ranks: Vec<u8> = decision.reasons.iter().map(|&r| r as u8).collect();
                prop_assert!(ranks.windows(2).all(|pair| pair[0] < pair[1]));
            }

            let kept = decisions.iter().filter(|d| d.keep).count();
            let last = policy.keep_last.unwrap_or(0) as usize;
            prop_assert!(kept >= last.min(backups.len()));

            if !policy.is_empty() {
                let periods = [
                    (policy.keep_hourly, Period::Hour),
                    (policy.keep_daily, Period::Day),
                    (policy.keep_weekly, Period::Week),
                    (policy.keep_monthly, Period::Month),
                    (policy.keep_yearly, Period::Year),
                ];
                for (count, period) in periods {
                    let by_rule: Vec<usize> = (0..backups.len())
                        .filter(|&i| decisions[i].reasons.contains(&period.reason()))
                        .collect();
                    let reference = reference_kept(&backups, &policy, period, count.unwrap_or(0));
                    let slots_left = reference.len() < count.unwrap_or(0) as usize;
                    prop_assert_eq!(by_rule, reference, "{:?}", period);
                    // The oldest considered backup, when slots are left and the rule
                    // did not keep it already.
                    let oldest = (0..backups.len())
                        .filter(|&i| !backups[i].manual || policy.include_manual)
                        .min_by_key(|&i| (backups[i].created_at, i));
                    let by_oldest: Vec<usize> = (0..backups.len())
                        .filter(|&i| decisions[i].reasons.contains(&period.oldest_reason()))
                        .collect();
                    let expected: Vec<usize> = oldest
                        .filter(|&i| slots_left && !decisions[i].reasons.contains(&period.reason()))
                        .into_iter()
                        .collect();
                    prop_assert_eq!(by_oldest, expected, "oldest {:?}", period);
                }
            }
        }

        #[test]
        fn decisions_do_not_depend_on_input_order(
            (backups, shuffled) in any_candidates()
                .prop_map(|mut backups| {
                    // Distinct times, so that no tie is broken by input position.
                    backups.sort_by_key(|b| b.created_at);
                    backups.dedup_by_key(|b| b.created_at);
                    backups
                })
                .prop_flat_map(|backups| {
                    let indices: Vec<usize> = (0..backups.len()).collect();
                    (Just(backups), Just(indices).prop_shuffle())
                }),
            policy in any_policy(),
        ) {
            let decisions = decide(&backups, &policy, *NOW);
            let permuted: Vec<Candidate> = shuffled.iter().map(|&i| backups[i]).collect();
            let permuted_decisions = decide(&permuted, &policy, *NOW);
            for (&i, decision) in shuffled.iter().zip(&permuted_decisions) {
                prop_assert_eq!(decision, &decisions[i]);
            }
        }
    }
}
