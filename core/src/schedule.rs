//! When scheduled passes are due. A schedule has slots (nightly: every day
//! at the schedule time; weekly: Mondays; monthly: the first of the month,
//! all UTC); a pass is due when the latest slot at or before `now` is later
//! than the slot the last pass ran for. Slots missed while the service was
//! down collapse into one pass for the latest slot.

use crate::config::{Schedule, TimeOfDay};
use crate::entry::Timestamp;

const DAY: i64 = Timestamp::DAY;

/// The latest slot at or before `now`; `None` for on-demand.
pub fn latest_slot(schedule: Schedule, at: TimeOfDay, now: Timestamp) -> Option<Timestamp> {
    let offset = i64::from(at.minutes()) * 60_000;
    let today = now.0.div_euclid(DAY);
    let start_day = |day: i64| -> i64 {
        match schedule {
            Schedule::Weekly => day - weekday(day),
            Schedule::Monthly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
            _ => day,
        }
    };
    if schedule == Schedule::OnDemand {
        return None;
    }
    let slot = start_day(today) * DAY + offset;
    if slot <= now.0 {
        return Some(Timestamp(slot));
    }
    // This period's slot is still ahead: the previous period's, which is
    // the day before this period began.
    let previous = start_day(start_day(today) - 1);
    Some(Timestamp(previous * DAY + offset))
}

/// The first slot strictly after `now`; `None` for on-demand.
pub fn next_slot(schedule: Schedule, at: TimeOfDay, now: Timestamp) -> Option<Timestamp> {
    let latest = latest_slot(schedule, at, now)?;
    // Periods are at most 31 days long; step a day at a time past the
    // latest slot until a later slot appears.
    (1..=32)
        .filter_map(|d| latest_slot(schedule, at, Timestamp(latest.0 + d * DAY)))
        .find(|s| *s > latest)
}

/// The slot a pass is due for now, if any: the latest slot, when it is
/// after both the slot of the last scheduled pass and the moment the
/// schedule took effect (a schedule set at 10:00 does not run for 03:00
/// the same day).
pub fn due_slot(
    schedule: Schedule,
    at: TimeOfDay,
    last_slot: Option<Timestamp>,
    effective_since: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let slot = latest_slot(schedule, at, now)?;
    (slot >= effective_since && last_slot.is_none_or(|last| slot > last)).then_some(slot)
}

/// Monday = 0 … Sunday = 6, for a count of days since 1970-01-01 (a
/// Thursday).
fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

/// Days since 1970-01-01 of a proleptic Gregorian date, after Howard
/// Hinnant's `days_from_civil` (public domain description of the
/// algorithm, "chrono-Compatible Low-Level Date Algorithms").
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `t` as a UTC date and minute, "2026-03-14 09:05": what a model reads.
pub(crate) fn minute_utc(t: Timestamp) -> String {
    let minutes = t.0.rem_euclid(DAY) / 60_000;
    format!("{} {:02}:{:02}", day_utc(t), minutes / 60, minutes % 60)
}

/// The months' names in English, lowercase, January first.
pub const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `t` as a UTC date, "2026-03-14".
pub(crate) fn day_utc(t: Timestamp) -> String {
    let (y, m, d) = civil_from_days(t.0.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The inverse of `days_from_civil`: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds of a UTC date and time.
    fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> Timestamp {
        Timestamp(days_from_civil(y, mo, d) * DAY + (h * 60 + mi) * 60_000)
    }

    fn three() -> TimeOfDay {
        TimeOfDay::new(3, 0).unwrap()
    }

    #[test]
    fn minutes_read_as_dates() {
        assert_eq!(minute_utc(at(2026, 3, 14, 9, 5)), "2026-03-14 09:05");
        assert_eq!(minute_utc(Timestamp(-60_000)), "1969-12-31 23:59");
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 25), 20_782);
        for day in [-1_000_000, -1, 0, 59, 60, 20_782, 1_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(weekday(days_from_civil(2026, 11, 25)), 2, "a Wednesday");
    }

    #[test]
    fn latest_and_next_slots() {
        let check = |schedule, now: Timestamp, latest: Timestamp, next: Timestamp| {
            assert_eq!(latest_slot(schedule, three(), now), Some(latest), "{schedule:?} latest");
            assert_eq!(next_slot(schedule, three(), now), Some(next), "{schedule:?} next");
        };
        // Wednesday 2026-11-25.
        check(
            Schedule::Nightly,
            at(2026, 11, 25, 2, 59),
            at(2026, 11, 24, 3, 0),
            at(2026, 11, 25, 3, 0),
        );
        check(
            Schedule::Nightly,
            at(2026, 11, 25, 3, 0),
            at(2026, 11, 25, 3, 0),
            at(2026, 11, 26, 3, 0),
        );
        check(
            Schedule::Weekly,
            at(2026, 11, 25, 12, 0),
            at(2026, 11, 23, 3, 0),
            at(2026, 11, 30, 3, 0),
        );
        check(
            Schedule::Weekly,
            at(2026, 11, 23, 1, 0),
            at(2026, 11, 16, 3, 0),
            at(2026, 11, 23, 3, 0),
        );
        check(
            Schedule::Monthly,
            at(2026, 11, 25, 12, 0),
            at(2026, 11, 1, 3, 0),
            at(2026, 12, 1, 3, 0),
        );
        check(Schedule::Monthly, at(2026, 3, 1, 2, 0), at(2026, 2, 1, 3, 0), at(2026, 3, 1, 3, 0));
        check(Schedule::Monthly, at(2027, 1, 1, 0, 0), at(2026, 12, 1, 3, 0), at(2027, 1, 1, 3, 0));
        assert_eq!(latest_slot(Schedule::OnDemand, three(), at(2026, 1, 1, 0, 0)), None);
        assert_eq!(next_slot(Schedule::OnDemand, three(), at(2026, 1, 1, 0, 0)), None);
    }

    #[test]
    fn a_slot_is_due_once_and_not_before_the_schedule_existed() {
        let created = at(2026, 11, 25, 10, 0);
        let due = |last, now| due_slot(Schedule::Nightly, three(), last, created, now);
        assert_eq!(
            due(None, at(2026, 11, 25, 23, 0)),
            None,
            "today's 03:00 was before the schedule"
        );
        let slot = at(2026, 11, 26, 3, 0);
        assert_eq!(due(None, at(2026, 11, 26, 3, 4)), Some(slot));
        assert_eq!(due(Some(slot), at(2026, 11, 26, 9, 0)), None, "already ran for this slot");
        // Three days down: one pass, for the latest slot.
        assert_eq!(due(Some(slot), at(2026, 11, 29, 8, 0)), Some(at(2026, 11, 29, 3, 0)));
        assert_eq!(due_slot(Schedule::OnDemand, three(), None, Timestamp(0), created), None);
    }
}
