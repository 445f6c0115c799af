//! The report: plot data against the result it comes from, PNG files, the compare page's
//! data, the training page, and the HTML pages in a headless browser (skipped without
//! one). Run one module with `cargo test --test report png::`.

mod browser;
mod compare;
mod data;
mod png;
mod training;
