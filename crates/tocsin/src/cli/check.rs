use super::CheckArgs;
use crate::config;

pub fn run(args: CheckArgs) -> i32 {
    let loaded = config::load_file(&args.config, &config::process_env);
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    match loaded.config {
        Some(c) => {
            println!(
                "{}: ok ({} contacts, {} contact groups, {} notification policies, {} subscriptions)",
                args.config.display(),
                c.contacts.len(),
                c.contact_groups.len(),
                c.notification_policies.len(),
                c.subscriptions.len()
            );
            0
        }
        None => 1,
    }
}
