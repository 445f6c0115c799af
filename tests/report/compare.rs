//! `htdiag compare`: rows matched by name, deltas B - A, unmatched rows listed, CSV/JSON/text
//! views, and the compare page's plot data.

use htdiag::compare::{
    CompareOrder, METRICS, compare, metric_value, short_names, sort_matched, to_csv, to_json,
    to_text, to_text_top,
};
use htdiag::report::compare_data::{alpha_scatter, delta_series, esd_overlay};
use htdiag::report::synthetic;

fn pair() -> (
    htdiag::result::AnalysisResult,
    htdiag::result::AnalysisResult,
) {
    let a = synthetic::model(6, 1);
    let mut b = synthetic::model(6, 2);
    // B lost layer 2 and renamed layer 0.
    b.layers.remove(2);
    b.layers[0].name = "model.head.weight".into();
    (a, b)
}

#[test]
fn rows_match_by_name_with_deltas_b_minus_a() {
    let (a, b) = pair();
    let c = compare(&a, &b);
    assert_eq!(c.matched.len(), 4);
    assert_eq!(
        c.only_in_a,
        vec!["model.layers.0.mlp.weight", "model.layers.2.mlp.weight"]
    );
    assert_eq!(c.only_in_b, vec!["model.head.weight"]);
    for r in &c.matched {
        let (la, lb) = (&a.layers[r.index_a], &b.layers[r.index_b]);
        assert_eq!(la.name, r.name);
        assert_eq!(lb.name, r.name);
        for (k, m) in METRICS.iter().enumerate() {
            let p = r.metrics[k];
            assert_eq!(p.a, metric_value(la, m));
            assert_eq!(p.b, metric_value(lb, m));
            if let (Some(x), Some(y)) = (p.a, p.b) {
                assert_eq!(p.delta, Some(y - x));
            } else {
                assert_eq!(p.delta, None);
            }
        }
    }
    let alpha = c.matched[0].metric("alpha").unwrap();
    assert_eq!(alpha.a, Some(a.layers[1].fit.unwrap().alpha));
    assert_eq!(alpha.b, Some(b.layers[1].fit.unwrap().alpha));
}

#[test]
fn csv_json_and_text_views_hold_the_same_rows() {
    let (a, b) = pair();
    let c = compare(&a, &b);
    let csv = to_csv(&c);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + c.matched.len());
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header.len(), 4 + 3 * METRICS.len());
    assert_eq!(&header[4..7], &["alpha_a", "alpha_b", "alpha_delta"]);
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], c.matched[0].name);
    let alpha_delta: f64 = first[6].parse().unwrap();
    assert_eq!(Some(alpha_delta), c.matched[0].metrics[0].delta);
    let v: serde_json::Value = serde_json::from_str(&to_json(&c)).unwrap();
    assert_eq!(v["matched"].as_array().unwrap().len(), c.matched.len());
    assert_eq!(v["only_in_b"][0], "model.head.weight");
    let text = to_text(&c);
    assert!(text.contains("4 matched rows"));
    assert!(text.contains("2 rows only in A"));
    assert!(text.contains("model.head.weight"));
}

#[test]
fn compare_plot_data_comes_from_the_pairs_and_spectra() {
    let (a, b) = pair();
    let c = compare(&a, &b);
    let s = alpha_scatter(&c);
    let expect: Vec<(usize, f64, f64)> = c
        .matched
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let p = r.metric("alpha").unwrap();
            Some((i, p.a?, p.b?))
        })
        .collect();
    assert_eq!(s.points, expect);
    let d = delta_series(&c, "alpha");
    for &(i, v) in &d.points {
        assert_eq!(Some(v), c.matched[i].metrics[0].delta);
    }
    let r = &c.matched[0];
    let (la, lb) = (&a.layers[r.index_a], &b.layers[r.index_b]);
    let o = esd_overlay(la, lb, ["A", "B"]).unwrap();
    assert_eq!(o.hists[0].edges, o.hists[1].edges);
    assert_eq!(
        o.hists[0].counts.iter().sum::<u64>(),
        la.eigenvalues.len() as u64
    );
    assert_eq!(
        o.hists[1].counts.iter().sum::<u64>(),
        lb.eigenvalues.len() as u64
    );
    assert_eq!(
        o.hists[0].edges[0],
        la.eigenvalues[0].min(lb.eigenvalues[0])
    );
}

#[test]
fn compare_page_is_self_contained() {
    let (a, b) = pair();
    let c = compare(&a, &b);
    let html = htdiag::report::compare_html::render_compare_html(&a, &b, &c);
    assert!(html.contains("<svg"), "inline plots");
    assert!(html.contains("model.head.weight"));
    assert!(!html.contains("<script src"), "no external scripts");
    assert!(!html.contains("<link "), "no external stylesheets");
}

#[test]
fn sources_options_shapes_and_order_are_reported() {
    let (mut a, mut b) = pair();
    a.source = "runs/base/model.safetensors".into();
    b.source = "runs/tuned/model.safetensors".into();
    a.options["fit"] = serde_json::json!("clauset");
    b.options["fit"] = serde_json::json!("median");
    b.options["threads"] = serde_json::json!(99);
    let name = a.layers[3].name.clone();
    let ib = b.layers.iter().position(|l| l.name == name).unwrap();
    b.layers[ib].shape = vec![7, 9];
    let mut c = compare(&a, &b);
    assert_eq!(
        c.names,
        ["A: base/model.safetensors", "B: tuned/model.safetensors"]
    );
    assert_eq!(
        short_names("x/a.json", "y/b.json"),
        ["A: a.json", "B: b.json"]
    );
    // Only the fit differs; threads do not change the numbers.
    assert_eq!(c.option_differences.len(), 1, "{:?}", c.option_differences);
    assert_eq!(c.option_differences[0].0, "fit");
    let text = to_text(&c);
    assert!(
        text.contains("different options") && text.contains("fit: A \"clauset\", B \"median\""),
        "{text}"
    );
    assert!(
        text.contains("have different shapes") && text.contains("[7, 9] in B"),
        "{text}"
    );
    // Full headers, no abbreviations.
    assert!(
        text.contains("alpha_weighted") && text.contains("log_spectral_norm"),
        "{text}"
    );
    assert!(!text.contains("alpha_we_A"), "{text}");
    // Largest absolute alpha change first; rows without a delta last.
    sort_matched(&mut c, CompareOrder::Delta);
    let d: Vec<Option<f64>> = c
        .matched
        .iter()
        .map(|r| r.metric("alpha").unwrap().delta.map(f64::abs))
        .collect();
    let known: Vec<f64> = d.iter().flatten().copied().collect();
    assert!(known.windows(2).all(|w| w[0] >= w[1]), "{d:?}");
    assert!(d.iter().skip(known.len()).all(Option::is_none));
    sort_matched(&mut c, CompareOrder::Order);
    assert!(c.matched.windows(2).all(|w| w[0].index_a < w[1].index_a));
    // --top N shows N rows and says so.
    let top = to_text_top(&c, Some(2));
    assert!(top.contains("4 matched rows, 2 shown"), "{top}");
}
