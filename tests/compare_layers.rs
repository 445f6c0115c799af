//! `htdiag compare`: rows matched by name, deltas B - A, unmatched rows listed, CSV/JSON/text
//! views, and the compare page's plot data.

use htdiag::compare::{METRICS, compare, metric_value, to_csv, to_json, to_text};
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
    let expect: Vec<(f64, f64)> = c
        .matched
        .iter()
        .filter_map(|r| {
            let p = r.metric("alpha").unwrap();
            Some((p.a?, p.b?))
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
