//! Which database the suite's servers use: `KEYDESK_TEST_BACKEND=sqlite`
//! (the default: a file in each test's data directory) or `postgres`.
//!
//! Under `postgres` the test binary starts one throwaway cluster on first
//! use (initdb + pg_ctl, on a free port, in a directory under the system's
//! temporary directory) and creates a fresh database for each test's data
//! directory. As root it runs PostgreSQL as the `postgres` user (PostgreSQL
//! refuses root). The cluster stops when the test process ends: a watchdog
//! shell waits for this process to exit (however it exits: statics are
//! never dropped) and then runs `pg_ctl stop -m immediate` and removes the
//! directory; and a later run removes what a killed watchdog left behind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend this run tests, from `KEYDESK_TEST_BACKEND`.
pub fn backend() -> Backend {
    match std::env::var("KEYDESK_TEST_BACKEND").as_deref() {
        Ok("postgres" | "postgresql" | "pg") => Backend::Postgres,
        Ok("sqlite" | "") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("KEYDESK_TEST_BACKEND={other}: expected sqlite or postgres"),
    }
}

pub fn is_postgres() -> bool {
    backend() == Backend::Postgres
}

/// True (after saying why) when this test does not run on this run's
/// backend: `if skip_unless_sqlite("…") { return; }`.
pub fn skip_unless_sqlite(why: &str) -> bool {
    let skip = is_postgres();
    if skip {
        eprintln!("skipped under KEYDESK_TEST_BACKEND=postgres: {why}");
    }
    skip
}

/// As [`skip_unless_sqlite`], for the tests that need several instances on
/// one database.
pub fn skip_unless_postgres(why: &str) -> bool {
    let skip = !is_postgres();
    if skip {
        eprintln!("skipped: runs only with KEYDESK_TEST_BACKEND=postgres: {why}");
    }
    skip
}

/// The PostgreSQL database of each data directory a test server used.
static DATABASES: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();

/// The `--database` of a server on `data_dir`: `None` (SQLite in the data
/// directory) or, under postgres, a database of its own, the same one each
/// time this data directory is started again.
pub fn database_for(data_dir: &Path) -> Option<String> {
    if !is_postgres() {
        return None;
    }
    let mut databases = DATABASES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(
        databases
            .entry(data_dir.to_owned())
            .or_insert_with(fresh_database)
            .clone(),
    )
}

/// The database of a server that ran on `data_dir` under postgres, if any.
pub fn existing_database(data_dir: &Path) -> Option<String> {
    let databases = DATABASES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    databases.get(data_dir).cloned()
}

/// Every row of every table of the database at `url`, as text (PostgreSQL's
/// files are the cluster's, shared by every test: the rows are what a test
/// of "nothing secret is stored" reads instead).
pub fn all_rows(url: String) -> Vec<String> {
    on_the_side(url, |client| async move {
        let tables = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .await
            .unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let table: String = table.get(0);
            let sql = format!("SELECT t::text FROM {table} t");
            for row in client.query(&sql, &[]).await.unwrap() {
                rows.push(format!("{table}: {}", row.get::<_, String>(0)));
            }
        }
        rows
    })
}

/// A new, empty database in the cluster; its URL.
pub fn fresh_database() -> String {
    let cluster = cluster();
    let name = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
    let statement = format!("CREATE DATABASE {name}");
    on_the_side(cluster.url("postgres"), move |client| async move {
        client.batch_execute(&statement).await.unwrap();
    });
    cluster.url(&name)
}

/// Runs `f` on a connection to `url`, on a runtime of its own (callers
/// may be sync code inside a test's runtime).
pub fn on_the_side<F, Fut, T>(url: String, f: F) -> T
where
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connecting to the test cluster: {e}"));
            tokio::spawn(connection);
            f(client).await
        })
    })
    .join()
    .unwrap()
}

pub struct Cluster {
    pub port: u16,
    /// Outlives this process on purpose: it stops the cluster after it.
    _watchdog: std::process::Child,
}

impl Cluster {
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

/// Where initdb and pg_ctl are.
fn binaries() -> PathBuf {
    let mut candidates = vec![PathBuf::from("/usr/local/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut found: Vec<PathBuf> = versions
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .collect();
        found.sort();
        found.reverse();
        candidates.extend(found);
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .expect(
            "KEYDESK_TEST_BACKEND=postgres needs initdb and pg_ctl (apt-get install postgresql)",
        )
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const PREFIX: &str = "keydesk-test-pg-";

/// Stops and removes clusters of earlier runs whose process is gone (a
/// watchdog that was killed with them).
fn remove_abandoned(bin: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let is_ours = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(PREFIX));
        if !is_ours {
            continue;
        }
        let owner = std::fs::read_to_string(path.join("owner")).unwrap_or_default();
        let alive = !owner.trim().is_empty() && Path::new("/proc").join(owner.trim()).exists();
        if alive {
            continue;
        }
        let mut stop = as_postgres(&bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(path.join("data"))
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = stop.status();
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// The one cluster of this test process, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster)
}

fn start_cluster() -> Cluster {
    let bin = binaries();
    remove_abandoned(&bin);
    let root = tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir()
        .unwrap()
        .keep();
    std::fs::write(root.join("owner"), std::process::id().to_string()).unwrap();
    if running_as_root() {
        run(
            {
                let mut chown = Command::new("chown");
                chown.arg("-R").arg("postgres:").arg(&root);
                chown
            },
            "chown postgres",
        );
    }
    let data = root.join("data");
    let mut initdb = as_postgres(&bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"])
        .arg("--no-sync");
    run(initdb, "initdb");
    let port = crate::helpers::free_port();
    // Durability is not what the suite tests here: no fsync, for speed.
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        root.display()
    );
    let mut start = as_postgres(&bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(root.join("log"))
        .args(["-w", "-t", "60", "-o", &options, "start"]);
    run(start, "pg_ctl start");
    // The watchdog: when this process is gone, so is the cluster.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runuser}{pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {root}",
        pid = std::process::id(),
        runuser = if running_as_root() {
            "runuser -u postgres -- "
        } else {
            ""
        },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        root = root.display(),
    );
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(stop)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the cluster's watchdog starts");
    Cluster {
        port,
        _watchdog: watchdog,
    }
}
