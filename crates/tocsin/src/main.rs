use clap::Parser;
use tracing_subscriber::EnvFilter;

// Ingest and delivery allocate many small, short-lived values (JSON trees,
// request buffers) across threads; mimalloc spends a fraction of glibc's time
// on them (measured with `scripts/vs-alertmanager.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tocsin::install_crypto_provider();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("TOCSIN_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
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
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}
