//! Which server a client command (`send`, `explain`, `dry-run`,
//! `quarantine`) talks to, and with which token.
//!
//! A user running the demo on 9750 and their own server on 9751 must not
//! have their events land in the demo's store because a default port
//! answered, so the choice is explicit and every message names the server:
//! `--server` or `--config` on the command line, then `$TOCSIN_SERVER`,
//! then the default. Command-line options beat the environment, because
//! they were typed for this one call.

use std::path::PathBuf;

/// The options every client command shares (flattened into its arguments).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RemoteArgs {
    /// The server's base URL [default: $TOCSIN_SERVER, else --config's
    /// server.listen, else http://127.0.0.1:9750].
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// API token [default: --config's server.api_token, else $TOCSIN_API_TOKEN].
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// A config file: its server.listen says where the server is and its
    /// server.api_token (or ingest_token) how to authenticate.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

/// Where to send and how to authenticate, once resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Base URL without a trailing slash.
    pub server: String,
    pub token: Option<String>,
}

impl RemoteArgs {
    /// Resolves against the process environment.
    pub fn resolve(&self) -> Result<Remote, String> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// `env` reads `TOCSIN_SERVER`, `TOCSIN_API_TOKEN` and the config's
    /// `${VAR}` references (tests pass their own).
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Remote, String> {
        let from_config = match &self.config {
            Some(path) => Some(config_remote(path, env)?),
            None => None,
        };
        let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let server = nonempty(self.server.clone())
            .or_else(|| from_config.as_ref().map(|c| c.server.clone()))
            .or_else(|| nonempty(env("TOCSIN_SERVER")))
            .unwrap_or_else(|| super::DEFAULT_SERVER.to_string());
        let token = nonempty(self.token.clone())
            .or_else(|| from_config.and_then(|c| c.token))
            .or_else(|| nonempty(env("TOCSIN_API_TOKEN")));
        Ok(Remote {
            server: server.trim_end_matches('/').to_string(),
            token,
        })
    }
}

/// The server a config file describes: `server.listen` as a URL a client
/// can reach (a wildcard address becomes loopback), and its token.
fn config_remote(
    path: &std::path::Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Remote, String> {
    let loaded = crate::config::load_file(path, env);
    let Some(config) = loaded.config else {
        let first = loaded
            .diagnostics
            .iter()
            .find(|d| !d.warning)
            .map(ToString::to_string)
            .unwrap_or_else(|| format!("{}: cannot be loaded", path.display()));
        return Err(format!(
            "--config {}: the file has errors (run `tocsin check --config {}`): {first}",
            path.display(),
            path.display()
        ));
    };
    let token = [&config.server.api_token, &config.server.ingest_token]
        .into_iter()
        .find(|t| !t.is_empty())
        .cloned();
    Ok(Remote {
        server: listen_url(&config.server.listen),
        token,
    })
}

/// `0.0.0.0:9750` → `http://127.0.0.1:9750`, `[::]:9751` →
/// `http://[::1]:9751`; other addresses as they are.
pub fn listen_url(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let ip: std::net::IpAddr = if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
        }
        Ok(addr) => format!("http://{addr}"),
        Err(_) => format!("http://{listen}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tocsin.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn without_anything_the_default_server_and_no_token() {
        let r = RemoteArgs::default().resolve_with(&env(&[])).unwrap();
        assert_eq!(r.server, "http://127.0.0.1:9750");
        assert_eq!(r.token, None);
    }

    #[test]
    fn tocsin_server_and_the_token_variable_are_used() {
        let vars = [
            ("TOCSIN_SERVER", "http://127.0.0.1:9751/"),
            ("TOCSIN_API_TOKEN", "t-env"),
        ];
        let r = RemoteArgs::default().resolve_with(&env(&vars)).unwrap();
        assert_eq!(r.server, "http://127.0.0.1:9751");
        assert_eq!(r.token.as_deref(), Some("t-env"));
    }

    #[test]
    fn the_config_file_beats_the_environment_and_flags_beat_both() {
        let (_dir, path) =
            config_file("server:\n  listen: 0.0.0.0:9752\n  api_token: ${MY_TOKEN}\n");
        let vars = [
            ("TOCSIN_SERVER", "http://127.0.0.1:9751"),
            ("TOCSIN_API_TOKEN", "t-env"),
            ("MY_TOKEN", "t-config"),
        ];
        let args = RemoteArgs {
            config: Some(path.clone()),
            ..RemoteArgs::default()
        };
        let r = args.resolve_with(&env(&vars)).unwrap();
        assert_eq!(r.server, "http://127.0.0.1:9752");
        assert_eq!(r.token.as_deref(), Some("t-config"));
        let args = RemoteArgs {
            server: Some("http://127.0.0.1:9753".into()),
            token: Some("t-flag".into()),
            config: Some(path),
        };
        let r = args.resolve_with(&env(&vars)).unwrap();
        assert_eq!(r.server, "http://127.0.0.1:9753");
        assert_eq!(r.token.as_deref(), Some("t-flag"));
    }

    #[test]
    fn a_config_with_errors_is_refused_naming_the_file_and_the_problem() {
        let (_dir, path) = config_file("server:\n  listen: [nope\n");
        let args = RemoteArgs {
            config: Some(path.clone()),
            ..RemoteArgs::default()
        };
        let e = args.resolve_with(&env(&[])).unwrap_err();
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("tocsin check"), "{e}");
    }

    #[test]
    fn wildcard_listen_addresses_become_loopback() {
        assert_eq!(listen_url("0.0.0.0:9750"), "http://127.0.0.1:9750");
        assert_eq!(listen_url("[::]:9751"), "http://[::1]:9751");
        assert_eq!(listen_url("127.0.0.1:9752"), "http://127.0.0.1:9752");
        assert_eq!(listen_url("[::1]:9753"), "http://[::1]:9753");
    }
}
