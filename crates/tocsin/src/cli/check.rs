use super::CheckArgs;
use crate::config;

/// The config's own problems, then (when it loads) the offline doctor
/// findings, all as `FILE:LINE: PATH: message` in file order. Exit 1 on any
/// error; warnings do not change the exit code.
pub fn run(args: CheckArgs) -> i32 {
    let loaded = config::load_file(&args.config, &config::process_env);
    let mut diagnostics = loaded.diagnostics;
    if let Some(c) = &loaded.config {
        diagnostics.extend(crate::doctor::diagnostics(
            &args.config.display().to_string(),
            c,
        ));
        // Stable: problems on one line keep the order they were found.
        diagnostics.sort_by_key(|d| d.line);
    }
    for d in &diagnostics {
        eprintln!("{d}");
    }
    let errors = diagnostics.iter().filter(|d| !d.warning).count();
    match loaded.config {
        Some(c) if errors == 0 => {
            println!("{}: ok ({})", args.config.display(), c.summary());
            0
        }
        _ => 1,
    }
}
