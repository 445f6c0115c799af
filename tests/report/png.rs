//! `--png-dir`: every PNG decodes, has the size its plot kind promises, is not blank, and the
//! file names follow the documented pattern.

use htdiag::report::draw::plot_size;
use htdiag::report::layer_data::plots_of;
use htdiag::report::png::{layer_plot_list, model_plot_list, write_pngs};

fn decode(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = dec
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn every_png_decodes_with_the_expected_size_and_name() {
    let result = htdiag::report::synthetic::model(4, 3);
    let dir = tempfile::tempdir().unwrap();
    let files = write_pngs(&result, dir.path()).unwrap();

    // Expected names and sizes, from the plot lists of the same data.
    let model = htdiag::report::model_data::model_plots(&result);
    let mut expected: Vec<(String, (u32, u32))> = model_plot_list(&model)
        .iter()
        .map(|(k, p)| (format!("model_{k}.png"), plot_size(p)))
        .collect();
    for l in &result.layers {
        let plots = plots_of(&result, l);
        for (k, p) in layer_plot_list(&plots) {
            expected.push((format!("{}_{k}.png", plots.stem), plot_size(&p)));
        }
    }
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        expected.iter().map(|e| e.0.clone()).collect::<Vec<_>>()
    );
    for n in [
        "model_alpha.png",
        "model_alpha_hist.png",
        "L0001_model.layers.0.mlp.weight_esd_loglog.png",
        "L0001_model.layers.0.mlp.weight_esd_ccdf.png",
        "L0001_model.layers.0.mlp.weight_esd_linear.png",
        "L0001_model.layers.0.mlp.weight_esd_loglin.png",
        "L0001_model.layers.0.mlp.weight_ks_scan.png",
        "L0001_model.layers.0.mlp.weight_randomized.png",
        "L0001_model.layers.0.mlp.weight_mp.png",
        "L0002_model.layers.1.mlp.weight_esd_loglog.png",
    ] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    // The error row (last) has no spectrum, hence no per-layer PNG.
    assert!(!names.iter().any(|n| n.starts_with("L0004_")));

    for (path, (_, size)) in files.iter().zip(&expected) {
        let (w, h, px) = decode(path);
        assert_eq!((w, h), *size, "{}", path.display());
        // Not blank: some pixels differ from the white background.
        let non_white = px.chunks(3).filter(|c| c != &[255, 255, 255]).count();
        assert!(
            non_white > (w * h / 100) as usize,
            "{} looks blank",
            path.display()
        );
    }
    // Nothing else (no temporary files) in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), files.len());
}
