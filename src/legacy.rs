//! Recognizing run folders made before runctl (docs/naming.md, "Migrating old run folders").
//! Pure: folder names in, what they say out. `crate::legacy_runs` does the looking and renaming.
//!
//! Recognized names: `YYYYmmdd_HHMMSS`, run ids `YYYYmmdd_HHMMSS_ffffff_xxxx`, and
//! `<model>_h<horizon>_YYYYmmdd_HHMMSS_ffffff_xxxx`. Folders holding a pipeline config are
//! recognized by the CLI whatever their name.

use jiff::civil::DateTime;

/// What a legacy folder name tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyName {
    /// The run id to keep, when the name is (or ends in) a run id.
    pub run_id: Option<String>,
    /// When the run started, from the name (UTC).
    pub time: DateTime,
    /// The model named before `_h<horizon>_`, if any.
    pub model: Option<String>,
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYYmmdd_HHMMSS` (optionally `_ffffff`) as a time.
fn parse_stamp(date: &str, time: &str, micros: Option<&str>) -> Option<DateTime> {
    if !digits(date, 8) || !digits(time, 6) || micros.is_some_and(|m| !digits(m, 6)) {
        return None;
    }
    let num = |s: &str| s.parse::<i32>().ok();
    let dt = jiff::civil::DateTime::new(
        i16::try_from(num(&date[..4])?).ok()?,
        i8::try_from(num(&date[4..6])?).ok()?,
        i8::try_from(num(&date[6..8])?).ok()?,
        i8::try_from(num(&time[..2])?).ok()?,
        i8::try_from(num(&time[2..4])?).ok()?,
        i8::try_from(num(&time[4..6])?).ok()?,
        micros.and_then(num).map_or(0, |m| m * 1000),
    )
    .ok()?;
    Some(dt)
}

/// Read a legacy folder name, or `None` when it is not one.
pub fn parse_name(name: &str) -> Option<LegacyName> {
    let parts: Vec<&str> = name.split('_').collect();
    match parts.as_slice() {
        [date, time] => Some(LegacyName {
            run_id: None,
            time: parse_stamp(date, time, None)?,
            model: None,
        }),
        [date, time, micros, _] if crate::naming::is_run_id(name) => Some(LegacyName {
            run_id: Some(name.to_string()),
            time: parse_stamp(date, time, Some(micros))?,
            model: None,
        }),
        [.., horizon, date, time, micros, hex] if parts.len() >= 6 => {
            let horizon_digits = horizon.strip_prefix('h')?;
            if !digits(horizon_digits, horizon_digits.len()) || horizon_digits.is_empty() {
                return None;
            }
            let id = format!("{date}_{time}_{micros}_{hex}");
            if !crate::naming::is_run_id(&id) {
                return None;
            }
            let model = parts[..parts.len() - 5].join("_");
            if model.is_empty() {
                return None;
            }
            Some(LegacyName {
                run_id: Some(id),
                time: parse_stamp(date, time, Some(micros))?,
                model: Some(model),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_the_three_shapes() {
        let a = parse_name("20251228_143025").unwrap();
        assert_eq!(a.run_id, None);
        assert_eq!(a.time.to_string(), "2025-12-28T14:30:25");
        let b = parse_name("20251228_143025_789456_a3f9").unwrap();
        assert_eq!(b.run_id.as_deref(), Some("20251228_143025_789456_a3f9"));
        assert_eq!(b.time.subsec_nanosecond(), 789_456_000);
        let c = parse_name("xgboost_h20_20251228_143025_789456_a3f9").unwrap();
        assert_eq!(c.model.as_deref(), Some("xgboost"));
        assert_eq!(c.run_id.as_deref(), Some("20251228_143025_789456_a3f9"));
        let d = parse_name("light_gbm_h5_20251228_143025_789456_00ff").unwrap();
        assert_eq!(d.model.as_deref(), Some("light_gbm"));
    }

    #[test]
    fn refuses_everything_else() {
        for name in [
            "latest",
            "notes",
            "qwen2-7b-drg_letters-full-run3",
            "20251328_143025",
            "2025122_143025",
            "20251228_143025_789456_zzzz",
            "model_hx_20251228_143025_789456_a3f9",
            "_h20_20251228_143025_789456_a3f9",
        ] {
            assert_eq!(parse_name(name), None, "{name}");
        }
    }
}
