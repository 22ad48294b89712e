//! `gnat completions bash|zsh|fish` and `gnat man`: shell completions and man pages generated
//! from the same clap definitions that parse the command line, so neither can drift from the
//! flags.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use clap_complete::Shell as Generator;

use crate::error::{CliError, Result};
use crate::term;

/// The shells completions are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Shell {
    /// Bash (`source <(gnat completions bash)`)
    Bash,
    /// Zsh (save as `_gnat` on your `$fpath`)
    Zsh,
    /// Fish (save as `~/.config/fish/completions/gnat.fish`)
    Fish,
}

/// `gnat completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    shell: Shell,
}

/// `gnat man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `gnat.1` and one page per subcommand (`gnat-stream.1`, …) into this directory
    /// instead of printing `gnat.1`
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
}

/// Prints the completion script for `args.shell`.
pub(crate) fn completions(mut command: clap::Command, args: CompletionsArgs) -> Result<()> {
    let generator = match args.shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut command, "gnat", &mut script);
    term::out(&script)
}

/// Prints the man page, or writes all of them into a directory.
pub(crate) fn man(command: clap::Command, args: ManArgs) -> Result<()> {
    match args.output {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
            clap_mangen::generate_to(command, &dir)
                .map_err(|e| CliError::other(format!("writing into {}: {e}", dir.display())))?;
            Ok(())
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| CliError::other(e.to_string()))?;
            term::out(&page)
        }
    }
}
