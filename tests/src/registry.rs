//! The reference registry as a separate process, and devices provisioned with it, for tests
//! that sync over real mutual TLS on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{sajili, stderr, stdout};

/// Path of the `sajili-registry` binary, built once per test process (same profile as the test).
pub fn registry_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::workspace_bin("sajili-registry"))
}

/// A free TCP port on 127.0.0.1 (bound and released), below the kernel's ephemeral range
/// (32768-60999): a port the kernel hands out for `bind(0)` is also one it gives the next
/// outgoing connection of any test running alongside, which took it before a registry
/// started (seen in CI as "Address already in use"). Picked at random, so parallel tests
/// rarely pick the same one.
pub fn free_port() -> u16 {
    let mut seed = [0u8; 2];
    for _ in 0..200 {
        if getrandom::fill(&mut seed).is_err() {
            break;
        }
        let port = 20_000 + u16::from_le_bytes(seed) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// A registry node in a temporary directory, served on its own ports. Several nodes of one
/// registry share its keys and database ([`RegistryProcess::init_nodes`]).
pub struct RegistryProcess {
    /// Holds the directory (shared by the nodes of one registry).
    pub dir: std::sync::Arc<tempfile::TempDir>,
    /// The key directory (`--keys`).
    pub keys: PathBuf,
    /// The database (`--db`): a directory, or a PostgreSQL URL.
    pub db: String,
    /// The age identity (`--identity`), kept apart from the keys as the back office would.
    pub identity: PathBuf,
    /// The trust bundle devices take.
    pub bundle: PathBuf,
    /// The port it serves devices on.
    pub port: u16,
    /// The port of its operators' page.
    pub ops_port: u16,
    /// The PostgreSQL cluster it was given by `SAJILI_TEST_DB=postgres`, if any.
    pub postgres: Option<std::sync::Arc<crate::postgres::PgCluster>>,
    child: Option<Child>,
    log: PathBuf,
    env: Vec<(String, String)>,
}

impl RegistryProcess {
    /// `sajili-registry init` in a new directory, on an embedded database (not yet serving).
    pub fn init() -> Self {
        Self::init_for_host("127.0.0.1")
    }

    /// As [`RegistryProcess::init`], for devices that reach it at `host` (its certificate
    /// names it; it still listens on 127.0.0.1): a virtual machine reaches the host as 10.0.2.2.
    pub fn init_for_host(host: &str) -> Self {
        Self::init_nodes(None, host, 1).remove(0)
    }

    /// A registry of `nodes` nodes on database `db`, each on its own port, the bundle listing
    /// them all in order. `None`: the embedded engine in the directory (one node only), or, with
    /// `SAJILI_TEST_DB=postgres` in the environment, a PostgreSQL cluster of its own, so the
    /// same tests run against both engines (scripts/test runs them both ways).
    pub fn init_nodes(db: Option<&str>, host: &str, nodes: usize) -> Vec<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = dir.path().join("keys");
        let postgres = match (db, std::env::var("SAJILI_TEST_DB").as_deref()) {
            (None, Ok("postgres")) => {
                Some(std::sync::Arc::new(crate::postgres::PgCluster::start()))
            }
            _ => None,
        };
        let db = match (db, &postgres) {
            (Some(db), _) => db.to_string(),
            (None, Some(cluster)) => cluster.url(),
            (None, None) => dir.path().join("db").to_str().expect("utf-8").to_string(),
        };
        let identity = dir.path().join("back-office/identity.age");
        std::fs::create_dir_all(identity.parent().expect("parent")).expect("back-office dir");
        let bundle = dir.path().join("bundle.json");
        let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        let mut command = Command::new(registry_bin());
        command
            .args(["init", "--keys"])
            .arg(&keys)
            .args(["--db", &db])
            .arg("--bundle-out")
            .arg(&bundle)
            .arg("--identity-out")
            .arg(&identity);
        for port in &ports {
            command.args(["--url", &format!("https://{host}:{port}")]);
        }
        let output = command.output().expect("run sajili-registry init");
        assert!(output.status.success(), "init: {}", stderr(&output));
        let dir = std::sync::Arc::new(dir);
        ports
            .into_iter()
            .enumerate()
            .map(|(node, port)| Self {
                log: dir.path().join(format!("registry-{node}.log")),
                dir: dir.clone(),
                keys: keys.clone(),
                db: db.clone(),
                identity: identity.clone(),
                bundle: bundle.clone(),
                port,
                ops_port: free_port(),
                postgres: postgres.clone(),
                child: None,
                env: Vec::new(),
            })
            .collect()
    }

    /// A registry initialised and serving.
    pub fn start() -> Self {
        let mut registry = Self::init();
        registry.serve();
        registry
    }

    /// Sets an environment variable for the next `serve` (e.g. `SAJILI_REGISTRY_FAULTS`).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// Starts serving (again) and waits until it says it listens. (Not by connecting to the
    /// port: a probe that leaves without a handshake is logged as a refused one.)
    pub fn serve(&mut self) {
        assert!(self.child.is_none(), "already serving");
        const LISTENING: &str = "sajili registry: listening on";
        let listening = |log: &str| log.matches(LISTENING).count();
        let before = listening(&self.log());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("registry log");
        let mut command = Command::new(registry_bin());
        command
            .args(["serve", "--keys"])
            .arg(&self.keys)
            .args(["--db", &self.db])
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--ops-listen", &format!("127.0.0.1:{}", self.ops_port)])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().expect("spawn sajili-registry serve"));
        assert!(
            wait_until(Duration::from_secs(20), || listening(&self.log()) > before),
            "the registry did not start: {}",
            self.log()
        );
    }

    /// Kills the server at once (SIGKILL), as a power cut would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the server to stop (SIGTERM) and waits for it; its exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().ok()
    }

    /// The server's process id, while it serves.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:OPS_PORT`: the operators' page.
    pub fn ops_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ops_port)
    }

    /// curl against this node with the registry's CA, headers included (`-i`): what it printed.
    pub fn curl(&self, args: &[&str]) -> String {
        let output = Command::new("curl")
            .args(["-sS", "-i", "--max-time", "20", "--cacert"])
            .arg(self.keys.join("ca.crt"))
            .args(args)
            .output()
            .expect("curl is installed by scripts/setup");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The same with `device`'s client certificate.
    pub fn curl_as(&self, device: &SyncDevice, args: &[&str]) -> String {
        let dir = device.uplink_dir();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        let mut all = vec![
            "--cert",
            cert.to_str().expect("utf-8"),
            "--key",
            key.to_str().expect("utf-8"),
        ];
        all.extend_from_slice(args);
        self.curl(&all)
    }

    /// The value of `sample` (a name, with its labels as printed) in this node's /metrics,
    /// which answers while the database is away.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        let output = Command::new("curl")
            .args(["-sS", &format!("{}/metrics", self.ops_url())])
            .output()
            .expect("curl is installed by scripts/setup");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(name, _)| *name == sample)
            .and_then(|(_, value)| value.parse().ok())
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the log comes to satisfy `test` within ten seconds: the registry logs a refusal
    /// after answering (a TLS handshake's failure after the client has gone), so the line can
    /// land just after the client has its answer.
    pub fn log_shows(&self, test: impl Fn(&str) -> bool) -> bool {
        wait_until(Duration::from_secs(10), || test(&self.log()))
    }

    /// Runs `sajili-registry SUBCOMMAND --db DB ARGS...` (with `--identity` for the commands
    /// that decrypt).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(registry_bin());
        command.arg(args[0]).args(["--db", &self.db]);
        if matches!(args[0], "show" | "process") {
            command.arg("--identity").arg(&self.identity);
        }
        command
            .args(&args[1..])
            .output()
            .expect("run sajili-registry")
    }

    /// The policy key `init` wrote beside the identity.
    pub fn policy_key(&self) -> PathBuf {
        self.identity.with_file_name("policy.key")
    }

    /// Runs a back-office command (`staff add …`, `device withdraw …`) with the database and
    /// the policy key given through the environment, `stdin` on its standard input.
    pub fn back_office(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(registry_bin())
            .args(args)
            .env("SAJILI_REGISTRY_DB", &self.db)
            .env("SAJILI_POLICY_KEY", self.policy_key())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sajili-registry");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("sajili-registry output")
    }

    /// As [`RegistryProcess::back_office`], asserting success; its standard output.
    pub fn back_office_ok(&self, args: &[&str], stdin: &str) -> String {
        let output = self.back_office(args, stdin);
        assert!(
            output.status.success(),
            "sajili-registry {}: {}",
            args.join(" "),
            stderr(&output)
        );
        stdout(&output)
    }

    /// `process`: the back office's pass; its standard output.
    pub fn process(&self) -> String {
        let output = self.run(&["process"]);
        assert!(output.status.success(), "process: {}", stderr(&output));
        stdout(&output)
    }

    /// A new one-time token.
    pub fn token(&self) -> String {
        let output = self.run(&["token"]);
        assert!(output.status.success(), "token: {}", stderr(&output));
        stdout(&output).trim().to_string()
    }

    /// `stats --json`.
    pub fn stats(&self) -> serde_json::Value {
        let output = self.run(&["stats", "--json"]);
        assert!(output.status.success(), "stats: {}", stderr(&output));
        serde_json::from_str(&stdout(&output)).expect("stats JSON")
    }

    /// Records held of `device`, by the stats.
    pub fn records_of(&self, device: &str) -> u64 {
        let stats = self.stats();
        stats["chains"]
            .as_array()
            .and_then(|chains| chains.iter().find(|c| c["device"] == device))
            .and_then(|c| c["records"].as_u64())
            .unwrap_or(0)
    }

    /// `show --device D`: every record decrypted, one JSON value each.
    pub fn show(&self, device: &str) -> Vec<serde_json::Value> {
        let output = self.run(&["show", "--device", device]);
        assert!(output.status.success(), "show: {}", stderr(&output));
        stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).expect("show JSON line"))
            .collect()
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A device initialised with a registry's bundle and provisioned with a token.
pub struct SyncDevice {
    /// Holds the directory.
    pub dir: tempfile::TempDir,
    /// The data dir.
    pub data: PathBuf,
    /// Its id.
    pub id: String,
}

impl SyncDevice {
    /// Initialised only.
    pub fn init(registry: &RegistryProcess) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("device");
        let output = sajili(
            &data,
            &["init", "--bundle", registry.bundle.to_str().expect("utf-8")],
        );
        assert!(output.status.success(), "init: {}", stderr(&output));
        crate::add_fixture_staff(&data);
        let status = sajili(&data, &["status", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&stdout(&status)).expect("status");
        let id = json["device_id"].as_str().expect("device id").to_string();
        Self { dir, data, id }
    }

    /// Runs `sajili provision` against `registry` with `token`.
    pub fn provision_with(&self, registry: &RegistryProcess, token: &str) -> Output {
        self.run(&["provision", "--registry", &registry.url(), "--token", token])
    }

    /// Initialised and provisioned, reaching the registry at `url` (its own, or a proxy's).
    pub fn provisioned(registry: &RegistryProcess, url: &str) -> Self {
        let device = Self::init(registry);
        let token = registry.token();
        let output = device.run(&["provision", "--registry", url, "--token", &token]);
        assert!(output.status.success(), "provision: {}", stderr(&output));
        device
    }

    /// Runs `sajili` on this device.
    pub fn run(&self, args: &[&str]) -> Output {
        sajili(&self.data, args)
    }

    /// `status --json` (which also absorbs receipts).
    pub fn status(&self) -> serde_json::Value {
        let output = self.run(&["status", "--json"]);
        assert!(output.status.success(), "status: {}", stderr(&output));
        serde_json::from_str(&stdout(&output)).expect("status JSON")
    }

    /// Seals each enrolment file; returns the registration numbers.
    pub fn enrol(&self, files: &[PathBuf]) -> Vec<String> {
        let mut numbers = Vec::new();
        for batch in files.chunks(200) {
            let mut args = vec!["enrol".to_string()];
            for file in batch {
                args.push("--json".into());
                args.push(file.to_str().expect("utf-8").into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let output = self.run(&args);
            assert!(output.status.success(), "enrol: {}", stderr(&output));
            numbers.extend(stdout(&output).lines().map(str::to_string));
        }
        numbers
    }

    /// How many of records 1 to `records` have a receipt filed by the uplink, waiting for
    /// the kiosk (one file per record or per batch).
    pub fn receipts_filed(&self, records: u64) -> u64 {
        let receipted = sajili::spool::Spool::new(&self.data)
            .receipted()
            .unwrap_or_default();
        (1..=records).filter(|seq| receipted.contains(*seq)).count() as u64
    }

    /// Starts `sajili uplink` (for ever) with short back-off, for fault tests.
    pub fn spawn_uplink(&self) -> Child {
        Command::new(crate::sajili_bin())
            .arg("--data")
            .arg(&self.data)
            .args(["uplink", "--max-backoff", "2", "--poll-ms", "100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sajili uplink")
    }

    /// The uplink dir.
    pub fn uplink_dir(&self) -> PathBuf {
        self.data.join("uplink")
    }

    /// The spool's outbox.
    pub fn outbox(&self) -> PathBuf {
        self.data.join("spool/outbox")
    }
}

/// Writes `count` enrolments of about 150 KB (a 240x320 photo and seven 160x176 prints shared
/// by all, three fingers injured), each with its own surname and ID number; returns their JSON paths and the surnames.
pub fn write_enrolments(dir: &Path, count: usize) -> (Vec<PathBuf>, Vec<String>) {
    let example = crate::write_example(dir);
    let mut template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&example).expect("example")).expect("JSON");
    std::fs::write(
        dir.join("photo.jpg"),
        sajili::fixtures::face_photo_jpeg(240, 320, 3),
    )
    .expect("photo");
    // Three fingers recorded as injured (with the example's supervisor) keep a record near
    // 150 KB, the size the figures are quoted for.
    if let Some(fingers) = template["fingerprints"].as_array_mut() {
        for finger in fingers.iter_mut() {
            if matches!(
                finger["position"].as_str(),
                Some("left_ring" | "right_little")
            ) {
                *finger = serde_json::json!({
                    "position": finger["position"].clone(),
                    "exception": "injured",
                });
            }
        }
    }
    if let Some(fingers) = template["fingerprints"].as_array() {
        for (index, finger) in fingers.iter().enumerate() {
            if let Some(file) = finger["image"].as_str() {
                let png = sajili::fixtures::fingerprint_png(160, 176, index as u64 + 11);
                std::fs::write(dir.join(file), png).expect("print");
            }
        }
    }
    let mut files = Vec::new();
    let mut surnames = Vec::new();
    for n in 0..count {
        let mut suffix = String::new();
        let mut value = n;
        for _ in 0..3 {
            suffix.push((b'a' + (value % 26) as u8) as char);
            value /= 26;
        }
        let surname = format!("Otieno{suffix}");
        template["demographics"]["names"]["surname"] = surname.clone().into();
        // Each applicant their own ID card, or the back office flags them all as one person.
        if template["demographics"]["document"]["kind"] == "national_id" {
            template["demographics"]["document"]["number"] = format!("{}", 30_000_000 + n).into();
        }
        let path = dir.join(format!("enrolment-{n:04}.json"));
        std::fs::write(&path, serde_json::to_string(&template).expect("JSON")).expect("write");
        files.push(path);
        surnames.push(surname);
    }
    (files, surnames)
}

/// Checks that the registry holds exactly `numbers` for `device`, in order, chain complete,
/// each decrypting to the enrolment with `surnames[i]`, and that the device holds a receipt for
/// each and no ciphertext.
pub fn assert_exactly_once(
    registry: &RegistryProcess,
    device: &SyncDevice,
    numbers: &[String],
    surnames: &[String],
) {
    let stats = registry.stats();
    let chain = stats["chains"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["device"] == device.id.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(chain["records"], numbers.len() as u64, "stats: {stats}");
    assert_eq!(chain["head"], numbers.len() as u64, "stats: {stats}");
    assert_eq!(chain["complete"], true, "stats: {stats}");
    assert_eq!(stats["uploads_in_progress"], 0, "stats: {stats}");
    let shown = registry.show(&device.id);
    assert_eq!(shown.len(), numbers.len());
    for (index, record) in shown.iter().enumerate() {
        assert_eq!(record["seq"], index as u64 + 1);
        assert_eq!(record["status"], "accepted", "{record}");
        assert_eq!(record["registration_number"], numbers[index].as_str());
        assert_eq!(
            record["enrolment"]["demographics"]["names"]["surname"],
            surnames[index].as_str()
        );
    }
    let status = device.status();
    assert_eq!(status["queue_depth"], 0, "{status}");
    assert_eq!(status["bytes_waiting"], 0, "{status}");
    assert_eq!(status["receipts"], numbers.len() as u64, "{status}");
    assert_eq!(
        std::fs::read_dir(device.outbox()).unwrap().count(),
        0,
        "the outbox still holds envelopes"
    );
    let verify = device.run(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains(&format!(
            "0 envelope(s) checked, {} acknowledged",
            numbers.len()
        )),
        "{}",
        stdout(&verify)
    );
}
