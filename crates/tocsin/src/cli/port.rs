//! A start that fails because the port is taken says who holds it: most
//! often a Tocsin the user started earlier (`tocsin serve &` from the tour,
//! then `tocsin demo`), which "Address already in use" does not tell.

use std::time::Duration;

/// Whether the error chain holds an address-in-use error.
pub fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// A hint for `listen` being taken: a Tocsin server (it answers
/// `/readyz` with a `config_version`), or some other program.
pub async fn who_holds(listen: &str) -> String {
    let url = format!("{}/readyz", super::remote::listen_url(listen));
    crate::install_crypto_provider();
    let answer = async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ok()?;
        let v: serde_json::Value = client.get(&url).send().await.ok()?.json().await.ok()?;
        v.get("config_version").map(|_| ())
    };
    match answer.await {
        Some(()) => format!(
            "a Tocsin server is already running on {listen} (it answered /readyz): stop it \
             (`kill %1` if you started it with `tocsin serve &`) or choose another address with --listen"
        ),
        None => format!(
            "another program is listening on {listen}: stop it or choose another address with --listen"
        ),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_port_held_by_something_else_is_named_as_such() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        // Nothing answers there now: "another program" is the honest guess
        // (the bind failed a moment ago), and the hint names the address.
        let hint = super::who_holds(&addr).await;
        assert!(
            hint.starts_with("another program is listening on "),
            "{hint}"
        );
        assert!(hint.contains(&addr), "{hint}");
    }

    #[test]
    fn address_in_use_is_found_in_the_chain() {
        let io = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let e = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:9750");
        assert!(super::is_addr_in_use(&e));
        assert!(!super::is_addr_in_use(&anyhow::anyhow!("other")));
    }
}
