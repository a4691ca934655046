//! Batches to file bytes, one encoder per file, handing the bytes over as they are ready so that
//! an upload can take them (a Parquet writer hands its row groups over as it closes them).

use std::str::FromStr;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::ExtractOptions;
use crate::error::{Error, Result};

/// A file format an extraction writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputFormat {
    /// Apache Parquet (`.parquet`), zstd-compressed unless told otherwise.
    Parquet,
    /// CSV with a header row (`.csv`).
    Csv,
    /// One JSON object per line (`.jsonl`).
    JsonLines,
    /// The Arrow IPC file format (`.arrow`).
    Arrow,
}

impl OutputFormat {
    /// The extension of its files, without the dot (its name).
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// Its name as options spell it.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
            OutputFormat::JsonLines => "jsonl",
            OutputFormat::Arrow => "arrow",
        }
    }

    /// The format a file name's extension names.
    pub fn of_name(name: &str) -> Option<Self> {
        let (_, ext) = name.rsplit_once('.')?;
        Self::from_str(ext).ok()
    }
}

impl FromStr for OutputFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "parquet" => OutputFormat::Parquet,
            "csv" => OutputFormat::Csv,
            "jsonl" | "json" | "ndjson" => OutputFormat::JsonLines,
            "arrow" | "ipc" | "feather" => OutputFormat::Arrow,
            other => {
                return Err(Error::Config(format!(
                    "unknown output format `{other}`: use parquet, csv, jsonl or arrow"
                )))
            }
        })
    }
}

/// Parses a Parquet codec name: `zstd` (level 1), `zstd(N)`, `snappy`, `lz4`, `gzip(N)`,
/// `brotli(N)`, `none`.
fn parquet_compression(text: &str) -> Result<Compression> {
    let t = text.trim().to_ascii_lowercase();
    let (name, level) = match t.split_once('(') {
        Some((n, rest)) => {
            let level = rest.trim_end_matches(')').trim();
            let level: u32 = level.parse().map_err(|_| {
                Error::Config(format!("compression `{text}`: the level must be a number"))
            })?;
            (n.trim().to_string(), Some(level))
        }
        None => (t.clone(), None),
    };
    let bad_level =
        |e: parquet::errors::ParquetError| Error::Config(format!("compression `{text}`: {e}"));
    Ok(match name.as_str() {
        "zstd" => {
            Compression::ZSTD(ZstdLevel::try_new(level.unwrap_or(1) as i32).map_err(bad_level)?)
        }
        "snappy" => Compression::SNAPPY,
        "lz4" | "lz4_raw" => Compression::LZ4_RAW,
        "gzip" => Compression::GZIP(GzipLevel::try_new(level.unwrap_or(6)).map_err(bad_level)?),
        "brotli" => {
            Compression::BROTLI(BrotliLevel::try_new(level.unwrap_or(1)).map_err(bad_level)?)
        }
        "none" | "uncompressed" => Compression::UNCOMPRESSED,
        _ => {
            return Err(Error::Config(format!(
                "unknown compression `{text}`: use zstd, zstd(N), snappy, lz4, gzip, brotli or none"
            )))
        }
    })
}

/// Encodes the batches of one file.
pub(crate) enum Encoder {
    Parquet(Box<ArrowWriter<Vec<u8>>>),
    Csv {
        schema: SchemaRef,
        header_written: bool,
    },
    Json,
    Arrow(Box<arrow::ipc::writer::FileWriter<Vec<u8>>>),
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Config(format!("parquet: {e}"))
}

impl Encoder {
    /// An encoder for `schema`; bad settings (an unknown codec, compression asked of a format
    /// without it) are errors.
    pub(crate) fn new(
        format: OutputFormat,
        schema: SchemaRef,
        options: &ExtractOptions,
    ) -> Result<Self> {
        let compression = options.compression.as_deref();
        if format != OutputFormat::Parquet {
            if let Some(c) = compression.filter(|c| !c.eq_ignore_ascii_case("none")) {
                return Err(Error::Config(format!(
                    "compression `{c}`: only Parquet files are compressed here; write {} \
                     uncompressed (compression none) or choose parquet",
                    format.name()
                )));
            }
        }
        Ok(match format {
            OutputFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(parquet_compression(compression.unwrap_or("zstd"))?)
                    .set_max_row_group_row_count(Some(options.row_group_rows))
                    // Small dictionary pages: high-cardinality columns give up on the
                    // dictionary early instead of filling it through the whole row group
                    // (docs/benchmarks.md, "Extraction to Parquet").
                    .set_dictionary_page_size_limit(128 << 10)
                    .build();
                Encoder::Parquet(Box::new(
                    ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(parquet_error)?,
                ))
            }
            OutputFormat::Csv => Encoder::Csv {
                schema,
                header_written: false,
            },
            OutputFormat::JsonLines => Encoder::Json,
            OutputFormat::Arrow => Encoder::Arrow(Box::new(
                arrow::ipc::writer::FileWriter::try_new(Vec::new(), &schema)?,
            )),
        })
    }

    /// Encodes `batch`; returns the bytes ready to go out (possibly none yet).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<Vec<u8>> {
        match self {
            Encoder::Parquet(w) => {
                w.write(batch).map_err(parquet_error)?;
                Ok(std::mem::take(w.inner_mut()))
            }
            Encoder::Csv { header_written, .. } => {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(!*header_written)
                    .build(Vec::new());
                w.write(batch)?;
                *header_written = true;
                Ok(w.into_inner())
            }
            Encoder::Json => {
                let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
                w.write(batch)?;
                w.finish()?;
                Ok(w.into_inner())
            }
            Encoder::Arrow(w) => {
                w.write(batch)?;
                Ok(std::mem::take(w.get_mut()))
            }
        }
    }

    /// Bytes the encoder holds between batches (a Parquet row group in progress).
    pub(crate) fn buffered(&self) -> usize {
        match self {
            Encoder::Parquet(w) => w.memory_size(),
            Encoder::Csv { .. } | Encoder::Json | Encoder::Arrow(_) => 0,
        }
    }

    /// Ends the file: the last bytes (a Parquet or Arrow footer; a CSV header when no row
    /// came).
    pub(crate) fn finish(&mut self) -> Result<Vec<u8>> {
        match self {
            Encoder::Parquet(w) => {
                w.finish().map_err(parquet_error)?;
                Ok(std::mem::take(w.inner_mut()))
            }
            Encoder::Csv {
                schema,
                header_written,
            } => {
                if *header_written {
                    return Ok(vec![]);
                }
                // No rows: still a header, as a CSV consumer expects.
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(Vec::new());
                w.write(&RecordBatch::new_empty(schema.clone()))?;
                *header_written = true;
                Ok(w.into_inner())
            }
            Encoder::Json => Ok(vec![]),
            Encoder::Arrow(w) => {
                w.finish()?;
                Ok(std::mem::take(w.get_mut()))
            }
        }
    }
}
