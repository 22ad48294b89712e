//! `.creds` files: the decorated user JWT and user nkey seed blocks.

use std::path::Path;

use super::AuthError;
use super::nkey::{KeyKind, KeyPair};

/// Parses the text of a NATS `.creds` file into the user JWT and the user key pair.
///
/// The file holds two decorated blocks, each opened by a line like
/// `-----BEGIN NATS USER JWT-----` and closed by `------END NATS USER JWT------`
/// (the second is `… USER NKEY SEED …`); the number of dashes varies and is
/// not checked, nor is the text between blocks. The JWT block is the one whose
/// label mentions `JWT` (else the first block not labelled as a seed); the seed
/// block is the one whose label mentions `SEED`, and failing that any line that
/// is a whole seed (`SU…`) is used. The seed must be a user seed.
pub fn parse_creds(text: &str) -> Result<(String, KeyPair), AuthError> {
    let blocks = decorated_blocks(text);
    let is_seed_label = |label: &str| label.contains("SEED");
    let jwt = blocks
        .iter()
        .find(|(label, _)| label.contains("JWT"))
        .or_else(|| blocks.iter().find(|(label, _)| !is_seed_label(label)))
        .map(|(_, body)| body.concat())
        .ok_or(AuthError::MissingJwt)?;
    if !is_jwt_shaped(&jwt) {
        return Err(AuthError::InvalidJwt);
    }
    let seed = blocks
        .iter()
        .find(|(label, _)| is_seed_label(label))
        .map(|(_, body)| body.concat())
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|line| line.len() == 58 && line.starts_with('S'))
                .map(str::to_owned)
        })
        .ok_or(AuthError::MissingSeed)?;
    let key = KeyPair::from_seed(&seed)?;
    if key.kind() != KeyKind::User {
        return Err(AuthError::NotUserSeed(key.kind()));
    }
    Ok((jwt, key))
}

/// Reads and parses a `.creds` file (see [`parse_creds`]).
pub fn load_creds(path: impl AsRef<Path>) -> Result<(String, KeyPair), AuthError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_creds(&text)
}

/// `(LABEL, trimmed non-empty lines)` of every complete `---BEGIN LABEL---` …
/// `---END …---` block, labels upper-cased.
fn decorated_blocks(text: &str) -> Vec<(String, Vec<&str>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        let line = line.trim();
        match marker(line) {
            Some(Marker::Begin(label)) => open = Some((label, Vec::new())),
            Some(Marker::End) => {
                if let Some(block) = open.take() {
                    blocks.push(block);
                }
            }
            None => {
                if let Some((_, body)) = open.as_mut()
                    && !line.is_empty()
                {
                    body.push(line);
                }
            }
        }
    }
    blocks
}

enum Marker {
    Begin(String),
    End,
}

/// A line of three or more dashes, `BEGIN label` or `END label`, three or more dashes.
fn marker(line: &str) -> Option<Marker> {
    if line.len() < 6 || !line.starts_with("---") || !line.ends_with("---") {
        return None;
    }
    let inner = line.trim_matches('-').trim().to_ascii_uppercase();
    if let Some(label) = inner.strip_prefix("BEGIN") {
        Some(Marker::Begin(label.trim().to_owned()))
    } else if inner.starts_with("END") {
        Some(Marker::End)
    } else {
        None
    }
}

/// Three non-empty base64url segments separated by dots (padding tolerated).
fn is_jwt_shaped(jwt: &str) -> bool {
    let segments: Vec<&str> = jwt.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        })
}
