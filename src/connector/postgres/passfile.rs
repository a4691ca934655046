//! libpq's password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`): lines of
//! `hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaping,
//! the first matching line winning. As libpq, a file others can read is ignored (with a
//! warning), and `localhost` also matches a connection through the default Unix socket.

use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;
use tokio_postgres::Config;

/// The password for `config`'s first host, port, database and user from the password file:
/// `passfile` if given, else `PGPASSFILE`, else `~/.pgpass`.
pub(crate) fn lookup(passfile: Option<&str>, config: &Config) -> Option<String> {
    let path = match passfile {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("PGPASSFILE") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
        },
    };
    let text = readable(&path)?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) if p == Path::new("/var/run/postgresql") || p == Path::new("/tmp") => {
            "localhost".into()
        }
        Some(Host::Unix(p)) => p.to_string_lossy().into_owned(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user()?.to_string();
    let dbname = config.get_dbname().unwrap_or(&user).to_string();
    find(&text, [&host, &port, &dbname, &user])
}

/// The file's text, unless it cannot be read or others may read it.
fn readable(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                "password file \"{}\" has group or world access; permissions should be u=rw \
                 (0600) or less: it is ignored",
                path.display()
            );
            return None;
        }
    }
    std::fs::read_to_string(path).ok()
}

/// The password of the first line of `text` whose four fields match `want`.
fn find(text: &str, want: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(want)
                .all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4..].join(":"))
        })
}

/// Splits a line at unescaped `:`, removing the escapes.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:shop:alice:first\n\
                    *:*:shop:alice:second\n\
                    *:*:*:bob:b\\:c\\\\d\n\
                    localhost:6543:*:*:local\n";
        assert_eq!(
            find(text, ["db.example", "5432", "shop", "alice"]).as_deref(),
            Some("first")
        );
        assert_eq!(
            find(text, ["other", "5433", "shop", "alice"]).as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, ["h", "1", "x", "bob"]).as_deref(),
            Some("b:c\\d")
        );
        assert_eq!(
            find(text, ["localhost", "6543", "x", "carol"]).as_deref(),
            Some("local")
        );
        assert_eq!(find(text, ["h", "1", "x", "carol"]), None);
    }

    #[cfg(unix)]
    #[test]
    fn files_others_can_read_are_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:u:pw\n").unwrap();
        let config: Config = "postgresql://u@h:1/db".parse().unwrap();
        let file = path.to_str().unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(Some(file), &config).as_deref(), Some("pw"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(Some(file), &config), None);
        assert_eq!(lookup(Some("/nonexistent/pgpass"), &config), None);
    }
}
