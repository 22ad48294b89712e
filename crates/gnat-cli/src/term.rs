//! The terminal: writing results to stdout (a closed pipe ends the command quietly), reading
//! values from stdin, and asking for confirmation.

use std::io::{IsTerminal, Read, Write};

use serde_json::Value;

use crate::error::{CliError, Result};

/// Writes `bytes` to stdout and flushes, so that a reader of a pipe sees each line at once.
pub(crate) fn out(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

/// Writes `text` and a newline to stdout.
pub(crate) fn outln(text: &str) -> Result<()> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    out(line.as_bytes())
}

/// Writes `value` as indented JSON (one result).
pub(crate) fn json(value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::other(e.to_string()))?;
    outln(&text)
}

/// Writes `value` as one line of JSON (streams of results: watch, sub).
pub(crate) fn json_line(value: &Value) -> Result<()> {
    outln(&value.to_string())
}

/// Everything on stdin (until end of file).
pub(crate) fn read_stdin() -> Result<Vec<u8>> {
    tokio::task::block_in_place(|| {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::other(format!("reading stdin: {e}")))?;
        Ok(buf)
    })
}

/// Whether stderr is a terminal (progress lines are drawn only then).
pub(crate) fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Asks `question` on the terminal before doing `action` (`delete bucket B`), unless `force`.
/// Without a terminal on stdin it refuses (a usage error naming `-f`) rather than guessing; an
/// answer other than yes is a refusal too.
pub(crate) fn confirm(question: &str, action: &str, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing to {action} without confirmation: stdin is not a terminal (pass -f/--force)"
        )));
    }
    let answer = tokio::task::block_in_place(|| {
        eprint!("? {question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .map_err(|e| CliError::other(format!("reading the answer: {e}")))?;
    if is_yes(&answer) {
        Ok(())
    } else {
        Err(CliError::usage(format!("not confirmed: did not {action}")))
    }
}

/// Asks a yes/no `question` on the terminal; an empty answer is `default`.
pub(crate) fn ask_yes(question: &str, default: bool) -> Result<bool> {
    let answer = tokio::task::block_in_place(|| {
        eprint!("? {question} [{}] ", if default { "Y/n" } else { "y/N" });
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .map_err(|e| CliError::other(format!("reading the answer: {e}")))?;
    Ok(if answer.trim().is_empty() {
        default
    } else {
        is_yes(&answer)
    })
}

/// `y` or `yes`, any case.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert!(is_yes("y\n") && is_yes(" Yes ") && is_yes("YES"));
        assert!(!is_yes("") && !is_yes("n") && !is_yes("yep"));
    }

    #[test]
    fn force_skips_the_question() {
        confirm("Really?", "do it", true).unwrap();
    }
}
