//! Time rules: cron schedules for scheduled digests and active hours for
//! quiet hours, in a time zone (daylight-saving changes included). Pure, and
//! a leaf: config parses these rules and route evaluates them, so it imports
//! nothing of the crate but the time format in its tests.

use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A five-field cron schedule: minute hour day-of-month month day-of-week,
/// parsed and matched by croner (lists, ranges, steps, month and weekday
/// names such as `MON-FRI` or `JAN`, day of week 0 or 7 for Sunday, and
/// croner's `L`, `#`, `W`, `?` and `@daily`-style nicknames; a day of month and a day of week both
/// restricted match either, as in classic cron).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    cron: croner::Cron,
    source: String,
}

impl Cron {
    pub fn parse(s: &str) -> Result<Cron, String> {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build();
        let cron = parser.parse(s).map_err(|e| {
            format!(
                "`{s}` is not a cron schedule (minute hour day-of-month month day-of-week, e.g. 0 10 * * 4 or 0 9 * * MON-FRI): {e}"
            )
        })?;
        Ok(Cron {
            cron,
            source: s.to_string(),
        })
    }

    /// The first firing strictly after `after_ms`, in `tz`. A local time
    /// skipped by a daylight-saving change fires as far after the gap as it
    /// was into it (02:30 in a one-hour gap at 02:00 fires at 03:30); a
    /// repeated one fires once, at its first occurrence.
    ///
    /// Croner walks the local (civil) clock, and each civil firing is placed
    /// in the zone here: that keeps the behaviour of the schedule's tests
    /// across daylight-saving changes (croner's own zoned walk fires a
    /// skipped time at the end of the gap instead).
    pub fn next_after(&self, after_ms: i64, tz: &TimeZone) -> Option<i64> {
        let after = Timestamp::from_millisecond(after_ms).ok()?;
        // Whole seconds: croner's resolution; a firing at the same second
        // but before `after_ms`'s milliseconds is skipped below.
        let mut civil = after
            .to_zoned(tz.clone())
            .datetime()
            .with()
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        // A civil time maps at or before `after_ms` only around a repeated
        // hour; a handful of steps always gets past it.
        for _ in 0..512 {
            civil = self.cron.find_next_occurrence(&civil, false).ok()?;
            let at = tz
                .to_ambiguous_zoned(civil)
                .compatible()
                .ok()?
                .timestamp()
                .as_millisecond();
            if at > after_ms {
                return Some(at);
            }
        }
        None
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// When a notification policy is open for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveHours {
    pub timezone: String,
    /// 0 = Sunday .. 6 = Saturday; empty: every day.
    pub weekdays: Vec<u8>,
    /// Minutes after local midnight; start < end, or start > end across midnight.
    pub start_min: u16,
    pub end_min: u16,
}

pub fn parse_weekday(s: &str) -> Option<u8> {
    let w = match s.to_ascii_lowercase().get(..3)? {
        "sun" => Weekday::Sunday,
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        _ => return None,
    };
    Some(w.to_sunday_zero_offset() as u8)
}

/// `09:00` → minutes after midnight (`24:00` allowed as an end).
pub fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

impl ActiveHours {
    fn open_at(&self, dt: DateTime) -> bool {
        let dow = dt.date().weekday().to_sunday_zero_offset() as u8;
        let minute = dt.hour() as u16 * 60 + dt.minute() as u16;
        let day_ok = |d: u8| self.weekdays.is_empty() || self.weekdays.contains(&d);
        if self.start_min <= self.end_min {
            day_ok(dow) && minute >= self.start_min && minute < self.end_min
        } else {
            // Across midnight: the evening belongs to its own day, the early
            // morning to the day before.
            (day_ok(dow) && minute >= self.start_min)
                || (day_ok((dow + 6) % 7) && minute < self.end_min)
        }
    }

    /// None when open at `at_ms`; else when the hours next open.
    pub fn next_open(&self, at_ms: i64) -> Option<i64> {
        let tz = TimeZone::get(&self.timezone).unwrap_or(TimeZone::UTC);
        let now = Timestamp::from_millisecond(at_ms)
            .ok()?
            .to_zoned(tz.clone())
            .datetime();
        if self.open_at(now) {
            return None;
        }
        let mut day = now.date();
        for _ in 0..9 {
            let dow = day.weekday().to_sunday_zero_offset() as u8;
            if self.weekdays.is_empty() || self.weekdays.contains(&dow) {
                let civil = DateTime::from_parts(
                    day,
                    Time::new(
                        i8::try_from(self.start_min / 60).ok()?,
                        i8::try_from(self.start_min % 60).ok()?,
                        0,
                        0,
                    )
                    .ok()?,
                );
                let at = tz
                    .to_ambiguous_zoned(civil)
                    .compatible()
                    .ok()?
                    .timestamp()
                    .as_millisecond();
                if at > at_ms {
                    return Some(at);
                }
            }
            day = day.checked_add(1.day()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }
    fn show(ms: i64) -> String {
        crate::timefmt::rfc3339(ms)
    }

    #[test]
    fn weekly_thursday_ten_shanghai() {
        let c = Cron::parse("0 10 * * 4").unwrap();
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // Sunday 2026-11-29 → Thursday 2026-12-03 10:00 +08 = 02:00Z.
        assert_eq!(
            show(c.next_after(ms("2026-11-29T07:00:00Z"), &tz).unwrap()),
            "2026-12-03T02:00:00.000Z"
        );
        // Exactly at a firing: the next one is a week later.
        assert_eq!(
            show(c.next_after(ms("2026-12-03T02:00:00Z"), &tz).unwrap()),
            "2026-12-10T02:00:00.000Z"
        );
        // One ms before: this one.
        assert_eq!(
            show(c.next_after(ms("2026-12-03T01:59:59.999Z"), &tz).unwrap()),
            "2026-12-03T02:00:00.000Z"
        );
    }

    #[test]
    fn across_daylight_saving_changes() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let c = Cron::parse("0 10 * * *").unwrap();
        // Berlin goes to summer time on 2026-03-29: 10:00 is 09:00Z before, 08:00Z after.
        assert_eq!(
            show(c.next_after(ms("2026-03-28T12:00:00Z"), &tz).unwrap()),
            "2026-03-29T08:00:00.000Z"
        );
        assert_eq!(
            show(c.next_after(ms("2026-03-27T12:00:00Z"), &tz).unwrap()),
            "2026-03-28T09:00:00.000Z"
        );
        // 02:30 does not exist on that day: fires right after the gap (03:30 CEST = 01:30Z).
        let c = Cron::parse("30 2 * * *").unwrap();
        assert_eq!(
            show(c.next_after(ms("2026-03-28T12:00:00Z"), &tz).unwrap()),
            "2026-03-29T01:30:00.000Z"
        );
        // 02:30 happens twice on 2026-10-25: it fires once.
        let first = c.next_after(ms("2026-10-24T12:00:00Z"), &tz).unwrap();
        assert_eq!(show(first), "2026-10-25T00:30:00.000Z");
        assert_eq!(
            show(c.next_after(first, &tz).unwrap()),
            "2026-10-26T01:30:00.000Z"
        );
    }

    #[test]
    fn cron_fields() {
        assert!(Cron::parse("0 10 * *").is_err());
        assert!(Cron::parse("60 * * * *").is_err());
        let c = Cron::parse("*/15 9-17 * * 1-5").unwrap();
        let tz = TimeZone::UTC;
        // Saturday → Monday 09:00.
        assert_eq!(
            show(c.next_after(ms("2026-11-28T12:00:00Z"), &tz).unwrap()),
            "2026-11-30T09:00:00.000Z"
        );
        assert_eq!(
            show(c.next_after(ms("2026-11-30T09:00:00Z"), &tz).unwrap()),
            "2026-11-30T09:15:00.000Z"
        );
        // Sunday is 0 or 7.
        let sunday = ms("2026-11-29T00:00:00Z");
        for c in ["0 0 * * 7", "0 0 * * 0", "0 0 * * SUN"] {
            let c = Cron::parse(c).unwrap();
            assert_eq!(
                c.next_after(sunday - 1, &tz),
                Some(sunday),
                "{}",
                c.source()
            );
        }
        // Six fields (seconds) or a year are not five-field cron.
        assert!(Cron::parse("0 0 10 * * 4").is_err());
        assert!(
            Cron::parse("0 10 * * FUNDAY")
                .unwrap_err()
                .contains("is not a cron schedule")
        );
    }

    #[test]
    fn names_lists_ranges_and_steps() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // Tuesday 2026-12-01 12:00 +08.
        let tuesday_noon = ms("2026-12-01T04:00:00Z");
        let next =
            |c: &str, after: i64| show(Cron::parse(c).unwrap().next_after(after, &tz).unwrap());
        // Monday 10:00 +08: the next Monday.
        assert_eq!(
            next("0 10 * * MON", tuesday_noon),
            "2026-12-07T02:00:00.000Z"
        );
        assert_eq!(
            next("0 10 * * mon", tuesday_noon),
            "2026-12-07T02:00:00.000Z"
        );
        // Weekdays 09:00: Wednesday; from Friday noon, Monday.
        assert_eq!(
            next("0 9 * * MON-FRI", tuesday_noon),
            "2026-12-02T01:00:00.000Z"
        );
        assert_eq!(
            next("0 9 * * MON-FRI", ms("2026-12-04T04:00:00Z")),
            "2026-12-07T01:00:00.000Z"
        );
        // Lists of names, month names, steps over a range.
        assert_eq!(
            next("30 8 * * TUE,THU", tuesday_noon),
            "2026-12-03T00:30:00.000Z"
        );
        assert_eq!(
            next("0 0 1 JAN *", tuesday_noon),
            "2026-12-31T16:00:00.000Z"
        );
        assert_eq!(
            next("0 12-18/3 * * *", tuesday_noon),
            "2026-12-01T07:00:00.000Z"
        );
        // Nicknames: @weekly is Sunday 00:00.
        assert_eq!(next("@weekly", tuesday_noon), "2026-12-05T16:00:00.000Z");
    }

    #[test]
    fn active_hours() {
        let h = ActiveHours {
            timezone: "Asia/Shanghai".into(),
            weekdays: vec![1, 2, 3, 4, 5],
            start_min: 9 * 60,
            end_min: 18 * 60,
        };
        // Monday 10:00 +08: open.
        assert_eq!(h.next_open(ms("2026-11-30T02:00:00Z")), None);
        // Monday 18:00 +08 (the end is exclusive): closed until Tuesday 09:00 +08.
        assert_eq!(
            show(h.next_open(ms("2026-11-30T10:00:00Z")).unwrap()),
            "2026-12-01T01:00:00.000Z"
        );
        // Saturday: Monday 09:00.
        assert_eq!(
            show(h.next_open(ms("2026-11-28T02:00:00Z")).unwrap()),
            "2026-11-30T01:00:00.000Z"
        );
        // Across midnight: 22:00-06:00 every day.
        let n = ActiveHours {
            timezone: "UTC".into(),
            weekdays: vec![],
            start_min: 22 * 60,
            end_min: 6 * 60,
        };
        assert_eq!(n.next_open(ms("2026-11-30T23:00:00Z")), None);
        assert_eq!(n.next_open(ms("2026-12-01T05:59:00Z")), None);
        assert_eq!(
            show(n.next_open(ms("2026-12-01T06:00:00Z")).unwrap()),
            "2026-12-01T22:00:00.000Z"
        );
        assert_eq!(parse_weekday("Thursday"), Some(4));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("9:60"), None);
    }
}
