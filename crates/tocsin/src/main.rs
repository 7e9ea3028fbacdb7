use clap::Parser;
use tracing_subscriber::EnvFilter;

// Ingest and delivery allocate many small, short-lived values (JSON trees,
// request buffers) across threads; mimalloc spends a fraction of glibc's time
// on them (measured with `scripts/vs-alertmanager.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs go to stderr: coloured only when stderr is a terminal (a file or a
/// journal gets plain text), JSON lines with `TOCSIN_LOG_FORMAT=json`.
fn init_logging() {
    use std::io::IsTerminal as _;
    let filter = EnvFilter::try_from_env("TOCSIN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match std::env::var("TOCSIN_LOG_FORMAT").as_deref() {
        Ok("json") => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Ok("text") | Ok("") | Err(_) => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            builder.with_ansi(false).init();
            tracing::warn!(
                value = other,
                "TOCSIN_LOG_FORMAT is neither `text` nor `json`; using text"
            );
        }
    }
}

fn main() {
    tocsin::install_crypto_provider();
    init_logging();
    let cli = tocsin::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(tocsin::cli::run(cli));
    // Everything was stopped inside the shutdown's deadline; what is left
    // (idle connections of the HTTP client pool) need not be waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(250));
    std::process::exit(code);
}
