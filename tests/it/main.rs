//! Integration tests against real services (PostgreSQL, SQLite files, Parquet files).

mod assets;
mod bigquery;
mod cancel;
mod cli;
mod common;
mod conformance;
mod connector;
mod decimals;
mod extract;
mod fuzz_corpus;
mod layout;
mod memory;
mod mysql;
mod objects;
mod postgres;
mod query;
mod registry;
mod snowflake;
mod sqlite;
mod tls;

mod postgres_conformance {
    crate::conformance_suite!(crate::common::PgFixture, "chunk_pages=2");
}

mod postgres_connectorx_conformance {
    crate::conformance_suite!(crate::common::PgConnectorXFixture, "chunk_pages=2");
}

mod mysql_conformance {
    crate::conformance_suite!(crate::common::MySqlFixture, "chunk_rows=100");
}

mod mysql_connectorx_conformance {
    crate::conformance_suite!(crate::common::MySqlConnectorXFixture, "chunk_rows=100");
}

mod postgres_tls_conformance {
    crate::conformance_suite!(crate::tls::PgTlsFixture, "chunk_pages=2");
}

mod mysql_tls_conformance {
    crate::conformance_suite!(crate::tls::MySqlTlsFixture, "chunk_rows=100");
}

mod sqlite_conformance {
    crate::conformance_suite!(crate::common::SqliteFixture, "chunk_rows=100");
}

mod snowflake_conformance {
    crate::conformance_suite!(crate::common::SnowflakeFixture, "chunk_rows=100");
}

mod bigquery_conformance {
    crate::conformance_suite!(crate::common::BigQueryFixture, "");
}

mod postgres_connector {
    crate::connector_suite!(crate::common::PgFixture);
}

mod mysql_connector {
    crate::connector_suite!(crate::common::MySqlFixture);
}

mod postgres_query {
    crate::query_suite!(crate::common::PgFixture);
}

mod mysql_query {
    crate::query_suite!(crate::common::MySqlFixture);
}
