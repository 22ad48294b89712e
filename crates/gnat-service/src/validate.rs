//! Validation of what a service is configured with, before anything is sent (ADR-32 "Design",
//! "Groups", "Endpoints"; SemVer 2.0.0 for versions, ADR-32 revision 3).

use crate::error::{Error, ErrorKind, Result};

/// A service or endpoint name: one or more of `A-Z a-z 0-9 - _`.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidName,
            format!(
                "invalid {what} name {name:?}: it must be one or more of A-Z, a-z, 0-9, '-' and '_'"
            ),
        ))
    }
}

/// A version: SemVer 2.0.0 (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`).
pub fn validate_version(version: &str) -> Result<()> {
    if is_semver(version) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidVersion,
            format!("invalid version {version:?}: it must be a SemVer string such as 1.0.0"),
        ))
    }
}

fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut parts = core.split('.');
    let core_ok =
        (0..3).all(|_| parts.next().is_some_and(is_numeric_identifier)) && parts.next().is_none();
    let pre_ok = pre.is_none_or(|p| {
        p.split('.').all(|id| {
            is_alphanumeric_identifier(id)
                && (!id.bytes().all(|b| b.is_ascii_digit()) || is_numeric_identifier(id))
        })
    });
    let build_ok = build.is_none_or(|b| b.split('.').all(is_alphanumeric_identifier));
    core_ok && pre_ok && build_ok
}

/// `0` or a number without leading zeros.
fn is_numeric_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// One or more of `0-9 A-Z a-z -`.
fn is_alphanumeric_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A group prefix: a valid subject without `>` (ADR-32 "Groups").
pub(crate) fn validate_group(prefix: &str) -> Result<()> {
    if prefix.contains('>') {
        return Err(Error::new(
            ErrorKind::InvalidSubject,
            format!("invalid group {prefix:?}: a group is a subject prefix and cannot hold '>'"),
        ));
    }
    client::proto::validate_subscribe_subject(prefix).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSubject,
            format!("invalid group {prefix:?}: {e}"),
        )
    })
}

/// An endpoint's full subject: a valid subscription subject (`*` anywhere, `>` last).
pub(crate) fn validate_endpoint_subject(subject: &str) -> Result<()> {
    client::proto::validate_subscribe_subject(subject).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSubject,
            format!("invalid endpoint subject {subject:?}: {e}"),
        )
    })
}

/// A queue group name.
pub(crate) fn validate_queue_group(queue: &str) -> Result<()> {
    client::proto::validate_queue_group(queue).map_err(|e| {
        Error::new(
            ErrorKind::InvalidQueueGroup,
            format!("invalid queue group {queue:?}: {e}"),
        )
    })
}

/// A single subject token used in a discovery subject (a service name or an instance id).
pub(crate) fn validate_token(what: &str, token: &str) -> Result<()> {
    if token.is_empty()
        || token.bytes().any(|b| {
            matches!(b, b'.' | b'*' | b'>') || b.is_ascii_whitespace() || b.is_ascii_control()
        })
    {
        return Err(Error::new(
            ErrorKind::InvalidName,
            format!("invalid {what} {token:?}: it must be one subject token without wildcards"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_follows_the_grammar() {
        for ok in [
            "0.0.0",
            "1.2.3",
            "10.20.30",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-0.3.7",
            "1.0.0-x.7.z.92",
            "1.0.0-x-y-z.--",
            "1.0.0+20130313144700",
            "1.0.0-beta+exp.sha.5114f85",
            "1.0.0+21AF26D3----117B344092BD",
            "1.0.0-alpha0.valid",
            "1.0.0-rc.1+build.01",
        ] {
            assert!(is_semver(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.1.1",
            "1.01.1",
            "1.1.01",
            "1.2.3-0123",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-alpha..1",
            "1.2.3-alpha_1",
            "v1.2.3",
            "1.2.3 ",
            "+invalid",
            "-invalid",
            "1.2.3-+",
            "a.b.c",
        ] {
            assert!(!is_semver(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn names_are_alphanumeric_dash_underscore() {
        for ok in ["a", "Echo", "my-svc_2", "-", "_"] {
            validate_name("service", ok).unwrap();
        }
        for bad in ["", "a.b", "a b", "a*", "a>", "é", "a\r\n"] {
            let e = validate_name("service", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidName, "{bad:?}");
        }
    }

    #[test]
    fn groups_refuse_the_full_wildcard() {
        validate_group("a.b").unwrap();
        validate_group("a.*").unwrap();
        assert_eq!(
            validate_group("a.>").unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
        assert_eq!(
            validate_group("a b").unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
        assert_eq!(
            validate_group("a..b").unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
    }
}
