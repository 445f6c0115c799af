//! The `htdiag` command line. All work happens in the library; this file only parses
//! arguments, dispatches to one module per subcommand, and turns errors into messages.

mod analyze;
mod analyze_out;
mod compare;
mod env;
mod evaluate;
mod inspect;
mod merge;
mod regularize;
mod report;
mod train;

use clap::{Parser, Subcommand};

/// Spectral diagnostics of neural-network checkpoints (heavy-tailed self-regularization),
/// compatible with WeightWatcher 0.7.6, and fine-tuning with heavy-tailed penalties.
#[derive(Parser)]
#[command(name = "htdiag", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a checkpoint's weight matrices (ESD, power-law alpha, norms, ...).
    Analyze(analyze::Args),
    /// List a checkpoint's tensors (name, dtype, shape, parameters, file) from its headers.
    Inspect(inspect::Args),
    /// Compare two saved analyses layer by layer (terminal table, JSON, CSV, HTML).
    Compare(compare::Args),
    /// Redraw the HTML report and PNG plots from a saved result JSON.
    Report(report::Args),
    /// Combine the --out folders of a sharded analysis (--shard K/N) into one result.
    Merge(merge::Args),
    /// Show the numerical environment (BLAS kernel and threads).
    Env(env::Args),
    /// Loss, accuracy and logits of a checkpoint (MLP or CNN) on a data set, in eval mode.
    Evaluate(evaluate::Args),
    /// Train a network (MLP or CNN, from --arch or --init) on a data set, on the CPU or a GPU.
    Train(train::Args),
    /// Fine-tune a checkpoint with and without a heavy-tailed penalty and compare accuracy
    /// and every layer's spectrum.
    Regularize(regularize::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome: anyhow::Result<()> = match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Inspect(args) => inspect::run(args),
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
            eprintln!("htdiag: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
