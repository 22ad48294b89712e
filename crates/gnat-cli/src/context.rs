//! Contexts: natscli's named connection settings, in the same files natscli reads and writes,
//! so a user's existing contexts just work — `$XDG_CONFIG_HOME/nats` (else `~/.config/nats`),
//! one `context/<name>.json` per context and the selected one's name in `context.txt`.
//!
//! `--context NAME` (or the selected context) fills in every connection flag the command line
//! leaves out; `--server` and `NATS_URL` still win over the context's URL, as in natscli.
//! `gnat context add|ls|select|show|rm` manage the files; a context is written with natscli's
//! field names, and fields gnat does not use are kept as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::table::{Columns, Table};
use crate::term;

/// The string fields natscli writes in every context file, in its order.
const FIELDS: [&str; 21] = [
    "description",
    "url",
    "socks_proxy",
    "token",
    "user",
    "password",
    "creds",
    "nkey",
    "cert",
    "key",
    "ca",
    "nsc",
    "jetstream_domain",
    "jetstream_api_prefix",
    "jetstream_event_prefix",
    "inbox_prefix",
    "user_jwt",
    "user_seed",
    "color_scheme",
    "windows_cert_store",
    "windows_cert_match_by",
];

/// The context subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ContextCommand {
    /// Creates or updates a context from the connection flags given
    #[command(alias = "create", alias = "save")]
    Add(AddArgs),
    /// Lists the contexts (the selected one is marked with *)
    #[command(alias = "list", alias = "l")]
    Ls(LsArgs),
    /// Selects the context used when no --context is given
    #[command(alias = "switch", alias = "set")]
    Select(NameArg),
    /// Shows a context (the selected one without a name)
    #[command(alias = "info", alias = "view")]
    Show(ShowArgs),
    /// Removes a context
    #[command(alias = "remove")]
    Rm(RmArgs),
}

/// `gnat context add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The context name
    name: String,
    /// A description of the context
    #[arg(long)]
    description: Option<String>,
    /// Select the context too
    #[arg(long)]
    select: bool,
}

/// `gnat context ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Only the names
    #[arg(long)]
    names: bool,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// A context name.
#[derive(Debug, Args)]
pub(crate) struct NameArg {
    /// The context name
    name: String,
}

/// `gnat context show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The context name [default: the selected context]
    name: Option<String>,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat context rm`.
#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// The context name
    name: String,
    /// Remove without asking
    #[arg(short = 'f', long)]
    force: bool,
}

/// Where natscli keeps its configuration: `$XDG_CONFIG_HOME/nats`, else `$HOME/.config/nats`.
fn root() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("nats"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("nats")),
        None => Err(CliError::usage(
            "cannot find the context directory: neither XDG_CONFIG_HOME nor HOME is set",
        )),
    }
}

/// natscli's rule for names: not empty, no `..`, no `/` or `\`.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains("..") || name.contains(['/', '\\']) {
        return Err(CliError::usage(format!(
            "invalid context name {name:?}: it must not be empty or contain \"..\", \"/\" or \"\\\""
        )));
    }
    Ok(())
}

fn path_of(name: &str) -> Result<PathBuf> {
    validate_name(name)?;
    Ok(root()?.join("context").join(format!("{name}.json")))
}

/// The selected context's name, if one is selected.
fn selected() -> Result<Option<String>> {
    let path = root()?.join("context.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|s| !s.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::usage(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Reads context `name`.
fn load(name: &str) -> Result<Map<String, Value>> {
    let path = path_of(name)?;
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::usage(format!("unknown context {name:?}"))
        } else {
            CliError::usage(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(CliError::usage(format!(
            "{}: not a context (not a JSON object)",
            path.display()
        ))),
        Err(e) => Err(CliError::usage(format!(
            "{}: not a context: {e}",
            path.display()
        ))),
    }
}

/// Writes `data` to `path` through a temporary file and a rename, readable by the owner only.
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| CliError::other(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// A string field of a context (empty counts as absent).
fn text<'a>(ctx: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    ctx.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `~/x` → `$HOME/x`, as natscli expands paths in contexts.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Fills the connection flags the command line left out from `--context` or the selected
/// context (nothing when neither exists).
pub(crate) fn apply(conn: &mut ConnectionArgs) -> Result<()> {
    let name = match &conn.context {
        Some(n) => n.clone(),
        None => match selected()? {
            Some(n) => n,
            None => return Ok(()),
        },
    };
    let ctx = load(&name)?;
    let from_env = std::env::var("NATS_URL")
        .ok()
        .filter(|s| !s.trim().is_empty());
    if conn.server.is_none() && from_env.is_none() {
        conn.server = text(&ctx, "url").map(str::to_string);
    }
    let any_auth =
        conn.user.is_some() || conn.token.is_some() || conn.creds.is_some() || conn.nkey.is_some();
    if !any_auth {
        match (text(&ctx, "user"), text(&ctx, "password")) {
            (Some(u), Some(p)) => {
                conn.user = Some(u.to_string());
                conn.password = Some(p.to_string());
            }
            // natscli stores a bare user as a token.
            (Some(u), None) => conn.token = Some(u.to_string()),
            _ => {}
        }
        if conn.token.is_none() && conn.user.is_none() {
            conn.token = text(&ctx, "token").map(str::to_string);
        }
        if conn.token.is_none() && conn.user.is_none() {
            conn.creds = text(&ctx, "creds").map(expand_home);
            if conn.creds.is_none() {
                conn.nkey = text(&ctx, "nkey").map(expand_home);
            }
        }
    }
    if conn.tlscert.is_none()
        && conn.tlskey.is_none()
        && let (Some(c), Some(k)) = (text(&ctx, "cert"), text(&ctx, "key"))
    {
        conn.tlscert = Some(expand_home(c));
        conn.tlskey = Some(expand_home(k));
    }
    if conn.tlsca.is_none() {
        conn.tlsca = text(&ctx, "ca").map(expand_home);
    }
    if conn.js_domain.is_none() {
        conn.js_domain = text(&ctx, "jetstream_domain").map(str::to_string);
    }
    Ok(())
}

/// Runs `gnat context …` (with the connection flags as typed, not merged with a context).
pub(crate) fn run(conn: &ConnectionArgs, command: ContextCommand) -> Result<()> {
    match command {
        ContextCommand::Add(args) => add(conn, args),
        ContextCommand::Ls(args) => ls(args),
        ContextCommand::Select(NameArg { name }) => {
            load(&name)?;
            write_private(&root()?.join("context.txt"), name.as_bytes())?;
            show(ShowArgs {
                name: Some(name),
                json: false,
            })
        }
        ContextCommand::Show(args) => show(args),
        ContextCommand::Rm(args) => {
            let path = path_of(&args.name)?;
            load(&args.name)?;
            term::confirm(
                &format!("Really delete context {:?}", args.name),
                &format!("delete context {}", args.name),
                args.force,
            )?;
            std::fs::remove_file(&path)
                .map_err(|e| CliError::other(format!("cannot remove {}: {e}", path.display())))?;
            if selected()?.as_deref() == Some(args.name.as_str()) {
                let _ = std::fs::remove_file(root()?.join("context.txt"));
            }
            Ok(())
        }
    }
}

fn add(conn: &ConnectionArgs, args: AddArgs) -> Result<()> {
    let path = path_of(&args.name)?;
    let mut ctx = if path.exists() {
        load(&args.name)?
    } else {
        let mut m = Map::new();
        for f in FIELDS {
            m.insert(f.to_string(), json!(""));
        }
        m.insert("url".into(), json!(crate::conn::DEFAULT_SERVER));
        m.insert("tls_first".into(), json!(false));
        m
    };
    let path_text = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let set: [(&str, Option<String>); 10] = [
        ("description", args.description.clone()),
        ("url", conn.server.clone()),
        ("user", conn.user.clone()),
        ("password", conn.password.clone()),
        ("token", conn.token.clone()),
        ("creds", path_text(&conn.creds)),
        ("nkey", path_text(&conn.nkey)),
        ("cert", path_text(&conn.tlscert)),
        ("key", path_text(&conn.tlskey)),
        ("ca", path_text(&conn.tlsca)),
    ];
    for (field, value) in set {
        if let Some(v) = value {
            ctx.insert(field.to_string(), json!(v));
        }
    }
    if let Some(d) = &conn.js_domain {
        ctx.insert("jetstream_domain".into(), json!(d));
    }
    let text = serde_json::to_string_pretty(&Value::Object(ctx))
        .map_err(|e| CliError::other(e.to_string()))?;
    write_private(&path, text.as_bytes())?;
    if args.select {
        write_private(&root()?.join("context.txt"), args.name.as_bytes())?;
    }
    show(ShowArgs {
        name: Some(args.name),
        json: false,
    })
}

/// Every context, by name.
fn known() -> Result<BTreeMap<String, Map<String, Value>>> {
    let dir = root()?.join("context");
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(CliError::usage(format!(
                "cannot read {}: {e}",
                dir.display()
            )));
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        // An unreadable one is listed with an empty description rather than failing the list.
        let ctx = load(name).unwrap_or_default();
        out.insert(name.to_string(), ctx);
    }
    Ok(out)
}

fn ls(args: LsArgs) -> Result<()> {
    let contexts = known()?;
    let current = selected()?;
    if args.json {
        let list: Vec<Value> = contexts
            .iter()
            .map(|(name, ctx)| {
                let mut o = ctx.clone();
                o.insert("name".into(), json!(name));
                Value::Object(o)
            })
            .collect();
        return term::json(&Value::Array(list));
    }
    if args.names {
        let names: String = contexts.keys().map(|n| format!("{n}\n")).collect();
        return term::out(names.as_bytes());
    }
    if contexts.is_empty() {
        return term::outln("No known contexts");
    }
    let mut table = Table::new(&["Name", "Description"]).title("Known Contexts");
    for (name, ctx) in &contexts {
        let mut shown = name.clone();
        if current.as_deref() == Some(name.as_str()) {
            shown.push('*');
        }
        table.row(vec![
            shown,
            text(ctx, "description").unwrap_or("").to_string(),
        ]);
    }
    term::out(table.render().as_bytes())
}

fn show(args: ShowArgs) -> Result<()> {
    let name = match args.name {
        Some(n) => n,
        None => selected()?.ok_or_else(|| CliError::usage("no context is selected; name one"))?,
    };
    let ctx = load(&name)?;
    if args.json {
        let mut o = ctx.clone();
        o.insert("name".into(), json!(name));
        return term::json(&Value::Object(o));
    }
    let mut c = Columns::new(format!("NATS Configuration Context {name:?}"));
    c.field_if_some("Description", text(&ctx, "description"));
    c.field_if_some("Server URLs", text(&ctx, "url"));
    c.field_if_some("Username", text(&ctx, "user"));
    if let Some(p) = text(&ctx, "password") {
        c.field("Password", "*".repeat(p.chars().count()));
    }
    if let Some(t) = text(&ctx, "token") {
        c.field("Token", "*".repeat(t.chars().count()));
    }
    let file = |c: &mut Columns, label: &str, field: &str| {
        if let Some(p) = text(&ctx, field) {
            let state = if expand_home(p).is_file() {
                "OK"
            } else {
                "ERROR: file not found"
            };
            c.field(label, format!("{p} ({state})"));
        }
    };
    file(&mut c, "Credentials", "creds");
    file(&mut c, "NKey", "nkey");
    file(&mut c, "Certificate", "cert");
    file(&mut c, "Key", "key");
    file(&mut c, "CA", "ca");
    c.field_if_some("JetStream Domain", text(&ctx, "jetstream_domain"));
    c.field("Path", path_of(&name)?.display());
    term::out(c.render().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_natscli() {
        for good in ["a", "prod-east", "my ctx", "x.y"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "..", "a/b", "a\\b", "up..dir"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
