//! Bulk loads from files and the blocking facade: PostgreSQL `COPY` from CSV, a Parquet file
//! through `bulk_insert`, MySQL `LOAD DATA LOCAL INFILE`, all with server-side checks.
//!
//! ```sh
//! VP_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! VP_MYSQL_URL=mysql://root@127.0.0.1:3306 cargo run --example bulk_load
//! ```

use vibe_piper::connector::executor::file_batches;
use vibe_piper::connector::mysql::MySqlConnector;
use vibe_piper::connector::postgres::PostgresConnector;
use vibe_piper::connector::{BulkOptions, CsvOptions, Executor, ExecutorExt, TableName};

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let dir = std::env::temp_dir().join("vibe-piper-bulk-example");
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("cities.csv");
    std::fs::write(
        &csv,
        "id,name,population\n1,\"Zürich, CH\",421878\n2,Lagos,\n3,\"Quote \"\"Town\"\"\",12\n",
    )?;

    // PostgreSQL: COPY FROM STDIN (FORMAT csv), all or nothing.
    let pg_url = std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let pg = PostgresConnector::connect(&pg_url).await?;
    pg.execute("DROP TABLE IF EXISTS vp_example_cities", &[])
        .await?;
    pg.execute(
        "CREATE TABLE vp_example_cities (id int PRIMARY KEY, name text NOT NULL, population bigint)",
        &[],
    )
    .await?;
    let table = TableName::parse("vp_example_cities")?;
    let n = pg
        .copy_from_csv(
            &table,
            csv.to_str().unwrap_or_default(),
            &CsvOptions::default(),
        )
        .await?;
    println!("PostgreSQL COPY loaded {n} rows");

    // A Parquet file written from what was just loaded, then appended again under new ids.
    let batches = pg
        .fetch_all(
            "SELECT id + 10 AS id, name, population FROM vp_example_cities",
            &[],
        )
        .await?;
    let parquet = dir.join("cities.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet)?,
        batches[0].schema(),
        None,
    )
    .map_err(|e| vibe_piper::Error::Config(e.to_string()))?;
    for b in &batches {
        w.write(b)
            .map_err(|e| vibe_piper::Error::Config(e.to_string()))?;
    }
    w.close()
        .map_err(|e| vibe_piper::Error::Config(e.to_string()))?;
    let n = pg
        .bulk_insert(
            &table,
            file_batches(parquet.to_str().unwrap_or_default()).await?,
            &BulkOptions::default(),
        )
        .await?;
    println!("PostgreSQL binary COPY from Parquet loaded {n} rows");
    let all = pg
        .fetch_all("SELECT * FROM vp_example_cities ORDER BY id", &[])
        .await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&all)?);
    pg.execute("DROP TABLE vp_example_cities", &[]).await?;

    // MySQL / MariaDB: LOAD DATA LOCAL INFILE, streamed by this process.
    let my_url = format!(
        "{}/test",
        std::env::var("VP_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
    );
    let my = MySqlConnector::connect(&my_url).await?;
    my.execute("DROP TABLE IF EXISTS vp_example_cities", &[])
        .await?;
    my.execute(
        "CREATE TABLE vp_example_cities (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, population BIGINT) \
         DEFAULT CHARSET = utf8mb4",
        &[],
    )
    .await?;
    let n = my
        .load_data_infile(
            &table,
            csv.to_str().unwrap_or_default(),
            &CsvOptions::default(),
        )
        .await?;
    println!("MySQL LOAD DATA loaded {n} rows");
    let all = my
        .fetch_all("SELECT * FROM vp_example_cities ORDER BY id", &[])
        .await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&all)?);
    my.execute("DROP TABLE vp_example_cities", &[]).await?;

    // The same connector without async: vibe_piper::blocking.
    let blocking = std::thread::spawn(move || -> vibe_piper::Result<u64> {
        let db = vibe_piper::blocking::Connector::connect(&pg_url)?;
        let one = db.query_one("SELECT 41 + 1 AS answer", &[])?;
        println!("{}", arrow::util::pretty::pretty_format_batches(&[one])?);
        db.execute("SELECT 1", &[])
    })
    .join()
    .map_err(|_| vibe_piper::Error::Config("the blocking thread panicked".into()))??;
    println!("blocking execute: {blocking} row");
    Ok(())
}
