//! `htdiag analyze ADAPTER [--base CHECKPOINT]`: a PEFT LoRA adapter's updates, one row per
//! module, and with a base the merged weights compared with the base's.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use htdiag::analyze::{AnalyzeOptions, MergedAnalysis, Silent, analyze_adapter, analyze_merged};
use htdiag::checkpoint::OpenOptions;
use htdiag::checkpoint::peft::Adapter;
use htdiag::compare::{CompareOrder, compare, sort_matched, to_text_top};
use htdiag::result::{AnalysisResult, LayerType};

use super::Args;
use crate::exit::Usage;
use crate::output::{self, Written};
use crate::progress::Progress;

/// Analyses the adapter whose config and weights `peft::find` returned.
pub fn run(
    args: &Args,
    opts: &AnalyzeOptions,
    config: &Path,
    weights: &Path,
) -> anyhow::Result<()> {
    if args.out.is_some() {
        return Err(Usage(
            "--out/--resume/--shard are for large checkpoints; a LoRA adapter is analysed in \
             one go (its updates are computed from the small factors)"
                .into(),
        )
        .into());
    }
    output::check(
        &[
            ("--json", args.json.as_deref()),
            ("--csv", args.csv.as_deref()),
            ("--report", args.report.as_deref()),
            ("--base-json", args.base_json.as_deref()),
            ("--merged-json", args.merged_json.as_deref()),
        ],
        &[],
    )?;
    let adapter = Adapter::open(
        config,
        weights,
        &OpenOptions {
            key: args.key.clone(),
        },
    )?;
    if !args.quiet {
        let c = &adapter.config;
        eprintln!(
            "htdiag: LoRA adapter {}: {} modules, r = {}, lora_alpha = {}{}{} ({})",
            weights.display(),
            adapter.modules.len(),
            c.r,
            c.lora_alpha,
            if c.use_rslora {
                ", rsLoRA scale alpha/sqrt(r)"
            } else {
                ""
            },
            if c.rank_pattern.is_empty() && c.alpha_pattern.is_empty() {
                ""
            } else {
                ", per-module rank/alpha patterns"
            },
            config.display()
        );
    }
    let cancel = AtomicBool::new(false);
    let mut result = analyze_adapter(&adapter, opts, &Silent, Some(&cancel))?;
    let merged = match &args.base {
        Some(b) => {
            let base = crate::hints::open_checkpoint(b, None, args.quiet)?;
            let progress = Progress::new(args.quiet);
            let m = analyze_merged(&adapter, &base, opts, &progress, Some(&cancel));
            progress.finish();
            let m = m?;
            copy_new_directions(&mut result, &m.merged);
            Some(m)
        }
        None => None,
    };
    let strict = super::finish(result, args);
    if let Some(m) = &merged {
        report_merged(m, args)?;
    }
    strict
}

/// Gives each update row the new-direction count of its merged weight.
fn copy_new_directions(result: &mut AnalysisResult, merged: &AnalysisResult) {
    for row in result.layers.iter_mut() {
        if row.layer_type != LayerType::Lora {
            continue;
        }
        let Some(info) = row.adapter.as_mut() else {
            continue;
        };
        let found = merged
            .layers
            .iter()
            .filter_map(|l| l.adapter.as_ref())
            .find(|a| a.module == info.module);
        if let Some(a) = found {
            info.new_directions = a.new_directions.clone();
        }
    }
}

/// Prints W0 against W0 + dW (compare's table) and the new directions; writes the two
/// results for `htdiag compare`.
fn report_merged(m: &MergedAnalysis, args: &Args) -> anyhow::Result<()> {
    if !args.quiet {
        let mut c = compare(&m.base, &m.merged);
        sort_matched(&mut c, CompareOrder::Name);
        let mut text = format!(
            "\nbase weights W0 (A) against merged W0 + dW (B):\n{}",
            to_text_top(&c, None)
        );
        let counted: Vec<_> = m
            .merged
            .layers
            .iter()
            .filter(|l| l.slice_id.unwrap_or(0) == 0)
            .filter_map(|l| Some((l, l.adapter.as_ref()?.new_directions.as_ref()?)))
            .collect();
        if !counted.is_empty() {
            let total: usize = counted.iter().map(|(_, n)| n.count).sum();
            text += &format!(
                "\nnew directions: {total} of the merged weights' top-r left singular vectors \
                 have |cosine| < {} with every left singular vector of W0\n",
                counted[0].1.threshold
            );
            for (l, n) in counted.iter().filter(|(_, n)| n.count > 0) {
                text += &format!("  {}: {} of {}\n", l.name, n.count, n.k);
            }
        }
        output::show(
            &text,
            &[
                args.json.as_deref(),
                args.csv.as_deref(),
                args.report.as_deref(),
                args.base_json.as_deref(),
                args.merged_json.as_deref(),
            ],
        );
    }
    let mut written = Written::default();
    for (flag, path, r) in [
        ("--base-json", &args.base_json, &m.base),
        ("--merged-json", &args.merged_json, &m.merged),
    ] {
        if let Some(p) = path {
            let text = htdiag::report::json::to_json(r)?;
            output::emit(p, text.as_bytes()).with_context(|| format!("writing {flag}"))?;
            written.file(p);
        }
    }
    written.announce(args.quiet);
    Ok(())
}
