//! Resolution against files in temporary directories and a made-up
//! environment: the process's own is never read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::*;

/// A configuration file holding `text` (mode 0600) and an environment
/// pointing at it.
struct Setup {
    dir: tempfile::TempDir,
    environment: Environment,
}

impl Setup {
    fn new(text: &str) -> Self {
        let setup = Self::without_file();
        write_private(&setup.path(), text);
        setup
    }

    fn without_file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let environment = Environment {
            config: Some(Location {
                path: dir.path().join("keydesk").join("config.toml"),
                named: false,
            }),
            vars: HashMap::new(),
            token_command_timeout: Duration::from_secs(10),
        };
        Self { dir, environment }
    }

    fn path(&self) -> PathBuf {
        self.environment.config.as_ref().unwrap().path.clone()
    }

    fn var(mut self, name: &str, value: &str) -> Self {
        self.environment
            .vars
            .insert(name.to_owned(), value.to_owned());
        self
    }

    fn resolve(&self, overrides: Overrides) -> CliResult<Resolved> {
        resolve_with(overrides, &self.environment)
    }

    fn error(&self, overrides: Overrides) -> String {
        match self.resolve(overrides) {
            Ok(resolved) => panic!("resolved, though it should not: {resolved:?}"),
            Err(err) => {
                assert!(matches!(err, CliError::Config(_)), "{err:?}");
                assert_eq!(err.exit_code(), 2);
                err.to_string()
            }
        }
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    set_mode(path, 0o600);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn flag<T>(value: T, name: &'static str) -> Option<Given<T>> {
    Some(Given::new(value, Source::Flag(name)))
}

fn env<T>(value: T, name: &'static str) -> Option<Given<T>> {
    Some(Given::new(value, Source::Env(name)))
}

fn secret(value: &str) -> Zeroizing<String> {
    Zeroizing::new(value.to_owned())
}

const PROFILE: &str = r#"
default_profile = "prod"

[profiles.prod]
server = "https://profile.example"
tenant = "profile-tenant"
token = "kdm_profile"
readonly = true
clipboard = "osc52"
clipboard_clear_seconds = 5
theme = "no-color"

[profiles.staging]
server = "https://staging.example"
"#;

#[test]
fn a_flag_beats_the_environment_which_beats_the_profile_which_beats_the_default() {
    let setup = Setup::new(PROFILE);

    let flags = setup
        .resolve(Overrides {
            server: flag("https://flag.example".to_owned(), "--server"),
            token: flag(secret("kdm_flag"), "--token"),
            tenant: flag("flag-tenant".to_owned(), "--tenant"),
            readonly: flag(false, "--readonly"),
            clipboard: flag(ClipboardMode::Native, "--clipboard"),
            clipboard_clear_seconds: flag(60, "--clipboard-clear-seconds"),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!(flags.server.as_ref().unwrap().value, "https://flag.example");
    assert_eq!(flags.server.unwrap().source, Source::Flag("--server"));
    assert_eq!(flags.token.as_ref().unwrap().value.as_str(), "kdm_flag");
    assert_eq!(flags.token.unwrap().source, Source::Flag("--token"));
    assert_eq!(flags.tenant.as_deref(), Some("flag-tenant"));
    assert!(!flags.readonly);
    assert_eq!(flags.clipboard, ClipboardMode::Native);
    assert_eq!(flags.clipboard_clear, Duration::from_secs(60));

    let environment = setup
        .resolve(Overrides {
            server: env("https://env.example".to_owned(), "KEYDESK_SERVER"),
            token: env(secret("kdm_env"), "KEYDESK_TOKEN"),
            tenant: env("env-tenant".to_owned(), "KEYDESK_TENANT"),
            readonly: env(false, "KEYDESK_READONLY"),
            clipboard: env(ClipboardMode::Off, "KEYDESK_CLIPBOARD"),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!(
        environment.server.unwrap().source,
        Source::Env("KEYDESK_SERVER")
    );
    let token = environment.token.unwrap();
    assert_eq!(token.value.as_str(), "kdm_env");
    assert_eq!(token.source, Source::Env("KEYDESK_TOKEN"));
    assert_eq!(environment.tenant.as_deref(), Some("env-tenant"));
    assert!(
        !environment.readonly,
        "KEYDESK_READONLY=false beats the profile"
    );
    assert_eq!(environment.clipboard, ClipboardMode::Off);
    // What nobody overrode still comes from the profile.
    assert_eq!(environment.clipboard_clear, Duration::from_secs(5));

    let profile = setup.resolve(Overrides::default()).unwrap();
    assert_eq!(profile.profile.as_deref(), Some("prod"));
    let server = profile.server.unwrap();
    assert_eq!(server.value, "https://profile.example");
    assert_eq!(server.source, Source::Profile("prod".to_owned()));
    let token = profile.token.unwrap();
    assert_eq!(token.value.as_str(), "kdm_profile");
    assert_eq!(token.source, Source::Profile("prod".to_owned()));
    assert_eq!(profile.tenant.as_deref(), Some("profile-tenant"));
    assert!(profile.readonly);
    assert_eq!(profile.clipboard, ClipboardMode::Osc52);
    assert!(!profile.color);

    // The staging profile says only its server: the rest is the default.
    let default = setup
        .resolve(Overrides {
            profile: flag("staging".to_owned(), "--profile"),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!(default.server.unwrap().value, "https://staging.example");
    assert!(default.token.is_none());
    assert!(default.tenant.is_none());
    assert!(!default.readonly);
    assert_eq!(default.clipboard, ClipboardMode::Auto);
    assert_eq!(default.clipboard_clear, DEFAULT_CLIPBOARD_CLEAR);
    assert!(default.color);
}

#[test]
fn no_color_in_the_environment_turns_colour_off_too() {
    let setup = Setup::new("[profiles.p]\ntheme = \"color\"\n").var("NO_COLOR", "1");
    let resolved = setup
        .resolve(Overrides {
            profile: flag("p".to_owned(), "--profile"),
            ..Overrides::default()
        })
        .unwrap();
    assert!(!resolved.color);
}

#[test]
fn the_profile_is_the_flag_then_keydesk_profile_then_default_profile() {
    let setup = Setup::new(
        r#"
default_profile = "a"
[profiles.a]
server = "https://a.example"
[profiles.b]
server = "https://b.example"
[profiles.c]
server = "https://c.example"
"#,
    );
    let server = |overrides| setup.resolve(overrides).unwrap().server.unwrap().value;
    assert_eq!(server(Overrides::default()), "https://a.example");
    assert_eq!(
        server(Overrides {
            profile: env("b".to_owned(), "KEYDESK_PROFILE"),
            ..Overrides::default()
        }),
        "https://b.example"
    );
    // A flag given after the command's name beats the variable: mod.rs's
    // `overrides` hands over the flag in that case.
    assert_eq!(
        server(Overrides {
            profile: flag("c".to_owned(), "--profile"),
            ..Overrides::default()
        }),
        "https://c.example"
    );
    // No default_profile and nothing asked: no profile at all.
    let setup = Setup::new("[profiles.a]\nserver = \"https://a.example\"\n");
    let resolved = setup.resolve(Overrides::default()).unwrap();
    assert!(resolved.profile.is_none());
    assert!(resolved.server.is_none());
}

#[test]
fn an_unknown_profile_names_the_file_and_the_profiles_it_has() {
    let setup = Setup::new(PROFILE);
    let message = setup.error(Overrides {
        profile: env("prdo".to_owned(), "KEYDESK_PROFILE"),
        ..Overrides::default()
    });
    let path = setup.path().display().to_string();
    assert!(message.contains("'prdo'"), "{message}");
    assert!(message.contains("KEYDESK_PROFILE"), "{message}");
    assert!(message.contains(&path), "{message}");
    assert!(message.contains("'prod', 'staging'"), "{message}");

    let setup = Setup::new("default_profile = \"gone\"\n");
    let message = setup.error(Overrides::default());
    assert!(
        message.contains("'gone'") && message.contains("default_profile"),
        "{message}"
    );
    assert!(message.contains("no profiles"), "{message}");
}

#[test]
fn without_a_file_flags_and_environment_still_work_but_a_profile_is_an_error() {
    let setup = Setup::without_file();
    let resolved = setup
        .resolve(Overrides {
            server: env("https://env.example".to_owned(), "KEYDESK_SERVER"),
            token: env(secret("kdm_env"), "KEYDESK_TOKEN"),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!(resolved.server.unwrap().value, "https://env.example");
    assert!(resolved.profile.is_none() && resolved.config_file.is_none());

    let message = setup.error(Overrides {
        profile: flag("prod".to_owned(), "--profile"),
        ..Overrides::default()
    });
    assert!(
        message.contains(&setup.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("'prod'") && message.contains("config init"),
        "{message}"
    );
}

#[test]
fn keydesk_config_naming_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let vars = HashMap::from([("KEYDESK_CONFIG".to_owned(), missing.display().to_string())]);
    let environment = Environment::new(vars, Some(dir.path()));
    let err = resolve_with(Overrides::default(), &environment).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("KEYDESK_CONFIG"), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
}

#[test]
fn the_file_is_keydesk_config_then_xdg_config_home_then_dot_config() {
    let home = Path::new("/home/ana");
    let vars = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let path = |pairs: &[(&str, &str)]| Location::find(&vars(pairs), Some(home)).map(|l| l.path);
    assert_eq!(
        path(&[
            ("KEYDESK_CONFIG", "/etc/kd.toml"),
            ("XDG_CONFIG_HOME", "/x")
        ]),
        Some(PathBuf::from("/etc/kd.toml"))
    );
    assert_eq!(
        path(&[("XDG_CONFIG_HOME", "/x")]),
        Some(PathBuf::from("/x/keydesk/config.toml"))
    );
    for ignored in [
        &[][..],
        &[("XDG_CONFIG_HOME", "")],
        &[("XDG_CONFIG_HOME", "rel")],
    ] {
        assert_eq!(
            path(ignored),
            Some(PathBuf::from("/home/ana/.config/keydesk/config.toml")),
            "{ignored:?}"
        );
    }
    assert_eq!(Location::find(&vars(&[]), None), None);
}

#[test]
fn token_env_reads_the_variable_the_profile_names() {
    let text = "[profiles.p]\nserver = \"https://p.example\"\ntoken_env = \"MY_TOKEN\"\n";
    let asked = || Overrides {
        profile: flag("p".to_owned(), "--profile"),
        ..Overrides::default()
    };
    let setup = Setup::new(text).var("MY_TOKEN", "kdm_from_var");
    let token = setup.resolve(asked()).unwrap().token.unwrap();
    assert_eq!(token.value.as_str(), "kdm_from_var");
    assert_eq!(
        token.source,
        Source::ProfileEnv {
            profile: "p".to_owned(),
            var: "MY_TOKEN".to_owned()
        }
    );
    assert_eq!(
        token.source.to_string(),
        "$MY_TOKEN (token_env of profile 'p')"
    );

    let setup = Setup::new(text);
    let message = setup.error(asked());
    assert!(
        message.contains("MY_TOKEN") && message.contains("'p'"),
        "{message}"
    );
    assert!(message.contains("not set"), "{message}");
    // A token from the environment makes the profile's unnecessary.
    let resolved = setup
        .resolve(Overrides {
            token: env(secret("kdm_env"), "KEYDESK_TOKEN"),
            ..asked()
        })
        .unwrap();
    assert_eq!(resolved.token.unwrap().value.as_str(), "kdm_env");
}

fn with_command(command: &str) -> Setup {
    Setup::new(&format!(
        "[profiles.p]\nserver = \"https://p.example\"\ntoken_command = '{command}'\n"
    ))
}

fn profile_p() -> Overrides {
    Overrides {
        profile: flag("p".to_owned(), "--profile"),
        ..Overrides::default()
    }
}

#[test]
fn token_command_output_trimmed_is_the_token() {
    let setup = with_command("printf \"  kdm_x\\n\"");
    let token = setup.resolve(profile_p()).unwrap().token.unwrap();
    assert_eq!(token.value.as_str(), "kdm_x");
    assert_eq!(
        token.source,
        Source::ProfileCommand {
            profile: "p".to_owned()
        }
    );
}

#[test]
fn a_failing_token_command_names_the_profile_and_its_exit_status_not_the_command() {
    let setup = with_command("printf kdm_secret_123; exit 3");
    let message = setup.error(profile_p());
    assert!(
        message.contains("token_command of profile 'p'"),
        "{message}"
    );
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(
        message.contains(&setup.path().display().to_string()),
        "{message}"
    );
    assert!(!message.contains("kdm_secret_123"), "{message}");
}

#[test]
fn a_token_command_that_prints_nothing_is_an_error() {
    let message = with_command("printf \"  \\n\"").error(profile_p());
    assert!(
        message.contains("token_command of profile 'p'"),
        "{message}"
    );
    assert!(message.contains("printed nothing"), "{message}");
}

#[test]
fn a_token_command_runs_only_when_a_token_is_needed() {
    let setup = Setup::without_file();
    let marker = setup.dir.path().join("ran");
    write_private(
        &setup.path(),
        &format!(
            "[profiles.p]\nserver = \"https://p.example\"\ntoken_command = 'touch {} && printf kdm_x'\n",
            marker.display()
        ),
    );
    let resolved = setup
        .resolve(Overrides {
            token: env(secret("kdm_env"), "KEYDESK_TOKEN"),
            ..profile_p()
        })
        .unwrap();
    assert_eq!(resolved.token.unwrap().value.as_str(), "kdm_env");
    assert!(
        !marker.exists(),
        "the command ran though KEYDESK_TOKEN was set"
    );
    setup.resolve(profile_p()).unwrap();
    assert!(marker.exists(), "the command did not run");
}

#[test]
fn a_token_command_that_hangs_is_stopped_at_its_timeout() {
    let mut setup = with_command("exec sleep 20");
    setup.environment.token_command_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let message = setup.error(profile_p());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(message.contains("did not finish"), "{message}");
}

#[test]
fn a_profile_takes_its_token_one_way_only() {
    let setup = Setup::new(
        "[profiles.p]\ntoken = \"kdm_x\"\ntoken_env = \"T\"\ntoken_command = \"printf x\"\n",
    );
    let message = setup.error(Overrides::default());
    assert!(message.contains("profile 'p'"), "{message}");
    assert!(
        message.contains("token and token_env and token_command"),
        "{message}"
    );
    assert!(
        message.contains(&setup.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn an_unknown_field_is_refused_with_its_line_and_the_known_fields() {
    let setup = Setup::new("[profiles.p]\nserver = \"https://p.example\"\nsevrer = \"x\"\n");
    let message = setup.error(Overrides::default());
    let path = setup.path().display().to_string();
    assert!(
        message.starts_with(&format!("{path}, line 3, column 1")),
        "{message}"
    );
    assert!(message.contains("unknown field `sevrer`"), "{message}");
    assert!(
        message.contains("`server`") && message.contains("`token_command`"),
        "{message}"
    );
    assert!(message.contains("[profiles.p]"), "{message}");
}

#[test]
fn a_wrong_value_names_the_file_line_and_field() {
    let setup = Setup::new("default_profile = \"p\"\n\n[profiles.p]\nreadonly = \"yes\"\n");
    let message = setup.error(Overrides::default());
    assert!(message.contains("line 4"), "{message}");
    assert!(message.contains("field `readonly`"), "{message}");
    assert!(
        message.contains(&setup.path().display().to_string()),
        "{message}"
    );

    let message = Setup::new("[profiles.p]\nclipboard = \"osc-52\"\n").error(Overrides::default());
    assert!(
        message.contains("line 2") && message.contains("`osc52`"),
        "{message}"
    );
}

#[test]
fn a_syntax_error_names_the_line_without_quoting_a_token() {
    let setup = Setup::new("[profiles.p]\ntoken = \"kdm_secret_123\" trailing\n");
    let message = setup.error(Overrides::default());
    assert!(message.contains("line 2"), "{message}");
    assert!(!message.contains("kdm_secret_123"), "{message}");
}

#[test]
fn a_token_in_a_file_others_can_read_draws_a_warning() {
    let setup = Setup::new("[profiles.p]\ntoken = \"kdm_x\"\n");
    assert!(
        setup
            .resolve(Overrides::default())
            .unwrap()
            .warnings
            .is_empty()
    );

    set_mode(&setup.path(), 0o644);
    let warnings = setup.resolve(Overrides::default()).unwrap().warnings;
    let path = setup.path().display().to_string();
    assert_eq!(
        warnings,
        vec![format!(
            "{path} holds a token and can be read by others: chmod 600 {path}"
        )]
    );

    // Without a token, nothing to warn about.
    write_private(&setup.path(), "[profiles.p]\ntoken_env = \"T\"\n");
    set_mode(&setup.path(), 0o644);
    assert!(
        setup
            .resolve(Overrides::default())
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn init_writes_a_private_starting_file_and_keeps_an_existing_one() {
    let setup = Setup::without_file();
    let path = setup.path();
    init::init(&path, false).unwrap();
    assert_eq!(mode(&path), 0o600);
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, init::TEMPLATE);
    assert!(!written.contains("kdm_"), "no token in the starting file");

    std::fs::write(&path, "# mine\n").unwrap();
    set_mode(&path, 0o644);
    let err = init::init(&path, false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    init::init(&path, true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), init::TEMPLATE);
    assert_eq!(mode(&path), 0o600, "--force leaves the file private");
}

#[test]
fn the_starting_file_parses_and_asks_for_its_token_variable() {
    let setup = Setup::new(init::TEMPLATE);
    let message = setup.error(Overrides::default());
    assert!(message.contains("KEYDESK_LOCAL_TOKEN"), "{message}");
    let resolved = setup
        .var("KEYDESK_LOCAL_TOKEN", "kdm_local")
        .resolve(Overrides::default())
        .unwrap();
    assert_eq!(resolved.profile.as_deref(), Some("local"));
    assert_eq!(resolved.server.unwrap().value, "http://127.0.0.1:7070");
    assert_eq!(resolved.token.unwrap().value.as_str(), "kdm_local");
}

#[test]
fn with_no_server_the_advice_names_three_ways_and_the_file() {
    let location = Location {
        path: PathBuf::from("/home/ana/.config/keydesk/config.toml"),
        named: false,
    };
    let advice = how_to_start_at(Some(&location));
    for way in [
        "keydesk demo",
        "--server",
        "KEYDESK_SERVER",
        "KEYDESK_TOKEN",
        "keydesk config init",
        "/home/ana/.config/keydesk/config.toml",
    ] {
        assert!(advice.contains(way), "{way}: {advice}");
    }
}

#[test]
fn the_readme_example_is_a_file_keydesk_accepts() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("README.md has a Configuration section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Configuration section has a TOML example");
    let setup = Setup::new(example).var("KEYDESK_LOCAL_TOKEN", "kdm_local");
    let local = setup.resolve(Overrides::default()).unwrap();
    assert_eq!(local.profile.as_deref(), Some("local"));
    assert_eq!(local.token.unwrap().value.as_str(), "kdm_local");
    let prod = file::parse(&setup.path(), example).unwrap();
    let prod = &prod.profiles["prod"];
    assert_eq!(prod.clipboard, Some(ClipboardMode::Osc52));
    assert_eq!(prod.theme, Some(file::Theme::NoColor));
    assert_eq!(prod.readonly, Some(true));
}
