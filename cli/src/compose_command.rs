//! `dictamesh compose --config supergraph.yaml [--output FILE]`.

use std::path::PathBuf;

use anyhow::Context;
use dictamesh_router::compose::compose_config_file;

/// Arguments of `dictamesh compose`.
#[derive(clap::Args)]
pub struct ComposeArgs {
    /// Rover-style `supergraph.yaml` listing the subgraphs.
    #[arg(long, short)]
    config: PathBuf,
    /// Where to write the supergraph SDL (stdout by default).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Composes and writes the supergraph; hints go to stderr as warnings.
pub fn run(args: ComposeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let supergraph = runtime.block_on(compose_config_file(&args.config))?;
    for hint in &supergraph.hints {
        eprintln!("warning: {hint}");
    }
    match args.output {
        Some(path) => std::fs::write(&path, &supergraph.sdl)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", supergraph.sdl),
    }
    Ok(())
}
