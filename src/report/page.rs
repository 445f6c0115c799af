//! Building blocks of the self-contained HTML pages: escaping, the page shell with the inline
//! stylesheet and script, plot data embedded as compact JSON, and inline SVG. Nothing is
//! loaded from the network: a page works offline and can be mailed as one file.

use serde::Serialize;
use serde_json::Value;

use super::draw::{Plot, to_svg, to_svg_with_points};

/// The page's stylesheet (inlined).
pub const CSS: &str = include_str!("assets/report.css");
/// The page's script: chart builder, table sorting and filtering (inlined).
pub const JS: &str = include_str!("assets/report.js");

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Rounds every number in `v` to 4 significant digits (plot data only: keeps a 500-layer page
/// small; the exact values stay in the result JSON).
pub fn round_json(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(0.0);
            let r: f64 = format!("{x:.3e}").parse().unwrap_or(x);
            serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(round_json).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, round_json(v))).collect()),
        other => other,
    }
}

/// Keys of the plot data the page's script does not draw (raw counts, file stems); left out of
/// the page to keep it small.
pub const UNUSED_KEYS: [&str; 4] = ["counts", "total", "stem", "candidates"];

fn drop_unused(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(drop_unused).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| !UNUSED_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k, drop_unused(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Serialises `data` (rounded, without [`UNUSED_KEYS`]) for a
/// `<script type="application/json">` element. `<` is written as `\u003c` so no string in the
/// data can close the element.
pub fn embed_json<T: Serialize>(data: &T) -> String {
    let v = serde_json::to_value(data).unwrap_or(Value::Null);
    serde_json::to_string(&round_json(drop_unused(v)))
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
}

/// A plot as inline SVG (the XML declaration, if any, removed), or an error note.
pub fn inline_svg(plot: &Plot) -> String {
    match to_svg(plot) {
        Ok(s) => match s.find("<svg") {
            Some(i) => s[i..].to_string(),
            None => s,
        },
        Err(e) => format!("<p class=\"error\">plot failed: {}</p>", esc(&e)),
    }
}

/// A plot as inline SVG whose data points carry a hover title and a link: `link(i)` gives
/// the `(anchor, title)` of point `i` (a row index); each point gets a transparent circle
/// `<a href="#anchor"><circle><title>title</title></circle></a>` over it.
pub fn inline_svg_linked(plot: &Plot, link: &dyn Fn(usize) -> (String, String)) -> String {
    let (svg, hot) = match to_svg_with_points(plot) {
        Ok(x) => x,
        Err(e) => return format!("<p class=\"error\">plot failed: {}</p>", esc(&e)),
    };
    let svg = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => &svg,
    };
    let mut spots = String::from("<g class=\"hot\">");
    for (i, x, y) in hot {
        let (anchor, title) = link(i);
        spots += &format!(
            "<a href=\"#{}\"><circle cx=\"{x}\" cy=\"{y}\" r=\"7\" fill=\"transparent\">\
             <title>{}</title></circle></a>",
            esc(&anchor),
            esc(&title)
        );
    }
    spots += "</g></svg>";
    match svg.rfind("</svg>") {
        Some(end) => format!("{}{spots}", &svg[..end]),
        None => svg.to_string(),
    }
}

/// Formats an optional number for a table cell: `(text, data-v)`.
pub fn num_cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!(
            "<td data-v=\"{x}\">{}</td>",
            esc(&super::layer_data::fmt_num(x))
        ),
        _ => "<td data-v=\"\"></td>".into(),
    }
}

/// Wraps a body into a complete page with the inline stylesheet, the plot data and the script.
pub fn page(title: &str, body: &str, data_json: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"htdiag {ver}\">\
         <title>{t}</title><style>{CSS}</style></head><body>\n{body}\n\
         <script type=\"application/json\" id=\"plot-data\">{data_json}</script>\n\
         <script>{JS}</script></body></html>\n",
        ver = env!("CARGO_PKG_VERSION"),
        t = esc(title),
    )
}
