//! The embedded demo data set: TPC-H generated with `tpchgen`, split between a SQLite file
//! (`nation`, `region`, `customer`, `orders`) and Parquet files (`lineitem`, `part`, `supplier`),
//! so that one query joins two kinds of source with no server at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, RegionArrow, SupplierArrow,
};

use crate::connector::sqlite::SqliteWriter;
use crate::error::{Error, Result};

/// The query the demo runs: revenue by nation in 1994, joining SQLite and Parquet tables.
pub const DEMO_QUERY: &str = "SELECT n.n_name AS nation, count(*) AS lines, \
       sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue \
  FROM lite.customer c \
  JOIN lite.orders o ON o.o_custkey = c.c_custkey \
  JOIN lite.nation n ON n.n_nationkey = c.c_nationkey \
  JOIN files.lineitem l ON l.l_orderkey = o.o_orderkey \
 WHERE o.o_orderdate >= DATE '1994-01-01' AND o.o_orderdate < DATE '1995-01-01' AND c.c_mktsegment = 'BUILDING' \
 GROUP BY n.n_name ORDER BY revenue DESC LIMIT 10";

/// Where the demo data lives: `$VP_CACHE_DIR`, else the user's cache directory, else `.vp-cache`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VP_CACHE_DIR") {
        return PathBuf::from(d);
    }
    dirs::cache_dir()
        .map(|d| d.join("vibe-piper"))
        .unwrap_or_else(|| PathBuf::from(".vp-cache"))
}

/// Paths of a generated demo data set.
#[derive(Debug, Clone)]
pub struct DemoData {
    /// The SQLite file.
    pub sqlite: PathBuf,
    /// The folder of Parquet files.
    pub parquet_dir: PathBuf,
}

impl DemoData {
    /// `sqlite://` URL of the SQLite file.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.sqlite.display())
    }

    /// `file://` URL of the Parquet folder.
    pub fn parquet_url(&self) -> Result<String> {
        url::Url::from_directory_path(&self.parquet_dir)
            .map(|u| u.to_string())
            .map_err(|_| {
                Error::Config(format!(
                    "{} is not an absolute path",
                    self.parquet_dir.display()
                ))
            })
    }
}

/// Generates TPC-H at `scale` into `dir/sf<scale>/` unless it is already there.
pub fn prepare(dir: &Path, scale: f64) -> Result<DemoData> {
    if !(scale > 0.0 && scale <= 10.0) {
        return Err(Error::Config(format!(
            "scale factor must be in (0, 10], not {scale}"
        )));
    }
    let root = std::path::absolute(dir.join(format!("sf{scale}")))?;
    let data = DemoData {
        sqlite: root.join("tpch.db"),
        parquet_dir: root.join("parquet"),
    };
    let done = root.join(".complete");
    if done.exists() {
        return Ok(data);
    }
    std::fs::create_dir_all(&data.parquet_dir)?;
    let _ = std::fs::remove_file(&data.sqlite);
    let mut conn = SqliteWriter::create(&data.sqlite)?;
    write_sqlite(
        &mut conn,
        "nation",
        NationArrow::new(NationGenerator::new(scale, 1, 1)),
    )?;
    write_sqlite(
        &mut conn,
        "region",
        RegionArrow::new(RegionGenerator::new(scale, 1, 1)),
    )?;
    write_sqlite(
        &mut conn,
        "customer",
        CustomerArrow::new(CustomerGenerator::new(scale, 1, 1)),
    )?;
    write_sqlite(
        &mut conn,
        "orders",
        OrderArrow::new(OrderGenerator::new(scale, 1, 1)),
    )?;
    drop(conn);
    write_parquet(
        &data.parquet_dir.join("lineitem.parquet"),
        LineItemArrow::new(LineItemGenerator::new(scale, 1, 1)),
    )?;
    write_parquet(
        &data.parquet_dir.join("part.parquet"),
        PartArrow::new(PartGenerator::new(scale, 1, 1)),
    )?;
    write_parquet(
        &data.parquet_dir.join("supplier.parquet"),
        SupplierArrow::new(SupplierGenerator::new(scale, 1, 1)),
    )?;
    std::fs::write(&done, b"ok")?;
    Ok(data)
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>>;

/// The schema of a generated table and its batches, streamed (not collected: a large scale
/// factor must not be held in memory); `None` for an empty table.
fn streamed(
    mut batches: impl Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>
        + 'static,
) -> Result<Option<(arrow::datatypes::SchemaRef, Batches)>> {
    let Some(first) = batches.next().transpose()? else {
        return Ok(None);
    };
    let schema = first.schema();
    Ok(Some((
        schema,
        Box::new(std::iter::once(Ok(first)).chain(batches)),
    )))
}

fn write_sqlite(
    writer: &mut SqliteWriter,
    table: &str,
    batches: impl Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>> + 'static,
) -> Result<()> {
    match streamed(batches)? {
        Some((schema, batches)) => writer.write_table(table, &schema, batches),
        None => Ok(()),
    }
}

fn write_parquet(
    path: &Path,
    batches: impl Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>> + 'static,
) -> Result<()> {
    let Some((schema, batches)) = streamed(batches)? else {
        return Ok(());
    };
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), None)
        .map_err(|e| Error::Config(format!("parquet: {e}")))?;
    for batch in batches {
        writer
            .write(&batch?)
            .map_err(|e| Error::Config(format!("parquet: {e}")))?;
    }
    writer
        .close()
        .map_err(|e| Error::Config(format!("parquet: {e}")))?;
    std::fs::rename(tmp, path)?;
    Ok(())
}
