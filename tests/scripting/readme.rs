//! The README's scripting examples, run as the script they are, so they
//! cannot drift from what the commands do.

use std::path::Path;

use crate::support::{ADMIN_TOKEN, Server, run};

/// The first `sh` block of the README's "Scripting" section.
fn examples() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("\n## Scripting\n")
        .nth(1)
        .expect("a Scripting section");
    let block = section.split("```sh\n").nth(1).expect("an sh block");
    block.split("\n```").next().unwrap().to_owned()
}

#[test]
fn the_readme_examples_run_as_written() {
    let server = Server::start();
    let mut script = String::from("set -euo pipefail\n");
    for line in examples().lines() {
        // The test's own server and token stand in for the exported ones.
        if line.starts_with("export KEYDESK_") {
            continue;
        }
        if line.contains("# follows until Ctrl-C") {
            let command = line.split('#').next().unwrap().trim();
            script.push_str(&format!("timeout 3 {command} || [ $? -eq 124 ]\n"));
        } else {
            script.push_str(line);
            script.push('\n');
        }
    }
    let bin_dir = Path::new(crate::support::BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", server.home())
        .env("XDG_CONFIG_HOME", server.home().join("config"))
        .env("KEYDESK_SERVER", &server.url)
        .env("KEYDESK_TENANT", "acme")
        .env("KEYDESK_TOKEN", ADMIN_TOKEN)
        .current_dir(server.home());
    let ran = run(bash, None);
    assert_eq!(
        ran.code, 0,
        "the README's examples failed:\n{script}\n{ran:?}"
    );
    // They did what they say.
    let keys = server.run(&["keys", "list", "-o", "json"]).json();
    let status = |name: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {keys}"))["status"]
            .clone()
    };
    assert_eq!(status("partner-feed"), "revoked");
    assert_eq!(status("bo-ci"), "revoked");
    assert!(
        ran.stdout.contains("would revoke") || ran.stderr.contains("would revoke"),
        "{ran:?}"
    );
    assert!(
        std::fs::read_to_string(server.home().join("bo.token"))
            .unwrap()
            .starts_with("kdm_")
    );
}
