use super::CheckArgs;
use crate::config;

pub fn run(args: CheckArgs) -> i32 {
    let loaded = config::load_file(&args.config, &config::process_env);
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    match loaded.config {
        Some(c) => {
            println!("{}: ok ({})", args.config.display(), c.summary());
            0
        }
        None => 1,
    }
}
