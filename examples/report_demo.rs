//! Writes the report of a synthetic model and measures it:
//! `cargo run --release --example report_demo -- LAYERS OUT_DIR [--png]`.
//! Also writes the synthetic result as `OUT_DIR/result.json`.
//! Prints the page size and the time to build it (and the PNG count and time with `--png`).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(Ok(500), |s| s.parse())?;
    let out = std::path::PathBuf::from(args.get(1).map_or("report-demo", String::as_str));
    std::fs::create_dir_all(&out)?;
    let result = htdiag::report::synthetic::model(n, 42);
    std::fs::write(out.join("result.json"), serde_json::to_vec(&result)?)?;
    if args.iter().any(|a| a == "--png") {
        let t = Instant::now();
        let files = htdiag::report::png::write_pngs(&result, &out.join("png"))?;
        println!("{} PNGs in {:.2} s", files.len(), t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let page = out.join("report.html");
    htdiag::report::html::write_html(&result, &page)?;
    let size = std::fs::metadata(&page)?.len();
    println!(
        "{} rows: {} in {:.2} s, {:.2} MB",
        result.layers.len(),
        page.display(),
        t.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    Ok(())
}
