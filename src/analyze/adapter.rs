//! The analysis of a LoRA adapter: one row per adapted module (its update `dW = s B A`,
//! `layer_type` lora), the adapter's other tensors analysed as any checkpoint's, and the
//! modules that cannot be analysed listed as skipped with their reasons.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::checkpoint::peft::Adapter;
use crate::error::{Error, Result};
use crate::plan::plan_adapter;
use crate::result::AnalysisResult;
use crate::spectrum::Lapack;

use super::{AnalyzeOptions, Observer, assemble, effective_threads, run_rows, worker_pool};

/// Analyses an adapter (see the module docs). `result.options.adapter` records the config
/// that set the ranks and scales.
pub fn analyze_adapter(
    adapter: &Adapter,
    opts: &AnalyzeOptions,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<AnalysisResult> {
    let wall = Instant::now();
    let planned = plan_adapter(adapter, &opts.plan);
    let ckpt = &adapter.checkpoint;
    let pool = worker_pool(opts.threads)?;
    let mut layers = pool.install(|| {
        planned
            .lora
            .par_iter()
            .with_max_len(1)
            .map(|p| super::lora_row::analyze_lora_row(p, ckpt, opts))
            .collect::<Vec<_>>()
    });
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(Error::Interrupted);
    }
    let plain = run_rows(
        ckpt,
        &planned.plain.layers,
        opts,
        &Lapack::default(),
        observer,
        cancel,
    )?;
    layers.extend(plain);
    let mut result = assemble(
        ckpt.source().display().to_string(),
        opts,
        layers,
        planned.plain.skipped,
        wall.elapsed().as_secs_f64(),
        effective_threads(opts.threads),
    );
    let c = &adapter.config;
    if let Some(o) = result.options.as_object_mut() {
        o.insert(
            "adapter".into(),
            serde_json::json!({
                "config": c.path.display().to_string(),
                "r": c.r,
                "lora_alpha": c.lora_alpha,
                "use_rslora": c.use_rslora,
                "rank_pattern": c.rank_pattern,
                "alpha_pattern": c.alpha_pattern,
                "fan_in_fan_out": c.fan_in_fan_out,
            }),
        );
    }
    Ok(result)
}
