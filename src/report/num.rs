//! Number formatting of every view (titles, tables, axis ticks): one formatter for values,
//! one for tick labels.

/// Formats a value for titles and table cells: 4 significant digits, integers as integers,
/// scientific outside [1e-3, 1e5).
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e5 {
        return format!("{v:.0}");
    }
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        let digits = if a == 0.0 {
            3
        } else {
            (3 - a.log10().floor() as i32).clamp(0, 6) as usize
        };
        format!("{v:.digits$}")
    }
}

/// Formats an axis tick with the fewest digits that tell the ticks apart: ticks are round
/// numbers (`0.1`, `2.5`, `1e-5`), so their shortest decimal form after rounding away the
/// float noise of the tick arithmetic (10 significant digits) is exact. `span` is the axis
/// range: a tick within `span * 1e-9` of zero is `0` (never `-0` or `2.8e-17`).
pub fn fmt_tick(v: f64, span: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 || v.abs() <= span.abs() * 1e-9 {
        return "0".into();
    }
    let r: f64 = format!("{v:.9e}").parse().unwrap_or(v);
    if (1e-3..1e5).contains(&r.abs()) {
        format!("{r}")
    } else {
        format!("{r:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_four_significant_digits() {
        assert_eq!(fmt_num(12.345678), "12.35");
        assert_eq!(fmt_num(0.5), "0.5000");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(123456.7), "1.235e5");
    }

    #[test]
    fn ticks_use_the_fewest_digits() {
        assert_eq!(fmt_tick(0.1, 1.0), "0.1");
        assert_eq!(fmt_tick(1.0, 1.0), "1");
        assert_eq!(fmt_tick(0.30000000000000004, 1.0), "0.3");
        assert_eq!(fmt_tick(2.5, 10.0), "2.5");
        assert_eq!(fmt_tick(-0.0, 1.0), "0");
        assert_eq!(fmt_tick(-2.7e-17, 0.4), "0");
        assert_eq!(fmt_tick(1e-5, 1.0), "1e-5");
        assert_eq!(fmt_tick(200000.0, 1e6), "2e5");
        assert_eq!(fmt_tick(15000.0, 1e4), "15000");
    }
}
