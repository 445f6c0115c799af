//! The `htdiag` command line. All work happens in the library; this file only parses
//! arguments, dispatches to one module per subcommand, and turns errors into messages and
//! exit statuses.

mod allocate;
mod analyze;
mod analyze_out;
mod compare;
mod data_args;
mod env;
mod evaluate;
mod exit;
mod hints;
mod inspect;
mod merge;
mod output;
mod progress;
mod regularize;
mod report;
mod rules_args;
mod train;

use clap::{Parser, Subcommand};

/// Spectral diagnostics of neural-network checkpoints (heavy-tailed self-regularization),
/// compatible with WeightWatcher 0.7.6, and fine-tuning with heavy-tailed penalties.
#[derive(Parser)]
#[command(name = "htdiag", version, about, long_about = None, propagate_version = true,
    after_help = exit::EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
enum Command {
    /// Analyse a checkpoint's weight matrices (ESD, power-law alpha, norms, ...).
    #[command(alias = "analyse")]
    Analyze(analyze::Args),
    /// List a checkpoint's tensors (name, dtype, shape, parameters, file) from its headers.
    Inspect(inspect::Args),
    /// Per-layer sparsity (AlphaPruning), learning rates (TempBalance) or weight decay
    /// (AlphaDecay) from a checkpoint's spectra.
    Allocate(allocate::Args),
    /// Compare two saved analyses layer by layer (terminal table, JSON, CSV, HTML).
    Compare(compare::Args),
    /// Redraw the HTML report and PNG plots from a saved result JSON.
    Report(report::Args),
    /// Combine the --out folders of a sharded analysis (--shard K/N) into one result.
    #[command(after_help = "Example:
  htdiag merge parts/0 parts/1 parts/2 --json result.json --csv result.csv")]
    Merge(merge::Args),
    /// Show the numerical environment (BLAS kernel and threads, GPU adapters).
    Env(env::Args),
    /// Loss, accuracy and logits of a checkpoint (MLP or CNN) on a data set, in eval mode.
    #[command(after_help = "Examples:
  htdiag evaluate lenet5.safetensors --arch lenet5 --data mnist10k.safetensors --rows 8000..10000
  htdiag evaluate resnet.safetensors --arch resnet --data mnist10k.safetensors --logits 16 --json eval.json")]
    Evaluate(evaluate::Args),
    /// Train a network (MLP or CNN, from --arch or --init) on a data set, on the CPU or a GPU.
    #[command(after_help = "Examples:
  htdiag train --arch 784-300-100-10 --data mnist10k.safetensors --epochs 15 --out mlp.safetensors
  htdiag train --arch lenet5 --data mnist10k.safetensors --device cpu --epochs 15 --out lenet.safetensors
  htdiag train --init mlp.safetensors --data mnist10k.safetensors --device cpu --epochs 2 --out more.safetensors")]
    Train(train::Args),
    /// Fine-tune a checkpoint with and without a heavy-tailed penalty and compare accuracy
    /// and every layer's spectrum.
    #[command(after_help = "Examples:
  htdiag regularize mlp.safetensors --data mnist10k.safetensors --penalty weighted-alpha --mu 1e-3 --out-dir reg --report
  htdiag regularize mlp.safetensors --data mnist10k.safetensors --penalty stable-rank --baseline weight-decay --epochs 5 --out-dir reg-sr")]
    Regularize(regularize::Args),
}

fn main() -> std::process::ExitCode {
    env::quiet_window_system_probe();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if e.kind() == clap::error::ErrorKind::UnknownArgument
                && let Some(hint) = exit::mistake(&argv)
            {
                eprintln!("htdiag: error: {hint}");
                return std::process::ExitCode::from(2);
            }
            e.exit()
        }
    };
    let outcome: anyhow::Result<()> = match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Inspect(args) => inspect::run(args),
        Command::Allocate(a) => allocate::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Report(a) => report::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Env(a) => env::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Train(a) => train::run(a),
        Command::Regularize(a) => regularize::run(a),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("htdiag: error: {}", exit::message(&e));
            std::process::ExitCode::from(exit::status(&e))
        }
    }
}
