//! The HTML report in a real browser: headless Chromium, driven through chromedriver's
//! WebDriver HTTP API (a tiny HTTP/1.1 client over `TcpStream`, loopback only), loads a
//! generated report and the compare page without console errors, sorts the layer table by
//! clicking a column header, opens a layer's plots, and takes a screenshot
//! (`target/tmp/report-screenshot.png`).
//!
//! Without chromium and chromedriver the test is skipped with a message, unless
//! `HTDIAG_REQUIRE_BROWSER=1` (CI), where it fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn find(names: &[&str], env: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// One HTTP request to 127.0.0.1:port; returns (status, parsed JSON body).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to chromedriver");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    // Read the head, then exactly Content-Length bytes (or chunks): chromedriver may keep the
    // connection open despite `Connection: close`.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).expect("read from chromedriver");
        assert!(n > 0, "chromedriver closed the connection");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let mut rest = raw[head_end + 4..].to_vec();
    let body = if let Some(len) = length {
        while rest.len() < len {
            let n = s.read(&mut buf).expect("read from chromedriver");
            assert!(n > 0, "short body");
            rest.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&rest[..len]).into_owned()
    } else {
        // Chunked or close-delimited: read until the terminating chunk or EOF.
        while !rest.ends_with(b"0\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&rest).into_owned();
        if head.contains("transfer-encoding: chunked") {
            dechunk(&text)
        } else {
            text
        }
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

struct Driver {
    child: Child,
    port: u16,
    session: String,
}

impl Driver {
    fn start(chromium: &Path, chromedriver: &Path, profile: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut d = Driver {
            child,
            port,
            session: String::new(),
        };
        let t0 = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/status", None).1["value"]["ready"] == json!(true)
            {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1400,1000",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let (st, v) = http(port, "POST", "/session", Some(&caps));
        assert_eq!(st, 200, "new session: {v}");
        d.session = v["value"]["sessionId"].as_str().unwrap().to_string();
        d
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (st, v) = http(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        assert_eq!(st, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn goto(&self, path: &Path) {
        let url = format!("file://{}", path.display());
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Browser console entries since the last call.
    fn console(&self) -> Vec<Value> {
        self.cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `js` (an expression) until it returns a number >= `min` (hashchange handlers run
    /// asynchronously after a click), for at most 10 s; returns the last value.
    fn wait_count(&self, js: &str, min: u64) -> u64 {
        let t0 = Instant::now();
        loop {
            let v = self.script(&format!("return {js};")).as_u64().unwrap_or(0);
            if v >= min || t0.elapsed() > Duration::from_secs(10) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn click(&self, css: &str) {
        let el = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        let id = el
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_str())
            .expect("element id")
            .to_string();
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn severe(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].to_string())
        .collect()
}

fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= (val(c) as u32) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

fn column_values(d: &Driver, key: &str) -> Vec<Option<f64>> {
    let v = d.script(&format!(
        "var ths=[].slice.call(document.querySelectorAll('#layer-table thead th'));\
         var c=ths.findIndex(function(t){{return t.dataset.key==='{key}';}});\
         return [].slice.call(document.querySelectorAll('#layer-table tbody tr'))\
           .map(function(r){{return r.cells[c].dataset.v;}});"
    ));
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// chromium and chromedriver, or `None` (skip) when missing and not required.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("HTDIAG_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let found = (
        find(
            &["chromium", "chromium-browser", "google-chrome"],
            "HTDIAG_CHROMIUM",
        ),
        find(&["chromedriver"], "HTDIAG_CHROMEDRIVER"),
    );
    match found {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            assert!(
                !required,
                "HTDIAG_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed"
            );
            eprintln!(
                "SKIPPED: chromium and chromedriver not found (set HTDIAG_REQUIRE_BROWSER=1 to fail instead)"
            );
            None
        }
    }
}

/// Not a test but a measurement (run with `--ignored --nocapture`): page size, load time and
/// the time to draw one layer's plots for a 500-layer synthetic model.
#[test]
#[ignore]
fn measure_500_layer_page() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let result = htdiag::report::synthetic::model(500, 42);
    let page = dir.path().join("report.html");
    let t = Instant::now();
    htdiag::report::html::write_html(&result, &page).unwrap();
    let build = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&page).unwrap().len();
    let d = Driver::start(&chromium, &chromedriver, &dir.path().join("profile"));
    d.goto(&page);
    let nav = d.script(
        "var n=performance.getEntriesByType('navigation')[0];\
         return [n.domContentLoadedEventEnd, n.loadEventEnd];",
    );
    let draw = d.script(
        "history.replaceState(null,'','#plot-250');var t=performance.now();\
         window.dispatchEvent(new HashChangeEvent('hashchange'));return performance.now()-t;",
    );
    let sort = d.script(
        "var t=performance.now();document.querySelector(\"th[data-key='alpha']\").click();\
         return performance.now()-t;",
    );
    let parse = d.script(
        "var t=performance.now();JSON.parse(document.getElementById('plot-data').textContent);\
         return [performance.now()-t, document.getElementsByTagName('*').length];",
    );
    assert!(severe(&d.console()).is_empty());
    println!(
        "JSON.parse of the plot data {} ms; {} DOM elements",
        parse[0], parse[1]
    );
    println!(
        "500 layers: page {:.2} MB built in {build:.2} s; DOMContentLoaded {} ms, load {} ms; \
         one layer's plots drawn in {draw} ms; sort by alpha {sort} ms",
        size as f64 / 1e6,
        nav[0],
        nav[1]
    );
}

#[test]
fn report_loads_without_console_errors_sorts_on_click_and_draws_plots() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut result = htdiag::report::synthetic::model(40, 17);
    // A small layer (12 eigenvalues): a low-confidence fit.
    result.layers.push(htdiag::report::synthetic::layer(
        41,
        &htdiag::report::synthetic::SyntheticLayer {
            name: "model.head.weight".into(),
            m: 12,
            q: 2.0,
            tail_alpha: 1.8,
            seed: 5,
            with_mp: false,
            with_randomized: false,
        },
    ));
    result.summary = htdiag::metrics::summary(&result.layers, result.skipped.len());
    let page = dir.path().join("report.html");
    htdiag::report::html::write_html(&result, &page).unwrap();
    let profile = dir.path().join("profile");
    let d = Driver::start(&chromium, &chromedriver, &profile);

    // Negative control: the console check sees a script error when there is one.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><script>htdiagNoSuchFunction();</script>",
    )
    .unwrap();
    d.goto(&broken);
    assert!(
        !severe(&d.console()).is_empty(),
        "the console check does not see errors"
    );

    d.goto(&page);
    let errors = severe(&d.console());
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let rows = d.script("return document.querySelectorAll('#layer-table tbody tr').length;");
    assert_eq!(rows, json!(result.layers.len()));

    // Click "alpha": ascending, rows without alpha last; click again: descending.
    let before = column_values(&d, "alpha");
    d.click("#layer-table th[data-key='alpha']");
    let asc = column_values(&d, "alpha");
    let mut expect: Vec<f64> = before.iter().flatten().copied().collect();
    expect.sort_by(f64::total_cmp);
    let got: Vec<f64> = asc.iter().flatten().copied().collect();
    assert_eq!(got, expect, "ascending sort by click");
    assert!(
        asc.iter().skip(expect.len()).all(Option::is_none),
        "empty cells last"
    );
    assert_ne!(asc, before, "the click changed the order");
    d.click("#layer-table th[data-key='alpha']");
    let desc: Vec<f64> = column_values(&d, "alpha").into_iter().flatten().collect();
    expect.reverse();
    assert_eq!(desc, expect, "descending sort on the second click");

    // Filter: over-trained rows only.
    d.script("var s=document.getElementById('filter-kind');s.value='over';s.dispatchEvent(new Event('change'));return 0;");
    let shown = d.script("return [].slice.call(document.querySelectorAll('#layer-table tbody tr')).filter(function(r){return !r.hidden;}).length;");
    assert_eq!(shown, json!(result.summary.over_trained));
    d.script("var s=document.getElementById('filter-kind');s.value='';s.dispatchEvent(new Event('change'));return 0;");

    // The status column shows what the terminal shows: the warning for over-/under-trained
    // rows, "low confidence (N eigenvalues)" for fits on fewer than 20 eigenvalues or
    // depthwise convolutions, else the status. Keyed by row id (L + layer_id).
    let shown = d.script(
        "var o={};document.querySelectorAll('#layer-table tbody tr').forEach(function(r){\
           var ths=[].slice.call(document.querySelectorAll('#layer-table thead th'));\
           var c=ths.findIndex(function(t){return t.dataset.key==='status';});\
           o[r.id]=r.cells[c].textContent;});return o;",
    );
    let mut kinds = std::collections::BTreeSet::new();
    for l in &result.layers {
        let low = l.status == htdiag::result::LayerStatus::Success
            && (l.num_evals < 20
                || (l.layer_type == htdiag::result::LayerType::Conv2d && l.shape[1] == 1));
        let warning = l.metrics.as_ref().map_or("", |m| m.warning.as_str());
        let want = match l.status {
            htdiag::result::LayerStatus::Success if low => {
                format!("low confidence ({} eigenvalues)", l.num_evals)
            }
            htdiag::result::LayerStatus::Success if !warning.is_empty() => warning.to_string(),
            s => s.as_str().to_string(),
        };
        let key = format!(
            "row-L{:04}{}",
            l.layer_id,
            l.slice_id.map_or(String::new(), |s| format!("s{s}"))
        );
        assert_eq!(shown[&key], json!(want), "{key}");
        kinds.insert(want.split(' ').next().unwrap().to_string());
    }
    assert!(
        kinds.contains("over-trained") && kinds.contains("low"),
        "{kinds:?}"
    );
    // At 1400 px the table keeps the plots link and the status in view (no scrolling).
    let right = d.script(
        "var r=document.querySelector('#layer-table tbody tr');var ths=[].slice.call(\
           document.querySelectorAll('#layer-table thead th'));var c=ths.findIndex(\
           function(t){return t.dataset.key==='status';});\
         return [r.querySelector('a').getBoundingClientRect().right,\
                 r.cells[c].getBoundingClientRect().right, window.innerWidth];",
    );
    let right: Vec<f64> = serde_json::from_value(right).unwrap();
    assert!(
        right[2] <= 1400.0 && right[0] < right[2] && right[1] < right[2],
        "{right:?}"
    );

    // A row's plots link draws its plots; the anchor is the row's layer_id (as in PNG names).
    d.click("#row-L0001 a");
    let n_svg = d.wait_count("document.querySelectorAll('#lp-grid svg').length", 6);
    assert!(n_svg >= 6, "plots drawn: {n_svg}");
    let visible = d.script("return !document.getElementById('layer-plots').hidden;");
    assert_eq!(visible, json!(true));
    let hash = d.script("return location.hash;");
    assert_eq!(hash, json!("#plot-L0001"));
    let errors = severe(&d.console());
    assert!(errors.is_empty(), "console errors after clicks: {errors:?}");

    // Legends sit outside the data area: in every drawn plot, each legend text ends above the
    // top of the clipped data rectangle.
    let overlaps = d.script(
        "var bad=[],above=0;document.querySelectorAll('#lp-grid svg').forEach(function(svg){\
           var clip=svg.querySelector('clipPath rect');var top=+clip.getAttribute('y');\
           svg.querySelectorAll(':scope > text').forEach(function(t){\
             if(t.getAttribute('text-anchor')==='end'||t.hasAttribute('transform'))return;\
             var b=t.getBBox();var y=b.y+b.height;\
             if(b.y>20&&b.y<top){above++;if(y>top)bad.push(t.textContent);} });});return [bad,above];",
    );
    assert_eq!(overlaps[0], json!([]), "legend text over the data area");
    assert!(
        overlaps[1].as_u64().unwrap() >= 6,
        "legend texts found above the data: {}",
        overlaps[1]
    );
    // The per-layer plots include the CCDF with its fitted line.
    let titles = d.script(
        "return [].map.call(document.querySelectorAll('#lp-grid svg > title'),function(t){return t.textContent;});",
    );
    assert!(
        titles
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().contains("CCDF")),
        "{titles}"
    );

    // Model plots: every point has a hover title naming its layer, and a click on a point
    // opens that layer's plots.
    let hover = d.script(
        "return [].map.call(document.querySelectorAll('#model svg .hot title'),function(t){return t.textContent;});",
    );
    let hover: Vec<String> = serde_json::from_value(hover).unwrap();
    let valid = result
        .layers
        .iter()
        .filter(|l| l.fit.is_some_and(|f| f.is_valid()))
        .count();
    assert!(
        hover.len() >= valid,
        "{} hover titles for {valid} alphas",
        hover.len()
    );
    assert!(
        hover[0].contains("model.layers.") && hover[0].contains("alpha = "),
        "{}",
        hover[0]
    );
    d.script("window.scrollTo(0,0);return 0;");
    d.click("#model svg .hot a:nth-of-type(3)");
    let title = d.wait_count(
        "(location.hash!=='#plot-L0001' && document.getElementById('lp-title').textContent.length)",
        1,
    );
    assert!(title > 0, "a click on a point opened a layer's plots");
    let shown = d.script("return document.getElementById('lp-title').textContent;");
    assert!(
        hover[2].starts_with(shown.as_str().unwrap()),
        "clicked {:?}, opened {shown}",
        hover[2]
    );

    // Screenshot of the top of the page.
    d.script("window.scrollTo(0,0);return 0;");
    let shot = b64decode(d.cmd("GET", "/screenshot", None).as_str().unwrap());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::write(&out, &shot).unwrap();
    let dec = png::Decoder::new(std::io::Cursor::new(&shot));
    let info = dec.read_info().expect("screenshot is a PNG").info().clone();
    assert!(
        info.width >= 800 && info.height >= 600,
        "{}x{}",
        info.width,
        info.height
    );

    // The compare page loads cleanly and draws an overlay on demand.
    let b = htdiag::report::synthetic::model(40, 18);
    let c = htdiag::compare::compare(&result, &b);
    let cpage = dir.path().join("compare.html");
    htdiag::report::compare_html::write_compare_html(&result, &b, &c, &cpage).unwrap();
    d.goto(&cpage);
    d.click("#row-3 a");
    let n_svg = d.wait_count("document.querySelectorAll('#lp-grid svg').length", 1);
    assert_eq!(n_svg, 1, "overlay drawn");
    // The overlay names both sources and draws both fitted lines.
    let legend = d.script("return document.querySelector('#lp-grid svg').textContent;");
    let legend = legend.as_str().unwrap();
    assert!(
        legend.contains("fit of A:") && legend.contains("fit of B:"),
        "{legend}"
    );
    // No '-0' tick anywhere on the page's plots.
    let ticks = d.script(
        "return [].filter.call(document.querySelectorAll('svg text'),function(t){return t.textContent.trim()==='-0';}).length;",
    );
    assert_eq!(ticks, json!(0));
    let errors = severe(&d.console());
    assert!(errors.is_empty(), "compare page console errors: {errors:?}");
}
