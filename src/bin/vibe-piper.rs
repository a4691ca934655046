//! The `vibe-piper` command: run SQL across sources, list tables, run the embedded demo.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use vibe_piper::engine::{ExtractOptions, Progress};
use vibe_piper::{Engine, Error, Result};

#[derive(Parser)]
#[command(
    name = "vibe-piper",
    version,
    about = "One SQL query across PostgreSQL, MySQL/MariaDB, Snowflake, BigQuery, SQLite and Parquet/CSV, as Arrow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a query (or, without QUERY, an interactive prompt).
    Sql {
        #[command(flatten)]
        sources: SourceArgs,
        /// Output format (default: table on a terminal, csv otherwise).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Write the result to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Partitions per scan (the session's target partitions).
        #[arg(long)]
        partitions: Option<usize>,
        /// No progress bar while a query runs.
        #[arg(long, short)]
        quiet: bool,
        /// Reading statements from standard input: run them all even when one fails (the run
        /// still fails at the end). Without it, the first failing statement stops the run.
        #[arg(long)]
        continue_on_error: bool,
        /// The query; `EXPLAIN ...` works too. Without it: statements from standard input, or
        /// an interactive prompt on a terminal.
        query: Option<String>,
    },
    /// Write a query's result to Parquet, CSV, JSON lines or Arrow files in a local folder or
    /// on object storage (s3://bucket/prefix/), one writer per partition; the files appear
    /// only when the whole result is written, with a manifest `_vp_manifest.json` last.
    Extract {
        #[command(flatten)]
        sources: SourceArgs,
        /// The query whose result is written.
        #[arg(long)]
        query: String,
        /// A folder (ending in `/`) or one file: a path, file://, s3://, gs:// or az://.
        #[arg(long)]
        output: String,
        /// parquet (default), csv, jsonl or arrow; a file destination's extension names it too.
        #[arg(long)]
        format: Option<String>,
        /// Partitions of the scan, hence parallel writers (default: the number of cores).
        #[arg(long)]
        partitions: Option<usize>,
        /// Start a new file after this many rows.
        #[arg(long)]
        max_rows_per_file: Option<usize>,
        /// Hive-style folders `COL=value/` for these columns (repeatable, or comma-separated).
        #[arg(long, value_delimiter = ',')]
        partition_by: Vec<String>,
        /// Parquet compression: zstd (default), zstd(N), snappy, lz4, gzip, brotli, none.
        #[arg(long)]
        compression: Option<String>,
        /// Rows per Parquet row group.
        #[arg(long)]
        row_group_rows: Option<usize>,
        /// Multipart upload part size in MiB (default 8; S3 needs at least 5).
        #[arg(long)]
        part_size_mib: Option<usize>,
        /// Parts uploaded at once per file (default 4).
        #[arg(long)]
        upload_concurrency: Option<usize>,
        /// Replace what the destination holds (the old files go once the new ones are complete).
        #[arg(long)]
        overwrite: bool,
        /// No progress bar: only the final summary line.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the tables of the sources with their Arrow schemas.
    Tables {
        #[command(flatten)]
        sources: SourceArgs,
    },
    /// Generate a small TPC-H data set (SQLite + Parquet), join across both, show the pushed SQL.
    Demo {
        /// TPC-H scale factor.
        #[arg(long, default_value_t = 0.01)]
        scale: f64,
        /// Cache directory for the generated data (default: the user's cache directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct SourceArgs {
    /// A source as NAME=URL (postgres://, mysql:// or mariadb://, sqlite://, file://); repeatable.
    #[arg(long = "source", value_name = "NAME=URL")]
    source: Vec<String>,
    /// A TOML file with a [sources] table of NAME = "URL" entries, and optionally
    /// memory_limit, temp_directory and disk_limit.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Memory the queries may hold (4GB, 512MB, 50%, unlimited); sorts, aggregates and joins
    /// spill to disk to stay within it. Also VP_MEMORY_LIMIT. [default: 80% of memory]
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Folder for spill files. Also VP_TEMP_DIRECTORY. [default: the system's temp folder]
    #[arg(long, value_name = "DIR")]
    temp_directory: Option<PathBuf>,
    /// Most spill files may hold at once (e.g. 20GB). Also VP_DISK_LIMIT. [default: 100GB]
    #[arg(long, value_name = "SIZE")]
    disk_limit: Option<String>,
}

#[derive(Copy, Clone, ValueEnum, PartialEq)]
enum Format {
    Table,
    Csv,
    Json,
    Parquet,
    Arrow,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    sources: std::collections::BTreeMap<String, String>,
    memory_limit: Option<String>,
    temp_directory: Option<PathBuf>,
    disk_limit: Option<String>,
}

/// A setting from the flag, else the environment variable, else the config file.
fn setting<T: Clone + From<String>>(flag: &Option<T>, env: &str, file: &Option<T>) -> Option<T> {
    flag.clone()
        .or_else(|| {
            std::env::var(env)
                .ok()
                .filter(|v| !v.is_empty())
                .map(T::from)
        })
        .or_else(|| file.clone())
}

fn size_setting(what: &str, text: Option<String>) -> Result<Option<String>> {
    let Some(t) = text else { return Ok(None) };
    // Checked here so that the error names the setting.
    t.parse::<vibe_piper::engine::MemoryLimit>()
        .map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{what}: {m}")),
            other => other,
        })?;
    Ok(Some(t))
}

async fn engine_with(args: &SourceArgs, partitions: Option<usize>) -> Result<Engine> {
    // INSERTs count the rows they load into the progress bar's counters.
    let mut builder = Engine::builder().progress(QUERY_PROGRESS.get_or_init(Progress::new).clone());
    if let Some(n) = partitions {
        builder = builder.target_partitions(n);
    }
    let mut pairs: Vec<(String, String)> = vec![];
    let mut file = ConfigFile {
        sources: Default::default(),
        memory_limit: None,
        temp_directory: None,
        disk_limit: None,
    };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        // One line: the error's own text spans several, and only the first is printed.
        file = toml::from_str(&text).map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            Error::Config(format!(
                "{}{}: {}",
                path.display(),
                line.map(|l| format!(" line {l}")).unwrap_or_default(),
                e.message().trim()
            ))
        })?;
        pairs.extend(std::mem::take(&mut file.sources));
    }
    let memory = size_setting(
        "memory limit",
        setting(&args.memory_limit, "VP_MEMORY_LIMIT", &file.memory_limit),
    )?;
    if let Some(m) = memory {
        builder = builder.memory_limit(m.parse()?);
    }
    let disk = size_setting(
        "disk limit",
        setting(&args.disk_limit, "VP_DISK_LIMIT", &file.disk_limit),
    )?;
    if let Some(d) = disk {
        match d.parse()? {
            vibe_piper::engine::MemoryLimit::Bytes(n) => builder = builder.disk_limit(n),
            vibe_piper::engine::MemoryLimit::Unlimited => builder = builder.disk_limit(u64::MAX),
            _ => {
                return Err(Error::Config(format!(
                    "disk limit `{d}`: give a size (20GB), not a share of memory"
                )))
            }
        }
    }
    let temp: Option<PathBuf> = setting(
        &args.temp_directory.clone().map(|p| p.display().to_string()),
        "VP_TEMP_DIRECTORY",
        &file.temp_directory.map(|p| p.display().to_string()),
    )
    .map(PathBuf::from);
    if let Some(dir) = temp {
        builder = builder.temp_directory(dir);
    }
    let engine = builder.try_build()?;
    for s in &args.source {
        let (name, url) = s.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--source takes NAME=URL, got `{}`",
                vibe_piper::error::redact_url(s)
            ))
        })?;
        pairs.push((name.to_string(), url.to_string()));
    }
    for (name, url) in pairs {
        engine.register_source(&name, &url).await?;
    }
    Ok(engine)
}

/// Where results go: standard output, or a file that is replaced only when every statement
/// succeeded (results are written to a temporary file beside it, renamed at the end).
enum Sink {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    File {
        out: std::io::BufWriter<tempfile::NamedTempFile>,
        target: PathBuf,
    },
}

impl Sink {
    fn open(path: &Option<PathBuf>) -> Result<Sink> {
        Ok(match path {
            None => Sink::Stdout(std::io::BufWriter::new(std::io::stdout())),
            Some(target) => {
                let dir = match target.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let file = tempfile::Builder::new()
                    .prefix(".vibe-piper-")
                    .suffix(".partial")
                    .tempfile_in(&dir)
                    .map_err(|e| Error::Config(format!("{}: {e}", target.display())))?;
                Sink::File {
                    out: std::io::BufWriter::new(file),
                    target: target.clone(),
                }
            }
        })
    }

    fn writer(&mut self) -> &mut (dyn Write + Send) {
        match self {
            Sink::Stdout(w) => w,
            Sink::File { out, .. } => out,
        }
    }

    /// Makes the output final: flushes standard output, or renames the file into place.
    fn commit(self) -> Result<()> {
        match self {
            Sink::Stdout(mut w) => Ok(w.flush()?),
            Sink::File { out, target } => {
                let file = out.into_inner().map_err(|e| Error::Io(e.into_error()))?;
                file.as_file().sync_all()?;
                file.persist(&target)
                    .map_err(|e| Error::Config(format!("{}: {}", target.display(), e.error)))?;
                Ok(())
            }
        }
    }
}

async fn run_query(
    engine: &Engine,
    query: &str,
    format: Format,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let df = engine.sql(query).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let progress = query_progress();
    let mut stream =
        detached(df.execute_stream().await.map_err(Error::from_datafusion)?).inspect(move |b| {
            if let (Some(p), Ok(b)) = (&progress, b) {
                p.add_rows(b.num_rows() as u64);
            }
        });
    let parquet_err = |e: parquet::errors::ParquetError| Error::Config(format!("parquet: {e}"));
    match format {
        Format::Table => {
            let mut batches = vec![];
            while let Some(b) = stream.next().await {
                batches.push(b.map_err(Error::from_datafusion)?);
            }
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(&batches)?
            )?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            let mut wrote = false;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)?;
                wrote = true;
            }
            if !wrote {
                // No rows: still a header, as a CSV consumer expects.
                w.write(&arrow::record_batch::RecordBatch::new_empty(schema.clone()))?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut *out);
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut *out, schema, None)
                .map_err(parquet_err)?;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)
                    .map_err(parquet_err)?;
            }
            w.close().map_err(parquet_err)?;
        }
        Format::Arrow => {
            let mut w = arrow::ipc::writer::FileWriter::try_new(&mut *out, &schema)?;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)?;
            }
            w.finish()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The counters of the query the command runs, when a progress bar shows them.
static QUERY_PROGRESS: std::sync::OnceLock<std::sync::Arc<Progress>> = std::sync::OnceLock::new();

fn query_progress() -> Option<std::sync::Arc<Progress>> {
    QUERY_PROGRESS.get().cloned()
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Drives `stream` on a task of its own and hands its batches over a small channel, so that
/// the caller stays responsive (Ctrl-C) however long one step of the plan computes. Dropping the
/// returned stream aborts the task; a task that dies ends the stream with an error, never with
/// fewer rows.
fn detached(
    mut stream: datafusion::execution::SendableRecordBatchStream,
) -> futures::stream::BoxStream<'static, datafusion::common::Result<arrow::record_batch::RecordBatch>>
{
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let task = tokio::spawn(async move {
        while let Some(b) = stream.next().await {
            if tx.send(b).await.is_err() {
                break;
            }
        }
    });
    let guard = AbortOnDrop(task.abort_handle());
    futures::stream::unfold(
        (rx, Some(task), guard),
        |(mut rx, task, guard)| async move {
            if let Some(b) = rx.recv().await {
                return Some((b, (rx, task, guard)));
            }
            match task?.await {
                Ok(()) => None,
                Err(e) => Some((
                    Err(datafusion::error::DataFusionError::Execution(format!(
                        "the query stopped before its end: {e}"
                    ))),
                    (rx, None, guard),
                )),
            }
        },
    )
    .boxed()
}

/// Ctrl-C presses, counted. They are caught on a thread of their own: the runtime's workers may
/// all be busy computing a query, and then its own signal driver would not run until they are
/// done.
fn interrupts() -> tokio::sync::watch::Receiver<u64> {
    static RX: std::sync::OnceLock<tokio::sync::watch::Receiver<u64>> = std::sync::OnceLock::new();
    RX.get_or_init(|| {
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready_tx.send(());
                return;
            };
            rt.block_on(async move {
                // Listening from here on: a press now is not lost.
                let mut presses =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
                let _ = ready_tx.send(());
                let Some(presses) = presses.as_mut() else {
                    return;
                };
                let mut n = 0;
                while presses.recv().await.is_some() {
                    n += 1;
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            });
        });
        let _ = ready_rx.recv();
        rx
    })
    .clone()
}

/// Runs `query`, or gives up with [`Error::Cancelled`] when the user presses Ctrl-C: the query's
/// streams are dropped, which stops its readers.
async fn cancellable(
    engine: &Engine,
    query: &str,
    format: Format,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let mut ctrl_c = interrupts();
    ctrl_c.borrow_and_update();
    tokio::select! {
        r = run_query(engine, query, format, out) => r,
        _ = ctrl_c.changed() => Err(Error::Cancelled),
    }
}

/// Splits SQL text into statements at `;` outside quotes and comments; a last statement
/// without `;` counts too. Each comes with the line it starts on.
fn split_statements(text: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if cur.trim().is_empty() {
            start_line = line;
        }
        match c {
            '\'' | '"' | '`' => {
                cur.push(c);
                while let Some(d) = chars.next() {
                    cur.push(d);
                    if d == '\n' {
                        line += 1;
                    }
                    if d == c {
                        // A doubled quote stays inside the literal.
                        if chars.peek() == Some(&c) {
                            cur.push(c);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        line += 1;
                        cur.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if d == '\n' {
                        line += 1;
                        cur.push('\n');
                    }
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                cur.push(' ');
            }
            ';' => {
                let stmt = std::mem::take(&mut cur);
                if !stmt.trim().is_empty() {
                    out.push((start_line, stmt.trim().to_string()));
                }
            }
            c => {
                if c == '\n' {
                    line += 1;
                }
                cur.push(c);
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push((start_line, cur.trim().to_string()));
    }
    out
}

/// Statements from standard input (not a terminal), run in order. Stops at the first failing
/// statement with an error naming its line (like `psql -v ON_ERROR_STOP=1` or `duckdb -bail`),
/// unless `keep_going`; either way the run fails when any statement failed. `--output` gets
/// every result, and is replaced only when all succeeded.
async fn script(
    engine: &Engine,
    format: Format,
    output: &Option<PathBuf>,
    keep_going: bool,
) -> Result<()> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
    // A line `\q` (or `quit`, `exit`) ends the input, as at the prompt.
    let mut end = text.len();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if matches!(line.trim(), "\\q" | "quit" | "exit") {
            end = at;
            break;
        }
        at += line.len();
    }
    let statements = split_statements(&text[..end]);
    if output.is_some() && statements.len() > 1 && matches!(format, Format::Parquet | Format::Arrow)
    {
        return Err(Error::Config(format!(
            "--format {} holds one result; the input has {} statements: run them one at a time",
            if format == Format::Parquet {
                "parquet"
            } else {
                "arrow"
            },
            statements.len()
        )));
    }
    let mut sink = Sink::open(output)?;
    let mut failed = 0;
    for (line, statement) in &statements {
        match cancellable(engine, statement, format, sink.writer()).await {
            Ok(()) => {}
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) if keep_going => {
                eprintln!("error at line {line}: {e}");
                failed += 1;
            }
            Err(e) => {
                return Err(Error::Config(format!("statement at line {line}: {e}")));
            }
        }
    }
    if failed > 0 {
        return Err(Error::Config(format!(
            "{failed} of {} statements failed",
            statements.len()
        )));
    }
    sink.commit()
}

/// What `\settings` at the prompt shows.
fn settings(engine: &Engine) -> String {
    let options = engine.context().state().config().options().clone();
    format!(
        "memory_limit    {}\ntemp_directory  {}\ndisk_limit      {}\npartitions      {}\nbatch_size      {}",
        engine.memory_limit(),
        engine
            .temp_directory()
            .map_or_else(|| std::env::temp_dir().display().to_string(), |p| p.display().to_string()),
        engine
            .disk_limit()
            .map_or("100.0 GiB".to_string(), vibe_piper::engine::memory::format_size),
        options.execution.target_partitions,
        options.execution.batch_size,
    )
}

async fn interactive(engine: &Engine, format: Format, output: &Option<PathBuf>) -> Result<()> {
    let mut rl =
        rustyline::DefaultEditor::new().map_err(|e| Error::Config(format!("prompt: {e}")))?;
    let history = vibe_piper::demo::default_dir().join("history.txt");
    let _ = std::fs::create_dir_all(vibe_piper::demo::default_dir());
    let _ = rl.load_history(&history);
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "vibe-piper> "
        } else {
            "        ...> "
        };
        match rl.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && matches!(trimmed, "\\q" | "quit" | "exit") {
                    break;
                }
                if buffer.is_empty() && matches!(trimmed, "\\settings" | ".settings") {
                    println!("{}", settings(engine));
                    continue;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if !trimmed.ends_with(';') {
                    continue;
                }
                let text = std::mem::take(&mut buffer);
                // The history file never holds a URL's password or secret options.
                let _ = rl.add_history_entry(redact_statement(text.trim()));
                for (_, statement) in split_statements(&text) {
                    // Each result replaces the --output file when it succeeds.
                    let outcome = match Sink::open(output) {
                        Ok(mut sink) => {
                            match cancellable(engine, &statement, format, sink.writer()).await {
                                Ok(()) => sink.commit(),
                                Err(e) => Err(e),
                            }
                        }
                        Err(e) => Err(e),
                    };
                    match outcome {
                        Ok(()) => {}
                        Err(Error::Cancelled) => {
                            eprintln!("cancelled");
                            break;
                        }
                        Err(e) => {
                            eprintln!("error: {e}");
                            break;
                        }
                    }
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
            Err(_) => break,
        }
    }
    let _ = rl.save_history(&history);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&history, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// `statement` with every quoted URL redacted (`user:***@host`, `password=***`): what the
/// prompt's history file keeps.
fn redact_statement(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    while let Some(open) = rest.find(['\'', '"']) {
        let quote = rest.as_bytes()[open] as char;
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(quote).unwrap_or(rest.len());
        let literal = &rest[..close];
        if literal.contains("://") || literal.contains('@') {
            out.push_str(&vibe_piper::error::redact_url(literal));
        } else {
            out.push_str(literal);
        }
        rest = &rest[close..];
        if let Some(c) = rest.chars().next() {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push_str(rest);
    out
}

async fn demo(scale: f64, dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(vibe_piper::demo::default_dir);
    println!(
        "Generating TPC-H scale {scale} into {} (cached) ...",
        dir.display()
    );
    let data = tokio::task::spawn_blocking(move || vibe_piper::demo::prepare(&dir, scale))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))??;
    let engine = Engine::new();
    engine.register_source("lite", &data.sqlite_url()).await?;
    engine
        .register_source("files", &data.parquet_url()?)
        .await?;
    println!(
        "Sources: lite = {} (SQLite), files = {} (Parquet)\n",
        data.sqlite.display(),
        data.parquet_dir.display()
    );
    println!("{}\n", vibe_piper::demo::DEMO_QUERY);
    let batches = engine.sql_collect(vibe_piper::demo::DEMO_QUERY).await?;
    println!(
        "{}\n",
        arrow::util::pretty::pretty_format_batches(&batches)?
    );
    println!("Plan (the SQL pushed to SQLite is in each RemoteScanExec):");
    let plan = engine
        .sql_collect(&format!("EXPLAIN {}", vibe_piper::demo::DEMO_QUERY))
        .await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&plan)?);
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Sql {
            sources,
            format,
            output,
            partitions,
            quiet,
            continue_on_error,
            query,
        } => {
            let engine = engine_with(&sources, partitions).await?;
            let format = format.unwrap_or(if output.is_none() && std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Csv
            });
            match query {
                Some(q) => {
                    let mut sink = Sink::open(&output)?;
                    // A progress bar on a terminal, unless the rows stream to that terminal.
                    let streams_to_terminal = output.is_none()
                        && std::io::stdout().is_terminal()
                        && format != Format::Table;
                    let bar = (!quiet && std::io::stderr().is_terminal() && !streams_to_terminal)
                        .then(|| {
                            let p = QUERY_PROGRESS.get_or_init(Progress::new).clone();
                            p.start();
                            progress_bar(p)
                        });
                    let outcome = cancellable(&engine, &q, format, sink.writer()).await;
                    if let Some((bar, task)) = bar {
                        task.abort();
                        bar.finish_and_clear();
                    }
                    outcome?;
                    sink.commit()
                }
                None if std::io::stdin().is_terminal() => {
                    interactive(&engine, format, &output).await
                }
                None => script(&engine, format, &output, continue_on_error).await,
            }
        }
        Command::Tables { sources } => {
            let engine = engine_with(&sources, None).await?;
            for name in engine.source_names().await {
                for (table, schema) in engine.tables(&name).await? {
                    println!("{name}.{table}");
                    for f in schema.fields() {
                        println!(
                            "  {}: {}{}",
                            f.name(),
                            f.data_type(),
                            if f.is_nullable() { "" } else { " not null" }
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Demo { scale, dir } => demo(scale, dir).await,
        Command::Extract {
            sources,
            query,
            output,
            format,
            partitions,
            max_rows_per_file,
            partition_by,
            compression,
            row_group_rows,
            part_size_mib,
            upload_concurrency,
            overwrite,
            quiet,
        } => {
            let engine = engine_with(&sources, None).await?;
            let mut options = ExtractOptions::new().overwrite(overwrite);
            if let Some(f) = format {
                options = options.set("format", &f)?;
            }
            if let Some(n) = partitions {
                options = options.partitions(n);
            }
            if let Some(n) = max_rows_per_file {
                options = options.max_rows_per_file(n);
            }
            if !partition_by.is_empty() {
                options = options.partition_by(partition_by);
            }
            if let Some(c) = compression {
                options = options.compression(c);
            }
            if let Some(n) = row_group_rows {
                options = options.row_group_rows(n);
            }
            if let Some(n) = part_size_mib {
                options = options.part_size(n << 20);
            }
            if let Some(n) = upload_concurrency {
                options = options.upload_concurrency(n);
            }
            let progress = Progress::new();
            options = options.progress(progress.clone());
            let bar = (!quiet && std::io::stderr().is_terminal()).then(|| progress_bar(progress));
            let mut ctrl_c = interrupts();
            ctrl_c.borrow_and_update();
            let outcome = tokio::select! {
                r = engine.extract(&query, &output, &options) => r,
                _ = ctrl_c.changed() => Err(Error::Cancelled),
            };
            if let Some((bar, task)) = bar {
                task.abort();
                bar.finish_and_clear();
            }
            let summary = outcome?;
            println!("{summary}");
            Ok(())
        }
    }
}

/// A progress bar on standard error, redrawn from `progress` ten times a second: rows, bytes,
/// rows/s, elapsed, and a percentage when the source estimated its rows.
fn progress_bar(
    progress: std::sync::Arc<Progress>,
) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let task = {
        let bar = bar.clone();
        tokio::spawn(async move {
            // Quick work shows no bar at all.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let mut sized = false;
            loop {
                let rows = progress.rows();
                if let (Some(total), false) = (progress.expected_rows(), sized) {
                    bar.set_length(total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bar:30} {percent:>3}% {pos} rows {msg} [{elapsed}]",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    sized = true;
                } else if !sized {
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {pos} rows {msg} [{elapsed}]")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                }
                bar.set_position(rows);
                let secs = progress.elapsed().as_secs_f64();
                let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
                let mut message = format!("{rate:.0} rows/s");
                if progress.bytes() > 0 {
                    message = format!(
                        "{}, {message}, {} files",
                        vibe_piper::engine::extract::human_bytes(progress.bytes()),
                        progress.files()
                    );
                }
                bar.set_message(message);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    (bar, task)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Twice as many workers as cores (a query uses one per partition, one per core by
    // default): after Ctrl-C, an operator that computes without yielding holds its worker until
    // its current step ends, and the next query still finds workers free.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores * 2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    if matches!(outcome, Err(Error::Cancelled)) {
        // The readers of the dropped query stop it at the server first (a cancel request,
        // `KILL QUERY`): a server left alone would go on working on it.
        vibe_piper::read::wait_for_readers(std::time::Duration::from_secs(2));
    }
    // A cancelled query may still be computing on a worker: do not wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Cancelled) => {
            eprintln!("cancelled");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!(
                "error: {}",
                e.to_string().lines().next().unwrap_or_default()
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod history_tests {
    use super::redact_statement;

    #[test]
    fn history_entries_hold_no_secrets() {
        let s = redact_statement(
            "COPY (SELECT 1) TO 's3://b/out/?secret_access_key=AbC123&region=x' (FORMAT parquet)",
        );
        assert!(!s.contains("AbC123"), "{s}");
        assert!(
            s.contains("region=x") && s.ends_with("(FORMAT parquet)"),
            "{s}"
        );
        let s = redact_statement("SELECT 'postgres://u:pw@h/db', \"x\" FROM t WHERE a = 'it''s'");
        assert!(!s.contains(":pw@"), "{s}");
        assert!(s.contains("FROM t WHERE a = 'it''s'"), "{s}");
        assert_eq!(redact_statement("SELECT 1"), "SELECT 1");
        assert_eq!(redact_statement("SELECT 'open"), "SELECT 'open");
    }
}
