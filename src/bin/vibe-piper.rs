//! The `vibe-piper` command: run SQL across sources, list tables, run the embedded demo.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use vibe_piper::{Engine, Error, Result};

#[derive(Parser)]
#[command(
    name = "vibe-piper",
    version,
    about = "One SQL query across PostgreSQL, SQLite and Parquet/CSV, as Arrow"
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
        /// The query; `EXPLAIN ...` works too.
        query: Option<String>,
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
    /// A source as NAME=URL (postgres://, sqlite://, file://); repeatable.
    #[arg(long = "source", value_name = "NAME=URL")]
    source: Vec<String>,
    /// A TOML file with a [sources] table of NAME = "URL" entries.
    #[arg(long)]
    config: Option<PathBuf>,
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
struct ConfigFile {
    #[serde(default)]
    sources: std::collections::BTreeMap<String, String>,
}

async fn engine_with(args: &SourceArgs, partitions: Option<usize>) -> Result<Engine> {
    let mut builder = Engine::builder();
    if let Some(n) = partitions {
        builder = builder.target_partitions(n);
    }
    let engine = builder.build();
    let mut pairs: Vec<(String, String)> = vec![];
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let cfg: ConfigFile =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        pairs.extend(cfg.sources);
    }
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

fn open_output(path: &Option<PathBuf>) -> Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

async fn run_query(
    engine: &Engine,
    query: &str,
    format: Format,
    output: &Option<PathBuf>,
) -> Result<()> {
    let df = engine.sql(query).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await.map_err(Error::from_datafusion)?;
    let out = open_output(output)?;
    let parquet_err = |e: parquet::errors::ParquetError| Error::Config(format!("parquet: {e}"));
    match format {
        Format::Table => {
            let mut batches = vec![];
            while let Some(b) = stream.next().await {
                batches.push(b.map_err(Error::from_datafusion)?);
            }
            let mut out = out;
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(&batches)?
            )?;
            out.flush()?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            let mut wrote = false;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)?;
                wrote = true;
            }
            if !wrote {
                // No rows: still a header, as a CSV consumer expects.
                w.write(&arrow::record_batch::RecordBatch::new_empty(schema.clone()))?;
            }
            w.into_inner().flush()?;
        }
        Format::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)?;
            }
            w.finish()?;
            w.into_inner().flush()?;
        }
        Format::Parquet => {
            let mut w =
                parquet::arrow::ArrowWriter::try_new(out, schema, None).map_err(parquet_err)?;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)
                    .map_err(parquet_err)?;
            }
            w.close().map_err(parquet_err)?;
        }
        Format::Arrow => {
            let mut w = arrow::ipc::writer::FileWriter::try_new(out, &schema)?;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(Error::from_datafusion)?)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}

async fn interactive(engine: &Engine, format: Format) -> Result<()> {
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
                buffer.push_str(&line);
                buffer.push('\n');
                if !trimmed.ends_with(';') {
                    continue;
                }
                let query = std::mem::take(&mut buffer);
                let _ = rl.add_history_entry(query.trim());
                if let Err(e) =
                    run_query(engine, query.trim().trim_end_matches(';'), format, &None).await
                {
                    eprintln!("error: {e}");
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
            Err(_) => break,
        }
    }
    let _ = rl.save_history(&history);
    Ok(())
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
            query,
        } => {
            let engine = engine_with(&sources, partitions).await?;
            let format = format.unwrap_or(if output.is_none() && std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Csv
            });
            match query {
                Some(q) => run_query(&engine, &q, format, &output).await,
                None => interactive(&engine, format).await,
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
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {}",
                e.to_string().lines().next().unwrap_or_default()
            );
            ExitCode::FAILURE
        }
    }
}
