//! The production engine: PostgreSQL 15 through the synchronous `postgres` client, so several
//! stateless `serve` processes (nodes) share one database and still store each record once.
//!
//! It connects without TLS: the database is reached over a Unix socket or a trusted network
//! (`postgres://user@%2Frun%2Fpostgresql/sajili`, or `?host=/run/postgresql`).
//!
//! Whatever must hold across nodes is decided under a row lock inside one transaction: a
//! device's `heads` row serialises its appends, a token's row its single use, a part-upload's
//! row its parts. Methods run on blocking threads (tokio's `spawn_blocking`, or a CLI's own),
//! each with a connection from a small pool that forgets broken connections, so the registry
//! outlives a restart of PostgreSQL: a call during the outage fails (the API answers 503), and
//! calls after it connect again.
//!
//! | table            | key                    | what                                        |
//! |------------------|------------------------|---------------------------------------------|
//! | `schema_version` | (one row)              | the schema's version, for later migrations  |
//! | `meta`           | (one row)              | [`Meta`]                                    |
//! | `tokens`         | SHA-256 hex            | [`TokenEntry`]                              |
//! | `devices`        | device id              | [`DeviceEntry`], last seen and waiting      |
//! | `heads`          | device id              | last seq held and its envelope hash         |
//! | `records`        | (device, seq)          | envelope, its hashes, receipt, arrival      |
//! | `parts`          | (device, seq)          | the bytes of a record uploaded so far       |
//! | `incidents`      | bigserial              | [`Incident`]                                |
//! | `flags`          | bigserial              | [`Flag`]                                    |
//! | `documents`      | document key           | the first (device, seq) that held it        |
//! | `amendments`     | (device, seq)          | the (device, seq) that record amends        |
//! | `fleet_version`  | (one row)              | the fleet version                           |
//! | `staff`          | staff number           | [`StaffMember`]                             |
//! | `centres`        | centre id              | [`CentreEntry`]                             |
//! | `audit`          | (device, number)       | [`AuditEntry`]                              |
//! | `policies`       | centre (or none)       | the latest signed policy and its version    |
//! | `updates`        | (bundle, target)       | [`PublishedUpdate`]                         |
//!
//! A device's centre and withdrawal are columns of `devices`; a token's centre, of `tokens`.
//! Every change to the roster, a centre or a device's centre first raises the one
//! `fleet_version` row, so its row lock orders those changes across nodes: each gets its own
//! version, and a later commit never a lower one.
//!
//! Device ids and keys are `COLLATE "C"`, so every listing comes in byte order, as the
//! embedded engine's does.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Row, Statement, Transaction};

use super::fleet::{CentreKind, PublishedUpdate, Role, Settings, UpdateTarget};
use super::{
    Amendments, Appended, Arrival, AuditEntry, CentreEntry, ChainRefusal, ChainStats, Checked,
    DeviceEntry, DeviceOverview, Flag, FleetSnapshot, Hash, Head, Incident, Meta, PartOutcome,
    PerDay, Processed, Provision, ProvisionRefusal, Signer, StaffMember, Stats, Store, TokenEntry,
    Withdrawal, WithdrawnDevice, day_of, duplicate_flag, fill_days, in_amendment_chain,
    token_refusal,
};

/// Connections a store opens at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long a call waits for a free connection before it fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take, unless the URL says (a dead server must fail the call soon,
/// so the device is told to retry rather than kept waiting).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The advisory lock that serialises schema changes between nodes starting at once
/// ("SAJILI" in ASCII).
const SCHEMA_LOCK: i64 = 0x5341_4a49_4c49;

/// The schema, one step per version: `MIGRATIONS[n]` takes a database from version `n` to
/// `n + 1`. Append steps; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS meta (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    receipt_key text NOT NULL,
    age_recipient text NOT NULL,
    created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash text COLLATE "C" PRIMARY KEY,
    created_at bigint NOT NULL,
    used_by text COLLATE "C",
    expires_at bigint,
    revoked boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS devices (
    device text COLLATE "C" PRIMARY KEY,
    signing_key text NOT NULL,
    provisioned_at bigint NOT NULL,
    certificates bigint NOT NULL,
    certificate_not_after bigint,
    last_seen bigint,
    waiting bigint
);
CREATE TABLE IF NOT EXISTS heads (
    device text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    device text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    bytes bytea NOT NULL,
    hash bytea NOT NULL,
    prev_hash bytea NOT NULL,
    receipt bytea NOT NULL,
    received_at bigint NOT NULL,
    processed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device, seq)
);
CREATE INDEX IF NOT EXISTS records_unprocessed ON records (processed, received_at);
CREATE INDEX IF NOT EXISTS records_received_at ON records (received_at);
CREATE TABLE IF NOT EXISTS parts (
    device text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    bytes bytea NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE TABLE IF NOT EXISTS incidents (
    id bigserial PRIMARY KEY,
    at bigint NOT NULL,
    device text COLLATE "C" NOT NULL,
    seq bigint,
    code text NOT NULL,
    message text NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_at ON incidents (at);
CREATE TABLE IF NOT EXISTS flags (
    id bigserial PRIMARY KEY,
    device text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    code text NOT NULL,
    detail text NOT NULL,
    at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_key text COLLATE "C" PRIMARY KEY,
    device text COLLATE "C" NOT NULL,
    seq bigint NOT NULL
);
"#,
    // Version 2. Envelopes and parts are ciphertext: compressing them cannot win and cost most of
    // PostgreSQL's CPU per record (pglz tries every value over 2 KB). Stored out of line, as is.
    r#"
ALTER TABLE records ALTER COLUMN bytes SET STORAGE EXTERNAL;
ALTER TABLE parts ALTER COLUMN bytes SET STORAGE EXTERNAL;
"#,
    // Version 3. The fleet: the roster, centres, a device's centre and withdrawal, audit events
    // and signed policies. The new columns are nullable without a default, so adding them to
    // a populated `devices` or `tokens` does not rewrite the table.
    r#"
CREATE TABLE fleet_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version bigint NOT NULL CHECK (version >= 0)
);
INSERT INTO fleet_version (version) VALUES (0);
CREATE TABLE staff (
    number text COLLATE "C" PRIMARY KEY,
    role text NOT NULL,
    centre text COLLATE "C",
    pin_hash text NOT NULL,
    disabled boolean NOT NULL,
    changed_at bigint NOT NULL
);
CREATE TABLE centres (
    id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    settings text NOT NULL
);
ALTER TABLE tokens ADD COLUMN centre text COLLATE "C";
ALTER TABLE devices
    ADD COLUMN centre text COLLATE "C",
    ADD COLUMN withdrawn_reason text,
    ADD COLUMN withdrawn_at bigint,
    ADD COLUMN accept_until bigint,
    ADD CONSTRAINT devices_withdrawal CHECK (
        (withdrawn_at IS NULL) = (withdrawn_reason IS NULL)
        AND (accept_until IS NULL OR withdrawn_at IS NOT NULL)
    );
CREATE INDEX devices_withdrawn ON devices (device) WHERE withdrawn_at IS NOT NULL;
CREATE TABLE audit (
    device text COLLATE "C" NOT NULL,
    number bigint NOT NULL,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    received_at bigint NOT NULL,
    PRIMARY KEY (device, number)
);
CREATE TABLE policies (
    centre text COLLATE "C",
    version bigint NOT NULL,
    signed bytea NOT NULL,
    CONSTRAINT policies_centre UNIQUE NULLS NOT DISTINCT (centre)
);
"#,
    // Version 4. Updates published to devices: one row per (bundle, target), the target's id
    // null for every device. A new table only, so it is added to a populated database in
    // place. `id` is the order of first publication: a replacement keeps its row and id.
    r#"
CREATE TABLE updates (
    id bigserial PRIMARY KEY,
    sha256 text COLLATE "C" NOT NULL,
    target_kind text NOT NULL CHECK (target_kind IN ('all', 'centre', 'device')),
    target_id text COLLATE "C",
    version text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    published_at bigint NOT NULL,
    CONSTRAINT updates_target CHECK ((target_kind = 'all') = (target_id IS NULL)),
    CONSTRAINT updates_publication UNIQUE NULLS NOT DISTINCT (sha256, target_kind, target_id)
);
"#,
    // Version 5. Amendments: each amendment's link to the record it amends, found both ways
    // (`show` lists what a record amends and what amends it). A new table only, so it is added
    // to a populated database in place; `id` keeps the order links were processed in.
    r#"
CREATE TABLE amendments (
    id bigserial,
    device text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    amends_device text COLLATE "C" NOT NULL,
    amends_seq bigint NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX amendments_amended ON amendments (amends_device, amends_seq, id);
"#,
];

/// The registry's records in a PostgreSQL database, shared by every node that opens it.
pub struct PgStore {
    config: Config,
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    // The config may hold a password: show neither it nor the connections.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool_size", &self.pool.size)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database `url` names with up to [`DEFAULT_POOL_SIZE`] connections, and
    /// creates or migrates the schema. Fails when the URL does not parse, the database does
    /// not answer, or it was made by a newer registry; nothing is left open then.
    pub fn open(url: &str) -> Result<PgStore> {
        Self::open_with_pool(url, DEFAULT_POOL_SIZE)
    }

    /// As [`PgStore::open`], with at most `pool_size` connections (at least one).
    pub fn open_with_pool(url: &str, pool_size: usize) -> Result<PgStore> {
        let mut config: Config = url
            .parse()
            .context("the database URL does not parse as a PostgreSQL URL")?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("sajili-registry");
        }
        let store = PgStore {
            config,
            pool: Pool::new(pool_size.max(1)),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Brings the schema to the latest version, under an advisory lock so that nodes
    /// starting together take turns.
    fn migrate(&self) -> Result<()> {
        self.write(|session| {
            session.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            session
                .batch("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")?;
            let version: Option<i32> = session
                .query_opt("SELECT max(version) FROM schema_version", &[])?
                .map(|row| row.try_get(0))
                .transpose()?
                .flatten();
            let current = usize::try_from(version.unwrap_or(0)).context("schema version")?;
            if current > MIGRATIONS.len() {
                bail!(
                    "the database holds schema version {current}, made by a newer registry \
                     (this one knows up to {})",
                    MIGRATIONS.len()
                );
            }
            for step in &MIGRATIONS[current..] {
                session.batch(step)?;
            }
            if current < MIGRATIONS.len() {
                let latest = i32::try_from(MIGRATIONS.len()).context("schema version")?;
                session.execute("DELETE FROM schema_version", &[])?;
                session.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&latest],
                )?;
            }
            Ok(())
        })
        .context("prepare the database's schema")
    }

    /// Runs `work` in a read-committed transaction and commits it, unless `work` fails or
    /// calls [`Session::roll_back`].
    fn write<T>(&self, work: impl FnMut(&mut Session<'_>) -> Result<T>) -> Result<T> {
        self.run(Mode::Write, work)
    }

    /// Runs `work` (reads only) in one read-only snapshot.
    fn snapshot<T>(&self, work: impl FnMut(&mut Session<'_>) -> Result<T>) -> Result<T> {
        self.run(Mode::Snapshot, work)
    }

    /// Runs `work` (one statement that only reads) outside an explicit transaction: one
    /// round trip, tried again on a new connection if the pooled one was broken.
    fn read<T>(&self, work: impl FnMut(&mut Session<'_>) -> Result<T>) -> Result<T> {
        self.run(Mode::Read, work)
    }

    /// Runs `work` (one statement that writes, so its own transaction) outside an explicit
    /// transaction: one round trip, never tried twice (it may have committed before the
    /// connection broke).
    fn statement<T>(&self, work: impl FnMut(&mut Session<'_>) -> Result<T>) -> Result<T> {
        self.run(Mode::Statement, work)
    }

    /// Runs `work` on a pooled connection. A connection found broken is dropped with every
    /// idle one (a restarted server broke them all), and the call is tried once more on a new
    /// connection when nothing can have been committed: the transaction never began, or the
    /// work only reads.
    fn run<T>(&self, mode: Mode, mut work: impl FnMut(&mut Session<'_>) -> Result<T>) -> Result<T> {
        let mut tried_fresh = false;
        loop {
            let mut lease = self.pool.checkout(&self.config)?;
            let reused = lease.reused;
            let Some(connection) = lease.connection.as_mut() else {
                bail!("the connection pool lent no connection");
            };
            let outcome = attempt(connection, mode, &mut work);
            match outcome {
                Ok(value) => return Ok(value),
                Err(failure) => {
                    let broken = failure.error.chain().any(|cause| {
                        cause
                            .downcast_ref::<postgres::Error>()
                            .is_some_and(connection_lost)
                    }) || connection.client.is_closed();
                    if broken {
                        lease.discard();
                        self.pool.forget_idle();
                    }
                    if broken && reused && failure.nothing_committed && !tried_fresh {
                        tried_fresh = true;
                        continue;
                    }
                    return Err(failure.error);
                }
            }
        }
    }
}

/// How [`PgStore::run`] wraps the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// BEGIN (read committed) … COMMIT.
    Write,
    /// BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY … COMMIT: counts that agree.
    Snapshot,
    /// No explicit transaction: the work runs one statement, which only reads.
    Read,
    /// No explicit transaction: the work runs one statement, which writes.
    Statement,
}

/// A failed attempt, and whether retrying it cannot store anything twice.
struct Failure {
    error: anyhow::Error,
    nothing_committed: bool,
}

fn attempt<T>(
    connection: &mut Connection,
    mode: Mode,
    work: &mut impl FnMut(&mut Session<'_>) -> Result<T>,
) -> std::result::Result<T, Failure> {
    let Connection { client, statements } = connection;
    let handle = match mode {
        Mode::Read | Mode::Statement => Handle::Plain(client),
        Mode::Write => Handle::Transaction(client.transaction().map_err(|e| Failure {
            error: anyhow::Error::new(e).context("begin a transaction"),
            nothing_committed: true,
        })?),
        Mode::Snapshot => Handle::Transaction(
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| Failure {
                    error: anyhow::Error::new(e).context("begin a transaction"),
                    nothing_committed: true,
                })?,
        ),
    };
    let mut session = Session {
        handle,
        statements,
        roll_back: false,
    };
    // Reads may be run again; a write that failed once sent may have committed.
    let reads_only = matches!(mode, Mode::Read | Mode::Snapshot);
    let value = work(&mut session).map_err(|error| Failure {
        error,
        nothing_committed: reads_only,
    })?;
    let finished = match session.handle {
        Handle::Plain(_) => Ok(()),
        Handle::Transaction(transaction) if session.roll_back => transaction.rollback(),
        Handle::Transaction(transaction) => transaction.commit(),
    };
    finished.map_err(|e| Failure {
        error: anyhow::Error::new(e).context("commit"),
        nothing_committed: reads_only,
    })?;
    Ok(value)
}

/// Whether `error` means the connection is gone (the server restarted, the network broke),
/// rather than a statement failing on a working connection.
fn connection_lost(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.as_db_error() {
        // SQLSTATE class 08: connection exception; 57: operator intervention (shutdown).
        Some(db) => matches!(db.code().code().get(..2), Some("08" | "57")),
        // An I/O error or a closed stream; conversion errors are bugs, not outages, but
        // dropping a connection for one costs only a reconnect.
        None => true,
    }
}

/// One connection, with the statements it has prepared (each SQL text is parsed once per
/// connection, then every call is one round trip).
struct Connection {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// Where a session's statements go.
enum Handle<'a> {
    Plain(&'a mut Client),
    Transaction(Transaction<'a>),
}

/// The statements of one call, on one connection.
struct Session<'a> {
    handle: Handle<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
    roll_back: bool,
}

/// A statement's parameters.
type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Session<'_> {
    /// Ends the transaction with a rollback instead of a commit: a refusal writes nothing.
    fn roll_back(&mut self) {
        self.roll_back = true;
    }

    fn prepared(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = match &mut self.handle {
            Handle::Plain(client) => client.prepare(sql),
            Handle::Transaction(transaction) => transaction.prepare(sql),
        }
        .with_context(|| format!("prepare {}", first_words(sql)))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Vec<Row>> {
        let statement = self.prepared(sql)?;
        match &mut self.handle {
            Handle::Plain(client) => client.query(&statement, params),
            Handle::Transaction(transaction) => transaction.query(&statement, params),
        }
        .with_context(|| format!("run {}", first_words(sql)))
    }

    fn query_opt(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Option<Row>> {
        let mut rows = self.query(sql, params)?;
        if rows.len() > 1 {
            bail!("{} gave {} rows, not one", first_words(sql), rows.len());
        }
        Ok(rows.pop())
    }

    fn query_one(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Row> {
        self.query_opt(sql, params)?
            .with_context(|| format!("{} gave no row", first_words(sql)))
    }

    fn execute(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64> {
        let statement = self.prepared(sql)?;
        match &mut self.handle {
            Handle::Plain(client) => client.execute(&statement, params),
            Handle::Transaction(transaction) => transaction.execute(&statement, params),
        }
        .with_context(|| format!("run {}", first_words(sql)))
    }

    /// Runs statements without parameters (schema changes), unprepared.
    fn batch(&mut self, sql: &str) -> Result<()> {
        match &mut self.handle {
            Handle::Plain(client) => client.batch_execute(sql),
            Handle::Transaction(transaction) => transaction.batch_execute(sql),
        }
        .with_context(|| format!("run {}", first_words(sql)))
    }
}

/// The start of a statement, to name it in an error without the whole text.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

/// At most `size` connections, made when needed; the idle ones wait in a stack.
struct Pool {
    size: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    /// Connections lent or idle, and those being made.
    open: usize,
}

/// A connection lent by the pool; given back when dropped, unless it broke.
struct Lease<'a> {
    pool: &'a Pool,
    connection: Option<Connection>,
    /// Taken from the idle stack rather than just made: it may have broken while it waited.
    reused: bool,
}

impl Pool {
    fn new(size: usize) -> Pool {
        Pool {
            size,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    // The state is two plain fields, valid after any panic: a poisoned lock is used as is.
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, or a new one while fewer than `size` are open, waiting up to
    /// [`CHECKOUT_TIMEOUT`] for one to come back.
    fn checkout(&self, config: &Config) -> Result<Lease<'_>> {
        let deadline = Instant::now() + CHECKOUT_TIMEOUT;
        let mut state = self.state();
        loop {
            while let Some(connection) = state.idle.pop() {
                if connection.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Lease {
                    pool: self,
                    connection: Some(connection),
                    reused: true,
                });
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return self.connect(config);
            }
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "all {} database connections stayed busy for {} s",
                    self.size,
                    CHECKOUT_TIMEOUT.as_secs()
                );
            }
            state = self
                .returned
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Makes a connection for a place already counted in `open`, giving the place back if
    /// it fails.
    fn connect(&self, config: &Config) -> Result<Lease<'_>> {
        match config.connect(NoTls) {
            Ok(client) => Ok(Lease {
                pool: self,
                connection: Some(Connection {
                    client,
                    statements: HashMap::new(),
                }),
                reused: false,
            }),
            Err(error) => {
                self.release_place();
                Err(anyhow::Error::new(error).context("connect to the database"))
            }
        }
    }

    fn release_place(&self) {
        let mut state = self.state();
        state.open -= 1;
        drop(state);
        self.returned.notify_one();
    }

    /// Closes the idle connections: after one was found broken, the others (made before the
    /// same outage) most likely are too, and each would fail one call.
    fn forget_idle(&self) {
        let forgotten = {
            let mut state = self.state();
            let forgotten = std::mem::take(&mut state.idle);
            state.open -= forgotten.len();
            forgotten
        };
        // Closed outside the lock: closing talks to the server.
        drop(forgotten);
        self.returned.notify_all();
    }
}

impl Lease<'_> {
    /// Drops the connection instead of giving it back.
    fn discard(&mut self) {
        if self.connection.take().is_some() {
            self.pool.release_place();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if connection.client.is_closed() {
            drop(connection);
            self.pool.release_place();
            return;
        }
        self.pool.state().idle.push(connection);
        self.pool.returned.notify_one();
    }
}

/// A count or seq as the database's bigint.
fn int(value: u64) -> Result<i64> {
    i64::try_from(value).with_context(|| format!("{value} is too large for the database"))
}

/// A bigint read back as a count or seq.
fn count(value: i64) -> Result<u64> {
    u64::try_from(value).with_context(|| format!("the database holds a negative count {value}"))
}

fn hash(bytes: &[u8]) -> Result<Hash> {
    bytes
        .try_into()
        .with_context(|| format!("a stored hash has {} bytes, not 32", bytes.len()))
}

fn token_entry(row: &Row) -> Result<TokenEntry> {
    Ok(TokenEntry {
        created_at: row.try_get("created_at")?,
        used_by: row.try_get("used_by")?,
        expires_at: row.try_get("expires_at")?,
        revoked: row.try_get("revoked")?,
        centre: row.try_get("centre")?,
    })
}

fn device_entry(row: &Row) -> Result<DeviceEntry> {
    Ok(DeviceEntry {
        signing_key: row.try_get("signing_key")?,
        provisioned_at: row.try_get("provisioned_at")?,
        certificates: count(row.try_get("certificates")?)?,
        certificate_not_after: row.try_get("certificate_not_after")?,
        centre: row.try_get("centre")?,
        withdrawn: withdrawal(row)?,
    })
}

/// A device row's withdrawal columns (`withdrawn_reason`, `withdrawn_at`, `accept_until`).
fn withdrawal(row: &Row) -> Result<Option<Withdrawal>> {
    let reason: Option<String> = row.try_get("withdrawn_reason")?;
    let at: Option<i64> = row.try_get("withdrawn_at")?;
    let accept_until = row
        .try_get::<_, Option<i64>>("accept_until")?
        .map(count)
        .transpose()?;
    match (reason, at) {
        (Some(reason), Some(at)) => Ok(Some(Withdrawal {
            reason,
            at,
            accept_until,
        })),
        (None, None) => Ok(None),
        // The table's CHECK forbids it; a damaged row is reported, not half-read.
        _ => bail!("a device's withdrawal is stored without its reason or time"),
    }
}

fn withdrawn_device(row: &Row) -> Result<WithdrawnDevice> {
    Ok(WithdrawnDevice {
        device: row.try_get("device")?,
        withdrawal: withdrawal(row)?.context("a device listed as withdrawn has no withdrawal")?,
    })
}

fn staff_member(row: &Row) -> Result<StaffMember> {
    let number: String = row.try_get("number")?;
    let role: String = row.try_get("role")?;
    let role = role
        .parse::<Role>()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("staff member {number}'s stored role"))?;
    Ok(StaffMember {
        role,
        centre: row.try_get("centre")?,
        pin_hash: row.try_get("pin_hash")?,
        disabled: row.try_get("disabled")?,
        changed_at: row.try_get("changed_at")?,
        number,
    })
}

fn centre_entry(row: &Row) -> Result<CentreEntry> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let kind = kind
        .parse::<CentreKind>()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("centre {id}'s stored kind"))?;
    let settings: String = row.try_get("settings")?;
    let settings: Settings = serde_json::from_str(&settings)
        .with_context(|| format!("centre {id}'s stored settings"))?;
    Ok(CentreEntry {
        name: row.try_get("name")?,
        kind,
        settings,
        id,
    })
}

fn audit_entry(row: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        number: count(row.try_get("number")?)?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        received_at: row.try_get("received_at")?,
    })
}

/// An update target as the `updates` table's (`target_kind`, `target_id`) columns.
fn target_columns(target: &UpdateTarget) -> (&'static str, Option<&str>) {
    match target {
        UpdateTarget::All => ("all", None),
        UpdateTarget::Centre(id) => ("centre", Some(id)),
        UpdateTarget::Device(id) => ("device", Some(id)),
    }
}

fn published_update(row: &Row) -> Result<PublishedUpdate> {
    let sha256: String = row.try_get("sha256")?;
    let kind: String = row.try_get("target_kind")?;
    let id: Option<String> = row.try_get("target_id")?;
    let target = match (kind.as_str(), id) {
        ("all", None) => UpdateTarget::All,
        ("centre", Some(id)) => UpdateTarget::Centre(id),
        ("device", Some(id)) => UpdateTarget::Device(id),
        // The table's CHECKs forbid it; a damaged row is reported, not guessed at.
        (kind, id) => bail!(
            "update {sha256} is published to a target stored as {kind:?} {:?}",
            id.unwrap_or_default()
        ),
    };
    Ok(PublishedUpdate {
        version: row.try_get("version")?,
        size: count(row.try_get("size")?)
            .with_context(|| format!("update {sha256}'s stored size"))?,
        target,
        published_at: row.try_get("published_at")?,
        sha256,
    })
}

/// Raises the fleet version in the session's transaction and returns the new one. The row
/// stays locked until the transaction ends: a change on another node waits, then raises the
/// version this one committed.
fn raise_version(session: &mut Session<'_>) -> Result<u64> {
    let row = session.query_one(
        "UPDATE fleet_version SET version = version + 1 RETURNING version",
        &[],
    )?;
    count(row.try_get("version")?)
}

fn incident_entry(row: &Row) -> Result<Incident> {
    Ok(Incident {
        at: row.try_get("at")?,
        device: row.try_get("device")?,
        seq: row
            .try_get::<_, Option<i64>>("seq")?
            .map(count)
            .transpose()?,
        code: row.try_get("code")?,
        message: row.try_get("message")?,
    })
}

fn flag_entry(row: &Row) -> Result<Flag> {
    Ok(Flag {
        device: row.try_get("device")?,
        seq: count(row.try_get("seq")?)?,
        code: row.try_get("code")?,
        detail: row.try_get("detail")?,
        at: row.try_get("at")?,
    })
}

/// Which refusal, if any, stops a provisioning: the embedded engine's order (a key conflict
/// first, then a withdrawal, then the token), so both engines give the same answer to the
/// same request.
fn provision_refusal(
    known: Option<&DeviceEntry>,
    token: Option<&TokenEntry>,
    request: &Provision<'_>,
) -> Option<ProvisionRefusal> {
    match (known, request.token_hash) {
        (Some(entry), _) if entry.signing_key != request.signing_key => {
            Some(ProvisionRefusal::KeyConflict)
        }
        (Some(entry), _) if entry.withdrawn.is_some() => Some(ProvisionRefusal::Withdrawn),
        (_, Some(_)) => token_refusal(token, request),
        (None, None) => Some(ProvisionRefusal::TokenRequired),
        (Some(_), None) => None,
    }
}

/// Every withdrawn device, by id (for `withdrawn` and `stats`).
const WITHDRAWN: &str = "SELECT device, withdrawn_reason, withdrawn_at, accept_until \
                         FROM devices WHERE withdrawn_at IS NOT NULL ORDER BY device";

/// A held record's hash and receipt, by seq.
type Held = HashMap<u64, (Hash, Vec<u8>)>;

/// Where `record` stands against what is held: `Ok(Some(receipt))` when it is held already,
/// `Ok(None)` when it follows the head, `Err` when it cannot join.
fn place(
    record: &Checked<'_>,
    held: &Held,
    head: &Head,
) -> std::result::Result<Option<Vec<u8>>, ChainRefusal> {
    if let Some((stored, receipt)) = held.get(&record.seq) {
        // The hash names the bytes (Checked holds the SHA-256 of its bytes): the same hash is
        // the same bytes, compared without reading an envelope back.
        return if *stored == record.hash {
            Ok(Some(receipt.clone()))
        } else {
            Err(ChainRefusal::OtherBytes)
        };
    }
    match super::chain_refusal(*head, record) {
        Some(refusal) => Err(refusal),
        None => Ok(None),
    }
}

impl Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn ping(&self) -> Result<()> {
        self.read(|session| session.query_one("SELECT 1", &[]).map(drop))
    }

    fn meta(&self) -> Result<Option<Meta>> {
        self.read(|session| {
            session
                .query_opt(
                    "SELECT receipt_key, age_recipient, created_at FROM meta",
                    &[],
                )?
                .map(|row| -> Result<Meta> {
                    Ok(Meta {
                        receipt_key: row.try_get("receipt_key")?,
                        age_recipient: row.try_get("age_recipient")?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .transpose()
        })
    }

    fn init_meta(&self, meta: &Meta) -> Result<()> {
        let stored = self.statement(|session| {
            session.execute(
                "INSERT INTO meta (receipt_key, age_recipient, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (only_row) DO NOTHING",
                &[&meta.receipt_key, &meta.age_recipient, &meta.created_at],
            )
        })?;
        if stored == 0 {
            bail!("this database already holds a registry");
        }
        Ok(())
    }

    fn add_token(&self, hash: &str, entry: &TokenEntry) -> Result<()> {
        // The same hash again replaces the entry, as the embedded engine's insert does.
        self.statement(|session| {
            session.execute(
                "INSERT INTO tokens (hash, created_at, used_by, expires_at, revoked, centre) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO UPDATE SET \
                 created_at = EXCLUDED.created_at, used_by = EXCLUDED.used_by, \
                 expires_at = EXCLUDED.expires_at, revoked = EXCLUDED.revoked, \
                 centre = EXCLUDED.centre",
                &[
                    &hash,
                    &entry.created_at,
                    &entry.used_by,
                    &entry.expires_at,
                    &entry.revoked,
                    &entry.centre,
                ],
            )
        })?;
        Ok(())
    }

    fn revoke_token(&self, hash: &str) -> Result<bool> {
        let revoked = self.statement(|session| {
            session.execute(
                "UPDATE tokens SET revoked = true \
                 WHERE hash = $1 AND used_by IS NULL AND NOT revoked",
                &[&hash],
            )
        })?;
        Ok(revoked == 1)
    }

    /// Locks the token's row, then the device's (always in that order, so two provisionings
    /// cannot deadlock), decides as the embedded engine does, and writes the token's use and
    /// the device in the same transaction; a refusal rolls back. A token's centre becomes a
    /// new device's centre; a re-issue keeps the one it has (it may have been moved since).
    fn provision(&self, request: &Provision<'_>) -> Result<Result<DeviceEntry, ProvisionRefusal>> {
        self.write(|session| {
            let token = match request.token_hash {
                Some(hash) => session
                    .query_opt(
                        "SELECT created_at, used_by, expires_at, revoked, centre FROM tokens \
                         WHERE hash = $1 FOR UPDATE",
                        &[&hash],
                    )?
                    .map(|row| token_entry(&row))
                    .transpose()?,
                None => None,
            };
            let known = session
                .query_opt(
                    "SELECT signing_key, provisioned_at, certificates, certificate_not_after, \
                     centre, withdrawn_reason, withdrawn_at, accept_until \
                     FROM devices WHERE device = $1 FOR UPDATE",
                    &[&request.device],
                )?
                .map(|row| device_entry(&row))
                .transpose()?;
            if let Some(refusal) = provision_refusal(known.as_ref(), token.as_ref(), request) {
                session.roll_back();
                return Ok(Err(refusal));
            }
            if let Some(hash) = request.token_hash {
                session.execute(
                    "UPDATE tokens SET used_by = $2 WHERE hash = $1",
                    &[&hash, &request.device],
                )?;
            }
            let centre = token.as_ref().and_then(|token| token.centre.as_deref());
            // A device row made by another node since the lock above (a new device has no
            // row to lock) is counted on, unless its key differs or it was withdrawn since:
            // then no row comes back.
            let stored = session.query_opt(
                "INSERT INTO devices (device, signing_key, provisioned_at, certificates, \
                 certificate_not_after, centre) VALUES ($1, $2, $3, 1, $4, $5) \
                 ON CONFLICT (device) DO UPDATE SET \
                 certificates = devices.certificates + 1, \
                 certificate_not_after = EXCLUDED.certificate_not_after \
                 WHERE devices.signing_key = EXCLUDED.signing_key \
                 AND devices.withdrawn_at IS NULL \
                 RETURNING signing_key, provisioned_at, certificates, certificate_not_after, \
                 centre, withdrawn_reason, withdrawn_at, accept_until",
                &[
                    &request.device,
                    &request.signing_key,
                    &request.now,
                    &request.certificate_not_after,
                    &centre,
                ],
            )?;
            if let Some(row) = stored {
                return Ok(Ok(device_entry(&row)?));
            }
            session.roll_back();
            // The conflicting row is locked by the INSERT above even though it was left
            // alone, so what it says now is what refused it.
            let row = session.query_one(
                "SELECT signing_key, withdrawn_at FROM devices WHERE device = $1",
                &[&request.device],
            )?;
            let signing_key: String = row.try_get("signing_key")?;
            let withdrawn_at: Option<i64> = row.try_get("withdrawn_at")?;
            if signing_key == request.signing_key && withdrawn_at.is_some() {
                Ok(Err(ProvisionRefusal::Withdrawn))
            } else {
                Ok(Err(ProvisionRefusal::KeyConflict))
            }
        })
    }

    fn certificate_renewed(&self, device: &str, not_after: i64) -> Result<()> {
        self.statement(|session| {
            session.execute(
                "UPDATE devices SET certificates = certificates + 1, \
                 certificate_not_after = $2 WHERE device = $1",
                &[&device, &not_after],
            )
        })?;
        Ok(())
    }

    fn device(&self, device: &str) -> Result<Option<DeviceEntry>> {
        self.read(|session| {
            session
                .query_opt(
                    "SELECT signing_key, provisioned_at, certificates, certificate_not_after, \
                     centre, withdrawn_reason, withdrawn_at, accept_until \
                     FROM devices WHERE device = $1",
                    &[&device],
                )?
                .map(|row| device_entry(&row))
                .transpose()
        })
    }

    /// Kept on the device's row, so a call from a device not provisioned here is not noted
    /// (the operators' page lists provisioned devices only). `waiting` replaces what the
    /// last call said, `None` included.
    fn seen(&self, device: &str, at: i64, waiting: Option<u64>) -> Result<()> {
        let waiting = waiting.map(int).transpose()?;
        self.statement(|session| {
            session.execute(
                "UPDATE devices SET last_seen = $2, waiting = $3 WHERE device = $1",
                &[&device, &at, &waiting],
            )
        })?;
        Ok(())
    }

    fn head(&self, device: &str) -> Result<Head> {
        self.read(|session| {
            match session.query_opt("SELECT seq, hash FROM heads WHERE device = $1", &[&device])? {
                Some(row) => Ok(Head {
                    seq: count(row.try_get("seq")?)?,
                    hash: hash(row.try_get("hash")?)?,
                }),
                None => Ok(Head::EMPTY),
            }
        })
    }

    /// The device's `heads` row, locked `FOR UPDATE`, serialises appends to its chain across
    /// every node: a second node with the same record waits, then finds it held and returns
    /// the receipt the first stored. A batch that stores nothing rolls back, so a refused
    /// first record leaves no `heads` row behind (as in the embedded engine).
    fn append(
        &self,
        device: &str,
        records: &[Checked<'_>],
        sign: Signer<'_>,
        received_at: i64,
    ) -> Result<Appended> {
        let seqs = records
            .iter()
            .map(|record| int(record.seq))
            .collect::<Result<Vec<i64>>>()?;
        self.write(|session| {
            // A device's first append makes its row; the lock then waits for any other node
            // appending to the same device (including one making the row at the same time).
            session.execute(
                "INSERT INTO heads (device, seq, hash) VALUES ($1, 0, $2) \
                 ON CONFLICT (device) DO NOTHING",
                &[&device, &Head::EMPTY.hash.as_slice()],
            )?;
            let row = session.query_one(
                "SELECT seq, hash FROM heads WHERE device = $1 FOR UPDATE",
                &[&device],
            )?;
            let mut head = Head {
                seq: count(row.try_get("seq")?)?,
                hash: hash(row.try_get("hash")?)?,
            };
            let mut held = Held::new();
            for row in session.query(
                "SELECT seq, hash, receipt FROM records WHERE device = $1 AND seq = ANY($2)",
                &[&device, &seqs],
            )? {
                let seq = count(row.try_get("seq")?)?;
                held.insert(seq, (hash(row.try_get("hash")?)?, row.try_get("receipt")?));
            }
            let mut appended = Appended::default();
            let mut stored = Vec::new();
            for record in records {
                let receipt = match place(record, &held, &head) {
                    Ok(Some(receipt)) => receipt,
                    Ok(None) => {
                        let receipt = sign(record.seq, record.hash, received_at);
                        session.execute(
                            "INSERT INTO records (device, seq, bytes, hash, prev_hash, receipt, \
                             received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            &[
                                &device,
                                &int(record.seq)?,
                                &record.bytes,
                                &record.hash.as_slice(),
                                &record.prev_hash.as_slice(),
                                &receipt,
                                &received_at,
                            ],
                        )?;
                        head = Head {
                            seq: record.seq,
                            hash: record.hash,
                        };
                        // The same record again later in this batch is held by then.
                        held.insert(record.seq, (record.hash, receipt.clone()));
                        stored.push(int(record.seq)?);
                        appended.new += 1;
                        appended.new_bytes += record.bytes.len() as u64;
                        receipt
                    }
                    Err(refusal) => {
                        appended.refusal = Some((record.seq, refusal));
                        break;
                    }
                };
                appended.receipts.push(receipt);
            }
            if stored.is_empty() {
                session.roll_back();
                return Ok(appended);
            }
            session.execute(
                "UPDATE heads SET seq = $2, hash = $3 WHERE device = $1",
                &[&device, &int(head.seq)?, &head.hash.as_slice()],
            )?;
            // A part-upload left by a cut, of a record that then came whole, goes with it.
            session.execute(
                "DELETE FROM parts WHERE device = $1 AND seq = ANY($2)",
                &[&device, &stored],
            )?;
            Ok(appended)
        })
    }

    fn receipt(&self, device: &str, seq: u64) -> Result<Option<Vec<u8>>> {
        let seq = int(seq)?;
        self.read(|session| {
            session
                .query_opt(
                    "SELECT receipt FROM records WHERE device = $1 AND seq = $2",
                    &[&device, &seq],
                )?
                .map(|row| row.try_get("receipt").map_err(anyhow::Error::from))
                .transpose()
        })
    }

    fn record(&self, device: &str, seq: u64) -> Result<Option<Vec<u8>>> {
        let seq = int(seq)?;
        self.read(|session| {
            session
                .query_opt(
                    "SELECT bytes FROM records WHERE device = $1 AND seq = $2",
                    &[&device, &seq],
                )?
                .map(|row| row.try_get("bytes").map_err(anyhow::Error::from))
                .transpose()
        })
    }

    fn part_len(&self, device: &str, seq: u64) -> Result<u64> {
        let seq = int(seq)?;
        self.read(|session| {
            match session.query_opt(
                "SELECT octet_length(bytes)::bigint AS held FROM parts \
                 WHERE device = $1 AND seq = $2",
                &[&device, &seq],
            )? {
                Some(row) => count(row.try_get("held")?),
                None => Ok(0),
            }
        })
    }

    /// The part-upload's row, made empty if missing and locked, serialises the parts of one
    /// record across nodes; each part is appended in the database, so a call sends only its
    /// own bytes. A mismatch rolls back (nothing held changes).
    fn put_part(
        &self,
        device: &str,
        seq: u64,
        offset: u64,
        bytes: &[u8],
        total: u64,
    ) -> Result<PartOutcome> {
        let seq = int(seq)?;
        self.write(|session| {
            session.execute(
                "INSERT INTO parts (device, seq, bytes) VALUES ($1, $2, '') \
                 ON CONFLICT (device, seq) DO NOTHING",
                &[&device, &seq],
            )?;
            let row = session.query_one(
                "SELECT octet_length(bytes)::bigint AS held FROM parts \
                 WHERE device = $1 AND seq = $2 FOR UPDATE",
                &[&device, &seq],
            )?;
            let held = count(row.try_get("held")?)?;
            if held != offset {
                session.roll_back();
                return Ok(PartOutcome::Mismatch { held });
            }
            let now_held = held + bytes.len() as u64;
            if now_held > total {
                session.execute(
                    "DELETE FROM parts WHERE device = $1 AND seq = $2",
                    &[&device, &seq],
                )?;
                return Ok(PartOutcome::Overlong);
            }
            if now_held < total {
                session.execute(
                    "UPDATE parts SET bytes = bytes || $3 WHERE device = $1 AND seq = $2",
                    &[&device, &seq, &bytes],
                )?;
                return Ok(PartOutcome::Progress(now_held));
            }
            let row = session.query_one(
                "UPDATE parts SET bytes = bytes || $3 WHERE device = $1 AND seq = $2 \
                 RETURNING bytes",
                &[&device, &seq, &bytes],
            )?;
            Ok(PartOutcome::Complete(row.try_get("bytes")?))
        })
    }

    fn incident(&self, incident: &Incident) -> Result<()> {
        let seq = incident.seq.map(int).transpose()?;
        self.statement(|session| {
            session.execute(
                "INSERT INTO incidents (at, device, seq, code, message) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &incident.at,
                    &incident.device,
                    &seq,
                    &incident.code,
                    &incident.message,
                ],
            )
        })?;
        Ok(())
    }

    /// Drops every incident dated before `before`, wherever it stands in the order of
    /// arrival (the embedded engine stops at the first newer one; with a clock that only
    /// goes forward the two agree).
    fn prune_incidents(&self, before: i64) -> Result<u64> {
        self.statement(|session| session.execute("DELETE FROM incidents WHERE at < $1", &[&before]))
    }

    /// Oldest arrival first; records that arrived in the same second by device id (byte
    /// order), then seq, as the embedded engine sorts them.
    fn unprocessed(&self, limit: usize) -> Result<Vec<Arrival>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|session| {
            session
                .query(
                    "SELECT device, seq, bytes, received_at FROM records \
                     WHERE processed = false ORDER BY received_at, device, seq LIMIT $1",
                    &[&limit],
                )?
                .iter()
                .map(|row| {
                    Ok(Arrival {
                        device: row.try_get("device")?,
                        seq: count(row.try_get("seq")?)?,
                        bytes: row.try_get("bytes")?,
                        received_at: row.try_get("received_at")?,
                    })
                })
                .collect()
        })
    }

    /// The document key is claimed with `INSERT … ON CONFLICT DO NOTHING`: of two records with
    /// one document processed at once on two nodes, one claims it and the other waits, then
    /// sees the claim and is flagged. Returns the flags this call stored, as the embedded
    /// engine does (processing a record again adds its flags again).
    fn processed(&self, outcome: &Processed<'_>) -> Result<Vec<Flag>> {
        let seq = int(outcome.seq)?;
        self.write(|session| {
            let mut flags = outcome.flags.clone();
            if let Some(key) = &outcome.document_key {
                session.execute(
                    "INSERT INTO documents (doc_key, device, seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (doc_key) DO NOTHING",
                    &[key, &outcome.device, &seq],
                )?;
                let row = session.query_one(
                    "SELECT device, seq FROM documents WHERE doc_key = $1",
                    &[key],
                )?;
                let first: String = row.try_get("device")?;
                let first_seq = count(row.try_get("seq")?)?;
                // The document of the records an amendment corrects is its own, not a
                // duplicate.
                let corrects = match &outcome.amends {
                    None => false,
                    Some((from, from_seq)) => in_amendment_chain(
                        (from, *from_seq),
                        (&first, first_seq),
                        |device, seq| {
                            let row = session.query_opt(
                                "SELECT amends_device, amends_seq FROM amendments \
                                 WHERE device = $1 AND seq = $2",
                                &[&device, &int(seq)?],
                            )?;
                            row.map(|row| {
                                Ok((
                                    row.try_get::<_, String>("amends_device")?,
                                    count(row.try_get("amends_seq")?)?,
                                ))
                            })
                            .transpose()
                        },
                    )?,
                };
                if (first.as_str(), first_seq) != (outcome.device, outcome.seq) && !corrects {
                    flags.push(duplicate_flag(outcome, &first, first_seq));
                }
            }
            for flag in &flags {
                session.execute(
                    "INSERT INTO flags (device, seq, code, detail, at) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &flag.device,
                        &int(flag.seq)?,
                        &flag.code,
                        &flag.detail,
                        &flag.at,
                    ],
                )?;
            }
            if let Some((device, amended_seq)) = &outcome.amends {
                // Processing a record again keeps one link.
                session.execute(
                    "INSERT INTO amendments (device, seq, amends_device, amends_seq) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (device, seq) DO NOTHING",
                    &[&outcome.device, &seq, device, &int(*amended_seq)?],
                )?;
            }
            session.execute(
                "UPDATE records SET processed = true WHERE device = $1 AND seq = $2",
                &[&outcome.device, &seq],
            )?;
            Ok(flags)
        })
    }

    fn amendments(&self, device: &str, seq: u64) -> Result<Amendments> {
        let seq = int(seq)?;
        self.read(|session| {
            let amends = session
                .query_opt(
                    "SELECT amends_device, amends_seq FROM amendments \
                     WHERE device = $1 AND seq = $2",
                    &[&device, &seq],
                )?
                .map(|row| {
                    Ok::<_, anyhow::Error>((
                        row.try_get::<_, String>("amends_device")?,
                        count(row.try_get("amends_seq")?)?,
                    ))
                })
                .transpose()?;
            let amended_by = session
                .query(
                    "SELECT device, seq FROM amendments \
                     WHERE amends_device = $1 AND amends_seq = $2 ORDER BY id",
                    &[&device, &seq],
                )?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get::<_, String>("device")?,
                        count(row.try_get("seq")?)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Amendments { amends, amended_by })
        })
    }

    fn flags(&self) -> Result<Vec<Flag>> {
        self.read(|session| {
            session
                .query(
                    "SELECT device, seq, code, detail, at FROM flags ORDER BY id",
                    &[],
                )?
                .iter()
                .map(flag_entry)
                .collect()
        })
    }

    /// All counts from one snapshot. A chain is complete when its records number its head
    /// seq, the highest is the head, each record's `prev_hash` is the hash of the one before
    /// it (zeros for the first), and the head's hash is the last record's: the links the
    /// append checked, read back from the stored hashes.
    fn stats(&self) -> Result<Stats> {
        self.snapshot(|session| {
            let totals = session.query_one(
                "SELECT \
                 (SELECT count(*) FROM devices) AS devices, \
                 (SELECT count(*) FROM tokens) AS tokens, \
                 (SELECT count(used_by) FROM tokens) AS tokens_used, \
                 (SELECT count(*) FROM tokens WHERE revoked) AS tokens_revoked, \
                 (SELECT count(*) FROM records) AS records, \
                 (SELECT coalesce(sum(octet_length(bytes)), 0)::bigint FROM records) \
                    AS record_bytes, \
                 (SELECT count(*) FROM records WHERE processed) AS records_processed, \
                 (SELECT count(*) FROM parts) AS uploads_in_progress, \
                 (SELECT count(*) FROM incidents) AS incidents, \
                 (SELECT count(*) FROM flags) AS flags",
                &[],
            )?;
            let total = |name: &str| -> Result<u64> { count(totals.try_get(name)?) };
            let chains = session
                .query(
                    "WITH linked AS ( \
                         SELECT device, seq, prev_hash, \
                                lag(hash) OVER (PARTITION BY device ORDER BY seq) AS before \
                         FROM records \
                     ), per_device AS ( \
                         SELECT device, count(*) AS held, max(seq) AS top, \
                                bool_and(prev_hash = coalesce(before, $1)) AS linked \
                         FROM linked GROUP BY device \
                     ) \
                     SELECT h.device, h.seq, coalesce(p.held, 0) AS held, \
                            coalesce(p.held = h.seq AND p.top = h.seq AND p.linked \
                                     AND last.hash = h.hash, false) AS complete \
                     FROM heads h \
                     LEFT JOIN per_device p ON p.device = h.device \
                     LEFT JOIN records last ON last.device = h.device AND last.seq = h.seq \
                     WHERE h.seq > 0 \
                     ORDER BY h.device",
                    &[&Head::EMPTY.hash.as_slice()],
                )?
                .iter()
                .map(|row| {
                    Ok(ChainStats {
                        device: row.try_get("device")?,
                        head: count(row.try_get("seq")?)?,
                        records: count(row.try_get("held")?)?,
                        complete: row.try_get("complete")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut recent_incidents = session
                .query(
                    "SELECT at, device, seq, code, message FROM incidents \
                     ORDER BY id DESC LIMIT 20",
                    &[],
                )?
                .iter()
                .map(incident_entry)
                .collect::<Result<Vec<_>>>()?;
            recent_incidents.reverse();
            let withdrawn = session
                .query(WITHDRAWN, &[])?
                .iter()
                .map(withdrawn_device)
                .collect::<Result<Vec<_>>>()?;
            Ok(Stats {
                devices: total("devices")?,
                tokens: total("tokens")?,
                tokens_used: total("tokens_used")?,
                tokens_revoked: total("tokens_revoked")?,
                records: total("records")?,
                record_bytes: total("record_bytes")?,
                records_processed: total("records_processed")?,
                uploads_in_progress: total("uploads_in_progress")?,
                incidents: total("incidents")?,
                flags: total("flags")?,
                chains,
                recent_incidents,
                withdrawn,
            })
        })
    }

    fn devices(&self) -> Result<Vec<DeviceOverview>> {
        self.snapshot(|session| {
            session
                .query(
                    "SELECT d.device, d.provisioned_at, d.last_seen, coalesce(h.seq, 0) AS head, \
                            d.waiting, coalesce(i.refusals, 0) AS refusals, \
                            d.certificate_not_after \
                     FROM devices d \
                     LEFT JOIN heads h ON h.device = d.device \
                     LEFT JOIN (SELECT device, count(*) AS refusals FROM incidents \
                                GROUP BY device) i ON i.device = d.device \
                     ORDER BY d.device",
                    &[],
                )?
                .iter()
                .map(|row| {
                    Ok(DeviceOverview {
                        device: row.try_get("device")?,
                        provisioned_at: row.try_get("provisioned_at")?,
                        last_seen: row.try_get("last_seen")?,
                        head: count(row.try_get("head")?)?,
                        waiting: row
                            .try_get::<_, Option<i64>>("waiting")?
                            .map(count)
                            .transpose()?,
                        refusals: count(row.try_get("refusals")?)?,
                        certificate_not_after: row.try_get("certificate_not_after")?,
                    })
                })
                .collect()
        })
    }

    fn per_day(&self, days: u32, now: i64) -> Result<PerDay> {
        let since = day_of(now) - i64::from(days) * 86_400;
        let counts = self.read(|session| {
            session
                .query(
                    // The floor of the day, also before 1970 (`%` keeps the dividend's sign).
                    "SELECT received_at - ((received_at % 86400) + 86400) % 86400 AS day, \
                            count(*) AS records \
                     FROM records WHERE received_at >= $1 GROUP BY 1",
                    &[&since],
                )?
                .iter()
                .map(|row| Ok((row.try_get("day")?, count(row.try_get("records")?)?)))
                .collect::<Result<Vec<(i64, u64)>>>()
        })?;
        Ok(fill_days(&counts, days, now))
    }

    /// The version is raised first: its row lock orders this change against every other
    /// fleet change on any node before anything else is touched.
    fn put_staff(&self, member: &StaffMember) -> Result<u64> {
        self.write(|session| {
            let version = raise_version(session)?;
            // Put again is how a number comes back: the entry is stored enabled.
            session.execute(
                "INSERT INTO staff (number, role, centre, pin_hash, disabled, changed_at) \
                 VALUES ($1, $2, $3, $4, false, $5) ON CONFLICT (number) DO UPDATE SET \
                 role = EXCLUDED.role, centre = EXCLUDED.centre, pin_hash = EXCLUDED.pin_hash, \
                 disabled = false, changed_at = EXCLUDED.changed_at",
                &[
                    &member.number,
                    &member.role.as_str(),
                    &member.centre,
                    &member.pin_hash,
                    &member.changed_at,
                ],
            )?;
            Ok(version)
        })
    }

    /// An unknown number rolls back, so the version is raised only by a change.
    fn set_staff_disabled(&self, number: &str, disabled: bool, at: i64) -> Result<Option<u64>> {
        self.write(|session| {
            let version = raise_version(session)?;
            let changed = session.execute(
                "UPDATE staff SET disabled = $2, changed_at = $3 WHERE number = $1",
                &[&number, &disabled, &at],
            )?;
            if changed == 0 {
                session.roll_back();
                return Ok(None);
            }
            Ok(Some(version))
        })
    }

    fn staff(&self) -> Result<Vec<StaffMember>> {
        self.read(|session| {
            session
                .query(
                    "SELECT number, role, centre, pin_hash, disabled, changed_at FROM staff \
                     ORDER BY number",
                    &[],
                )?
                .iter()
                .map(staff_member)
                .collect()
        })
    }

    fn put_centre(&self, centre: &CentreEntry) -> Result<u64> {
        // Kept as JSON: only the registry reads settings back, whole.
        let settings = serde_json::to_string(&centre.settings)?;
        self.write(|session| {
            let version = raise_version(session)?;
            session.execute(
                "INSERT INTO centres (id, name, kind, settings) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, \
                 settings = EXCLUDED.settings",
                &[&centre.id, &centre.name, &centre.kind.as_str(), &settings],
            )?;
            Ok(version)
        })
    }

    fn centres(&self) -> Result<Vec<CentreEntry>> {
        self.read(|session| {
            session
                .query(
                    "SELECT id, name, kind, settings FROM centres ORDER BY id",
                    &[],
                )?
                .iter()
                .map(centre_entry)
                .collect()
        })
    }

    /// An unknown device rolls back, so the version is raised only by a change.
    fn assign_device(&self, device: &str, centre: &str) -> Result<Option<u64>> {
        self.write(|session| {
            let version = raise_version(session)?;
            let changed = session.execute(
                "UPDATE devices SET centre = $2 WHERE device = $1",
                &[&device, &centre],
            )?;
            if changed == 0 {
                session.roll_back();
                return Ok(None);
            }
            Ok(Some(version))
        })
    }

    /// One repeatable-read snapshot: the version, the centre and the staff agree with each
    /// other, whatever commits meanwhile.
    fn fleet_snapshot(&self, centre: Option<&str>) -> Result<FleetSnapshot> {
        self.snapshot(|session| {
            let row = session.query_one("SELECT version FROM fleet_version", &[])?;
            let version = count(row.try_get("version")?)?;
            let entry = match centre {
                Some(id) => session
                    .query_opt(
                        "SELECT id, name, kind, settings FROM centres WHERE id = $1",
                        &[&id],
                    )?
                    .map(|row| centre_entry(&row))
                    .transpose()?,
                None => None,
            };
            // `centre = NULL` is never true: with no centre, only staff of no centre.
            let staff = session
                .query(
                    "SELECT number, role, centre, pin_hash, disabled, changed_at FROM staff \
                     WHERE NOT disabled AND (centre IS NULL OR centre = $1) ORDER BY number",
                    &[&centre],
                )?
                .iter()
                .map(staff_member)
                .collect::<Result<Vec<_>>>()?;
            Ok(FleetSnapshot {
                version,
                centre: entry,
                staff,
            })
        })
    }

    /// Conditional on the version in the statement itself, so of two commands storing at
    /// once the higher version stays, whichever commits last.
    fn put_policy(&self, centre: Option<&str>, version: u64, signed: &[u8]) -> Result<bool> {
        let version = int(version)?;
        let stored = self.statement(|session| {
            session.execute(
                "INSERT INTO policies (centre, version, signed) VALUES ($1, $2, $3) \
                 ON CONFLICT (centre) DO UPDATE SET \
                 version = EXCLUDED.version, signed = EXCLUDED.signed \
                 WHERE policies.version < EXCLUDED.version",
                &[&centre, &version, &signed],
            )
        })?;
        Ok(stored == 1)
    }

    fn policy(&self, centre: Option<&str>) -> Result<Option<(u64, Vec<u8>)>> {
        self.read(|session| {
            session
                .query_opt(
                    // One row per centre, so the comparison's lack of an index costs nothing;
                    // it matches the row of no centre too.
                    "SELECT version, signed FROM policies WHERE centre IS NOT DISTINCT FROM $1",
                    &[&centre],
                )?
                .map(|row| -> Result<(u64, Vec<u8>)> {
                    Ok((count(row.try_get("version")?)?, row.try_get("signed")?))
                })
                .transpose()
        })
    }

    /// One statement on the device's row: it waits for a provisioning of the device holding
    /// the row, and a provisioning after it sees the withdrawal.
    fn withdraw(&self, device: &str, withdrawal: &Withdrawal) -> Result<bool> {
        let accept_until = withdrawal.accept_until.map(int).transpose()?;
        let changed = self.statement(|session| {
            session.execute(
                "UPDATE devices SET withdrawn_reason = $2, withdrawn_at = $3, accept_until = $4 \
                 WHERE device = $1",
                &[&device, &withdrawal.reason, &withdrawal.at, &accept_until],
            )
        })?;
        Ok(changed == 1)
    }

    fn withdrawn(&self) -> Result<Vec<WithdrawnDevice>> {
        self.read(|session| {
            session
                .query(WITHDRAWN, &[])?
                .iter()
                .map(withdrawn_device)
                .collect()
        })
    }

    /// The events go in one statement; `ON CONFLICT DO NOTHING` keeps the first stored of
    /// each number, also when two nodes store the same events at once (the second waits for
    /// the first, then skips them). The head is read in the same transaction.
    fn add_audit(&self, device: &str, events: &[AuditEntry]) -> Result<u64> {
        let mut numbers = Vec::with_capacity(events.len());
        for event in events {
            numbers.push(int(event.number)?);
        }
        let at: Vec<i64> = events.iter().map(|event| event.at).collect();
        let actor: Vec<&str> = events.iter().map(|event| event.actor.as_str()).collect();
        let action: Vec<&str> = events.iter().map(|event| event.action.as_str()).collect();
        let subject: Vec<&str> = events.iter().map(|event| event.subject.as_str()).collect();
        let received_at: Vec<i64> = events.iter().map(|event| event.received_at).collect();
        self.write(|session| {
            if !numbers.is_empty() {
                session.execute(
                    "INSERT INTO audit (device, number, at, actor, action, subject, received_at) \
                     SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], \
                     $5::text[], $6::text[], $7::bigint[]) \
                     ON CONFLICT (device, number) DO NOTHING",
                    &[
                        &device,
                        &numbers,
                        &at,
                        &actor,
                        &action,
                        &subject,
                        &received_at,
                    ],
                )?;
            }
            let row = session.query_one(
                "SELECT coalesce(max(number), 0) AS head FROM audit WHERE device = $1",
                &[&device],
            )?;
            count(row.try_get("head")?)
        })
    }

    fn audit_head(&self, device: &str) -> Result<u64> {
        self.read(|session| {
            let row = session.query_one(
                "SELECT coalesce(max(number), 0) AS head FROM audit WHERE device = $1",
                &[&device],
            )?;
            count(row.try_get("head")?)
        })
    }

    fn audit(&self, device: &str) -> Result<Vec<AuditEntry>> {
        self.read(|session| {
            session
                .query(
                    "SELECT number, at, actor, action, subject, received_at FROM audit \
                     WHERE device = $1 ORDER BY number",
                    &[&device],
                )?
                .iter()
                .map(audit_entry)
                .collect()
        })
    }

    /// One statement: the publication's unique (bundle, target) decides between a new row
    /// and a replacement, also when two commands publish the same bundle to the same target
    /// at once (the second waits for the first, then replaces it). A replacement keeps its
    /// row, so its `id` (its place among publications of the same second) stays.
    fn publish_update(&self, update: &PublishedUpdate) -> Result<()> {
        let (kind, id) = target_columns(&update.target);
        let size = int(update.size)?;
        self.statement(|session| {
            session.execute(
                "INSERT INTO updates (sha256, target_kind, target_id, version, size, \
                 published_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT ON CONSTRAINT updates_publication DO UPDATE SET \
                 version = EXCLUDED.version, size = EXCLUDED.size, \
                 published_at = EXCLUDED.published_at",
                &[
                    &update.sha256,
                    &kind,
                    &id,
                    &update.version,
                    &size,
                    &update.published_at,
                ],
            )
        })
        .with_context(|| format!("publish update {}", update.sha256))?;
        Ok(())
    }

    fn updates(&self) -> Result<Vec<PublishedUpdate>> {
        self.read(|session| {
            session
                .query(
                    "SELECT sha256, target_kind, target_id, version, size, published_at \
                     FROM updates ORDER BY published_at, id",
                    &[],
                )?
                .iter()
                .map(published_update)
                .collect()
        })
    }

    /// One statement, found through the publication constraint's index (it leads with the
    /// bundle's hash).
    fn unpublish_update(&self, sha256: &str) -> Result<u64> {
        self.statement(|session| {
            session.execute("DELETE FROM updates WHERE sha256 = $1", &[&sha256])
        })
        .with_context(|| format!("unpublish update {sha256}"))
    }
}
