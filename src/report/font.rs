//! The font used by every plot. DejaVu Sans (Bitstream Vera license, see
//! `assets/fonts/DejaVuSans-LICENSE.txt`) is compiled into the binary and registered with
//! plotters' `ab_glyph` text renderer, so PNG output is identical on every machine and needs
//! neither fontconfig nor system fonts.

use std::sync::Once;

use plotters::style::FontStyle;

/// The family name plots ask for; [`ensure_registered`] maps it to the bundled font.
pub const FAMILY: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the bundled font under [`FAMILY`] (once per process). Every drawing entry point
/// calls this first.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType file checked in with the sources; a failure here is a
        // build defect, caught by the unit test below, not a run-time condition.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_err() {
            debug_assert!(false, "bundled font rejected by ab_glyph");
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_font_parses() {
        assert!(
            plotters::style::register_font(
                "htdiag-test",
                plotters::style::FontStyle::Normal,
                super::FONT_BYTES
            )
            .is_ok()
        );
    }
}
