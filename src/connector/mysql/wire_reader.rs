//! MySQL's and MariaDB's own scan reader: the binary result protocol (`COM_STMT_PREPARE` +
//! `COM_STMT_EXECUTE`) read from a plain socket and decoded straight from the receive buffer
//! into Arrow builders, with no per-value allocation (docs/decisions/0009-native-readers.md).
//!
//! It speaks only what a scan needs: TCP or a Unix socket, TLS on rustls as `ssl-mode` asks,
//! the handshake (`mysql_native_password` and `caching_sha2_password`: its full exchange sends
//! the password over TLS, or encrypted with the server's RSA key without TLS), plain statements
//! for the session setup, and one prepared statement per chunk query.

use std::any::Any;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use mysql_common::constants::{CapabilityFlags, ColumnFlags, ColumnType};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, Column, HandshakePacket, HandshakeResponse,
};
use mysql_common::proto::MySerialize;

use super::error::Target;
use super::options::{SslMode, TlsOptions};
use super::types::{decimal_i128, wire_kind, WireKind};
use crate::error::{scrub, Error, Result};
use crate::read::{
    finish_batch, spawn_reader, BatchReceiver, BatchSender, ReadMetrics, ScanReader, ScanRequest,
};
use crate::schema::{ColumnSpec, ReadAs};

/// Largest payload of one protocol packet; a longer one continues in the next.
const MAX_PAYLOAD: usize = 0xFF_FFFF;
/// Bytes asked of the socket at a time.
const READ_SIZE: usize = 1 << 20;

/// Where and as whom the reader connects.
#[derive(Clone)]
pub(crate) struct WireReader {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// A Unix socket to connect through instead of TCP (never encrypted, as in the MySQL
    /// client: the server counts it as secure transport).
    pub(crate) socket: Option<PathBuf>,
    /// `ssl-mode` and certificates.
    pub(crate) tls: TlsOptions,
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) database: String,
    pub(crate) session: Vec<String>,
    pub(crate) target: Target,
}

impl std::fmt::Debug for WireReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireReader")
            .field("target", &self.target.target)
            .finish_non_exhaustive()
    }
}

impl ScanReader for WireReader {
    fn name(&self) -> &'static str {
        "native"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let reader = self.clone();
        let queries = request.queries.clone();
        spawn_reader(
            "vp-mysql-reader",
            "mysql",
            &queries,
            keep_alive,
            move |tx| reader.run(&request, &metrics, tx),
        )
    }
}

impl WireReader {
    fn connection_error(&self, message: impl std::fmt::Display) -> Error {
        Error::Connection {
            target: self.target.target.clone(),
            message: scrub(&message.to_string(), self.target.password.as_deref()),
        }
    }

    /// An ERR packet as the connector would report it.
    fn server_error(&self, payload: &[u8]) -> Error {
        let code = payload
            .get(1..3)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .unwrap_or(0);
        let (state, message) = match payload.get(3) {
            Some(b'#') if payload.len() >= 9 => (
                String::from_utf8_lossy(&payload[4..9]).into_owned(),
                &payload[9..],
            ),
            _ => (String::new(), payload.get(3..).unwrap_or(&[])),
        };
        self.target
            .error(mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: String::from_utf8_lossy(message).into_owned(),
                state,
            }))
    }

    fn unexpected(&self, what: &str, payload: &[u8]) -> Error {
        if payload.first() == Some(&0xFF) {
            return self.server_error(payload);
        }
        Error::Source {
            backend: "mysql",
            code: None,
            message: format!(
                "unexpected packet {what} (first byte {:#04x})",
                payload.first().copied().unwrap_or(0)
            ),
            retryable: false,
        }
    }

    fn run(&self, req: &ScanRequest, metrics: &ReadMetrics, tx: &BatchSender) -> Result<()> {
        let started = Instant::now();
        let mut wire = self.connect(metrics)?;
        for statement in self.session.iter().chain(&req.pre_execution) {
            wire.command(0x03, statement.as_bytes())
                .map_err(|e| self.connection_error(e))?;
            let reply = wire.packet().map_err(|e| self.connection_error(e))?;
            if reply.first() != Some(&0x00) {
                return Err(self.unexpected("after a session statement", reply));
            }
        }
        metrics.wait.add_duration(started.elapsed());
        // Reads wait at most this long before asking whether the consumer is still there.
        wire.sock
            .set_read_timeout(Some(STOP_POLL))
            .map_err(|e| self.connection_error(e))?;
        wire.stop = Some(Box::new(tx.watch()));
        let mut remaining = req.limit;
        for query in &req.queries {
            if remaining == Some(0) || tx.is_closed() {
                break;
            }
            match self.read_query(&mut wire, query, req, metrics, &mut remaining, tx) {
                Ok(Flow::Next) => {}
                Ok(Flow::Abandoned) => return self.kill(wire.connection_id, metrics),
                Err(_) if wire.stopped => return self.kill(wire.connection_id, metrics),
                Err(e) => return Err(e),
            }
        }
        let _ = wire.command(0x01, &[]); // COM_QUIT
        Ok(())
    }

    /// Stops the query running on connection `id` (rows no longer wanted) with `KILL QUERY`
    /// from a connection of its own: closing the socket alone stops the server only when it
    /// next writes, and a query that filters or sorts may not write for a long time.
    fn kill(&self, id: u32, metrics: &ReadMetrics) -> Result<()> {
        let mut wire = self.connect(metrics)?;
        let io = |e: std::io::Error| self.connection_error(e);
        wire.command(0x03, format!("KILL QUERY {id}").as_bytes())
            .map_err(io)?;
        let reply = wire.packet().map_err(io)?;
        // An error here (the query had just ended) changes nothing for the consumer.
        let _ = reply;
        let _ = wire.command(0x01, &[]);
        Ok(())
    }

    /// Opens the socket: the Unix socket when the URL names one, else TCP.
    fn open(&self) -> Result<Plain> {
        let io = |e: std::io::Error| self.connection_error(e);
        #[cfg(unix)]
        if let Some(path) = &self.socket {
            return UnixStream::connect(path).map(Plain::Unix).map_err(|e| {
                self.connection_error(format!("cannot open the socket {}: {e}", path.display()))
            });
        }
        let addrs: Vec<_> =
            std::net::ToSocketAddrs::to_socket_addrs(&(self.host.as_str(), self.port))
                .map_err(io)?
                .collect();
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(30)) {
                Ok(s) => {
                    s.set_nodelay(true).map_err(io)?;
                    return Ok(Plain::Tcp(s));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(self.connection_error(last.map_or("no address".to_string(), |e| e.to_string())))
    }

    fn tls_error(&self, message: impl Into<String>) -> Error {
        Error::Tls {
            target: self.target.target.clone(),
            message: message.into(),
        }
    }

    /// Connects and authenticates; a server refusing for now (too many connections) is asked
    /// again with jittered, growing pauses for [`crate::connector::REFUSED_RETRY_BUDGET`].
    fn connect(&self, metrics: &ReadMetrics) -> Result<Wire> {
        let mut backoff = crate::connector::Backoff::new(crate::connector::REFUSED_RETRY_BUDGET);
        loop {
            match self.connect_once(metrics) {
                Err(e) if super::error::refused_for_now(&e) => match backoff.next_pause() {
                    Some(pause) => std::thread::sleep(pause),
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    fn connect_once(&self, metrics: &ReadMetrics) -> Result<Wire> {
        let io = |e: std::io::Error| self.connection_error(e);
        let sock = self.open()?;
        let local = matches!(&sock, Plain::Unix(_));
        let mut wire = Wire::new(Sock::Plain(sock), metrics.clone());
        let greeting = wire.packet().map_err(io)?.to_vec();
        if greeting.first() == Some(&0xFF) {
            return Err(self.server_error(&greeting));
        }
        let handshake = ParseBuf(&greeting)
            .parse::<HandshakePacket>(())
            .map_err(|e| self.connection_error(format!("bad handshake: {e}")))?;
        wire.connection_id = handshake.connection_id();
        let mut nonce = handshake.scramble_1_ref().to_vec();
        nonce.extend_from_slice(handshake.scramble_2_ref().unwrap_or(&[]));
        nonce.resize(20, 0);
        let ours = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_MULTI_RESULTS
            | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
            | CapabilityFlags::CLIENT_DEPRECATE_EOF
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB;
        let mut caps = handshake.capabilities() & ours;
        let offered = handshake
            .capabilities()
            .contains(CapabilityFlags::CLIENT_SSL);
        let encrypt = match self.tls.mode {
            _ if local => false,
            SslMode::Disabled => false,
            SslMode::Preferred => offered,
            _ if !offered => {
                return Err(self.tls_error(format!(
                    "the server does not offer TLS, and ssl-mode={} asks for it: use \
                     ssl-mode=PREFERRED or DISABLED, or configure TLS on the server",
                    self.tls.mode.name()
                )))
            }
            _ => true,
        };
        if encrypt {
            caps |= CapabilityFlags::CLIENT_SSL;
            let config = self.tls.rustls_config().map_err(|e| self.tls_error(e))?;
            let name =
                crate::connector::tls::server_name(&self.host).map_err(|e| self.tls_error(e))?;
            let request = mysql_common::packets::SslRequest::new(caps, MAX_PAYLOAD as u32, 45);
            let mut buf = vec![];
            request.serialize(&mut buf);
            wire.send(&buf).map_err(io)?;
            wire.start_tls(config, name).map_err(
                |e| match crate::connector::tls::rustls_error(&e) {
                    Some(tls) => self.tls_error(crate::connector::tls::describe(
                        tls,
                        &self.host,
                        "ssl-mode=VERIFY_CA",
                    )),
                    None => self.connection_error(format!("TLS handshake: {e}")),
                },
            )?;
        }
        wire.deprecate_eof = caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        let version = handshake
            .maria_db_server_version_parsed()
            .or_else(|| handshake.server_version_parsed())
            .unwrap_or((0, 0, 0));
        let mut plugin = match handshake.auth_plugin() {
            Some(AuthPlugin::CachingSha2Password) => AuthPlugin::CachingSha2Password,
            _ => AuthPlugin::MysqlNativePassword,
        };
        let pass = self.password.as_deref();
        let data = plugin.gen_data(pass, &nonce);
        let response = HandshakeResponse::new(
            data.as_deref(),
            version,
            Some(self.user.as_bytes()),
            Some(self.database.as_bytes()),
            Some(plugin.clone()),
            caps,
            None,
            MAX_PAYLOAD as u32,
        );
        let mut buf = vec![];
        response.serialize(&mut buf);
        wire.send(&buf).map_err(io)?;
        let mut switched = false;
        loop {
            let reply = wire.packet().map_err(io)?.to_vec();
            match reply.first() {
                Some(0x00) => return Ok(wire),
                Some(0xFF) => return Err(self.server_error(&reply)),
                Some(0xFE) if !switched => {
                    switched = true;
                    let switch = ParseBuf(&reply)
                        .parse::<AuthSwitchRequest>(())
                        .map_err(|e| self.connection_error(format!("bad auth switch: {e}")))?;
                    nonce = switch.plugin_data().to_vec();
                    if nonce.last() == Some(&0) {
                        nonce.pop();
                    }
                    plugin = match switch.auth_plugin() {
                        AuthPlugin::CachingSha2Password => AuthPlugin::CachingSha2Password,
                        AuthPlugin::MysqlNativePassword => AuthPlugin::MysqlNativePassword,
                        other => {
                            return Err(self.connection_error(format!(
                                "the server asks for the {} authentication plugin, which this reader does not speak: read with reader=connectorx",
                                String::from_utf8_lossy(other.as_bytes())
                            )))
                        }
                    };
                    let data = plugin.gen_data(pass, &nonce);
                    wire.send(data.as_deref().unwrap_or(&[])).map_err(io)?;
                }
                // caching_sha2_password: fast path done, OK follows.
                Some(0x01) if reply.get(1) == Some(&0x03) => {}
                // caching_sha2_password: full authentication; over TLS (or a Unix socket) the
                // password itself, NUL-terminated.
                Some(0x01) if reply.get(1) == Some(&0x04) && (encrypt || local) => {
                    let mut secret = pass.unwrap_or_default().as_bytes().to_vec();
                    secret.push(0);
                    wire.send(&secret).map_err(io)?;
                }
                // Without TLS, encrypted with the server's RSA key.
                Some(0x01) if reply.get(1) == Some(&0x04) => {
                    wire.send(&[0x02]).map_err(io)?;
                    let key = wire.packet().map_err(io)?.to_vec();
                    let mut secret = pass.unwrap_or_default().as_bytes().to_vec();
                    secret.push(0);
                    for (i, b) in secret.iter_mut().enumerate() {
                        *b ^= nonce[i % nonce.len()];
                    }
                    let encrypted =
                        mysql_common::crypto::encrypt(&secret, key.get(1..).unwrap_or(&[]));
                    wire.send(&encrypted).map_err(io)?;
                }
                _ => return Err(self.unexpected("during authentication", &reply)),
            }
        }
    }

    /// Prepares and executes one query and streams its rows; [`Flow::Abandoned`] when the
    /// consumer is gone or the limit is reached before the result's end.
    fn read_query(
        &self,
        wire: &mut Wire,
        query: &str,
        req: &ScanRequest,
        metrics: &ReadMetrics,
        remaining: &mut Option<usize>,
        tx: &BatchSender,
    ) -> Result<Flow> {
        let io = |e: std::io::Error| self.connection_error(e);
        wire.command(0x16, query.as_bytes()).map_err(io)?; // COM_STMT_PREPARE
        let ok = wire.packet().map_err(io)?.to_vec();
        if ok.first() != Some(&0x00) || ok.len() < 9 {
            return Err(self.unexpected("after PREPARE", &ok));
        }
        let stmt = [ok[1], ok[2], ok[3], ok[4]];
        let columns = u16::from_le_bytes([ok[5], ok[6]]) as usize;
        let params = u16::from_le_bytes([ok[7], ok[8]]) as usize;
        for _ in 0..params + columns {
            wire.packet().map_err(io)?;
        }
        if !wire.deprecate_eof {
            if params > 0 {
                wire.packet().map_err(io)?;
            }
            if columns > 0 {
                wire.packet().map_err(io)?;
            }
        }
        if params > 0 {
            return Err(Error::Source {
                backend: "mysql",
                code: None,
                message: format!("the scan query has {params} parameters: {query}"),
                retryable: false,
            });
        }
        let mut execute = vec![];
        execute.extend_from_slice(&stmt);
        execute.push(0); // no cursor
        execute.extend_from_slice(&1u32.to_le_bytes());
        wire.command(0x17, &execute).map_err(io)?; // COM_STMT_EXECUTE
        let head = wire.packet().map_err(io)?.to_vec();
        match head.first() {
            Some(0xFF) => return Err(self.server_error(&head)),
            Some(0x00) if head.len() > 1 && columns == 0 => return Ok(Flow::Next),
            _ => {}
        }
        let mut defs = Vec::with_capacity(columns);
        for _ in 0..columns {
            let def = wire.packet().map_err(io)?;
            let column = ParseBuf(def)
                .parse::<Column>(())
                .map_err(|e| self.connection_error(format!("bad column definition: {e}")))?;
            defs.push((column.column_type(), column.flags()));
        }
        if !wire.deprecate_eof {
            wire.packet().map_err(io)?;
        }
        let mut decoder = RowDecoder::new(&req.columns, &defs, req.batch_size)?;
        let mut decoding = Instant::now();
        let mut waited_before = metrics.wait.value();
        loop {
            let row = wire.packet().map_err(io)?;
            match row.first() {
                Some(0x00) => decoder.push(row)?,
                Some(0xFE) if row.len() < MAX_PAYLOAD => break,
                _ => {
                    let row = row.to_vec();
                    return Err(self.unexpected("in the result", &row));
                }
            }
            if decoder.rows == decoder.batch_size {
                let batch = decoder.flush()?;
                let now = metrics.wait.value();
                decode_time(metrics, decoding, now - waited_before);
                if !emit(batch, req, metrics, remaining, tx)? {
                    return Ok(Flow::Abandoned);
                }
                decoding = Instant::now();
                waited_before = metrics.wait.value();
            }
        }
        let last = decoder.flush()?;
        decode_time(metrics, decoding, metrics.wait.value() - waited_before);
        let mut close = vec![];
        close.extend_from_slice(&stmt);
        wire.command(0x19, &close).map_err(io)?; // COM_STMT_CLOSE: no reply
        emit(last, req, metrics, remaining, tx)?;
        Ok(Flow::Next)
    }
}

/// How a query's result ended.
enum Flow {
    /// Read to its end: go on with the next query (unless the limit is reached).
    Next,
    /// Left before its end (the consumer has gone, or the limit is reached).
    Abandoned,
}

/// How long a socket read waits before asking whether the consumer is still there.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Adds the time since `since` minus the `waited` nanoseconds spent in socket reads.
fn decode_time(metrics: &ReadMetrics, since: Instant, waited: usize) {
    let spent = since
        .elapsed()
        .saturating_sub(Duration::from_nanos(waited as u64));
    metrics.decode.add_duration(spent);
}

fn emit(
    raw: RecordBatch,
    req: &ScanRequest,
    metrics: &ReadMetrics,
    remaining: &mut Option<usize>,
    tx: &BatchSender,
) -> Result<bool> {
    let batch = finish_batch(raw, req, metrics, remaining)?;
    if batch.num_rows() > 0 && !tx.send_blocking(batch) {
        return Ok(false);
    }
    Ok(*remaining != Some(0))
}

/// The packet layer over a socket, reading into one buffer that packets are parsed in place.
struct Wire {
    sock: Sock,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A payload longer than one packet, assembled.
    large: Vec<u8>,
    seq: u8,
    deprecate_eof: bool,
    metrics: ReadMetrics,
    /// The server's id of this connection (what `KILL QUERY` names).
    connection_id: u32,
    /// Whether the consumer has gone: asked while a read waits (the socket has a timeout).
    stop: Option<Box<dyn Fn() -> bool + Send>>,
    /// A read gave up because `stop` said so.
    stopped: bool,
}

impl Wire {
    fn new(sock: Sock, metrics: ReadMetrics) -> Self {
        Self {
            sock,
            buf: vec![0; READ_SIZE * 2],
            start: 0,
            end: 0,
            large: vec![],
            seq: 0,
            deprecate_eof: false,
            metrics,
            connection_id: 0,
            stop: None,
            stopped: false,
        }
    }

    /// Makes at least `n` bytes available from `start`; reading the socket counts as waiting.
    fn need(&mut self, n: usize) -> std::io::Result<()> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n + READ_SIZE {
            self.buf.resize(n + READ_SIZE, 0);
        }
        let waited = Instant::now();
        while self.end < n {
            let got = match self.sock.read(&mut self.buf[self.end..]) {
                Ok(got) => got,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.stop.as_ref().is_some_and(|stop| stop()) {
                        self.stopped = true;
                        return Err(std::io::Error::new(
                            ErrorKind::Interrupted,
                            "the consumer stopped reading",
                        ));
                    }
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if got == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.metrics.wire_bytes.add(got);
            self.end += got;
        }
        self.metrics.wait.add_duration(waited.elapsed());
        Ok(())
    }

    /// The next packet's payload (valid until the next call).
    fn packet(&mut self) -> std::io::Result<&[u8]> {
        self.need(4)?;
        let h = &self.buf[self.start..self.start + 4];
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        self.seq = h[3].wrapping_add(1);
        if len < MAX_PAYLOAD {
            self.need(4 + len)?;
            let at = self.start + 4;
            self.start = at + len;
            return Ok(&self.buf[at..at + len]);
        }
        // A payload split over several packets.
        self.large.clear();
        let mut len = len;
        loop {
            self.need(4 + len)?;
            let at = self.start + 4;
            self.large.extend_from_slice(&self.buf[at..at + len]);
            self.start = at + len;
            if len < MAX_PAYLOAD {
                break;
            }
            self.need(4)?;
            let h = &self.buf[self.start..self.start + 4];
            len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
            self.seq = h[3].wrapping_add(1);
        }
        Ok(&self.large)
    }

    /// Sends one payload as the next packet(s) of the exchange.
    fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 4);
        let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
        if payload.is_empty() {
            out.extend_from_slice(&[0, 0, 0, self.seq]);
            self.seq = self.seq.wrapping_add(1);
        }
        while let Some(chunk) = chunks.next() {
            let len = (chunk.len() as u32).to_le_bytes();
            out.extend_from_slice(&[len[0], len[1], len[2], self.seq]);
            out.extend_from_slice(chunk);
            self.seq = self.seq.wrapping_add(1);
            if chunks.peek().is_none() && chunk.len() == MAX_PAYLOAD {
                out.extend_from_slice(&[0, 0, 0, self.seq]);
                self.seq = self.seq.wrapping_add(1);
            }
        }
        self.sock.write_all(&out)?;
        self.sock.flush()
    }

    /// Turns the connection into a TLS one (after the SSL request), handshake done.
    fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> std::io::Result<()> {
        let Sock::Plain(plain) = std::mem::replace(&mut self.sock, Sock::Closed) else {
            return Err(std::io::Error::other("TLS is already on"));
        };
        let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut stream = rustls::StreamOwned::new(conn, plain);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        self.sock = Sock::Tls(Box::new(stream));
        Ok(())
    }

    /// Starts a new command.
    fn command(&mut self, code: u8, body: &[u8]) -> std::io::Result<()> {
        self.seq = 0;
        let mut payload = Vec::with_capacity(body.len() + 1);
        payload.push(code);
        payload.extend_from_slice(body);
        self.send(&payload)
    }
}

/// A connection before TLS: TCP or a Unix socket.
enum Plain {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Read for Plain {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Plain::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Plain::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Plain {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Plain::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Plain::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Plain::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Plain::Unix(s) => s.flush(),
        }
    }
}

impl Plain {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Plain::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Plain::Unix(s) => s.set_read_timeout(timeout),
        }
    }
}

/// The reader's connection: plain, or TLS over a plain one.
enum Sock {
    Plain(Plain),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Plain>>),
    /// Between the two (only while TLS starts).
    Closed,
}

fn closed() -> std::io::Error {
    std::io::Error::new(ErrorKind::NotConnected, "the connection is closed")
}

impl Sock {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Sock::Plain(p) => p.set_read_timeout(timeout),
            Sock::Tls(t) => t.sock.set_read_timeout(timeout),
            Sock::Closed => Err(closed()),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Sock::Plain(p) => p.read(buf),
            Sock::Tls(t) => t.read(buf),
            Sock::Closed => Err(closed()),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sock::Plain(p) => p.write(buf),
            Sock::Tls(t) => t.write(buf),
            Sock::Closed => Err(closed()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sock::Plain(p) => p.flush(),
            Sock::Tls(t) => t.flush(),
            Sock::Closed => Err(closed()),
        }
    }
}

/// One column's builder, chosen from its declared type and how its values arrive.
enum Acc {
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    Bool(BooleanBuilder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder, u8, i8),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder, bool),
    /// Any value as text, converted to the declared type after the batch (columns read
    /// through their text form, and pairs no direct decoder covers).
    Text(StringBuilder),
}

impl Acc {
    fn new(spec: &ColumnSpec, kind: WireKind) -> Acc {
        use WireKind as W;
        if spec.read.is_text() {
            return Acc::Text(StringBuilder::new());
        }
        match (spec.field.data_type(), kind) {
            (DataType::Int8, W::Int(..)) => Acc::I8(Int8Builder::new()),
            (DataType::Int16, W::Int(..)) => Acc::I16(Int16Builder::new()),
            (DataType::Int32, W::Int(..)) => Acc::I32(Int32Builder::new()),
            (DataType::Int64, W::Int(..)) => Acc::I64(Int64Builder::new()),
            (DataType::UInt8, W::Int(..)) => Acc::U8(UInt8Builder::new()),
            (DataType::UInt16, W::Int(..)) => Acc::U16(UInt16Builder::new()),
            (DataType::UInt32, W::Int(..)) => Acc::U32(UInt32Builder::new()),
            (DataType::UInt64, W::Int(..)) => Acc::U64(UInt64Builder::new()),
            (DataType::Boolean, W::Int(..)) => Acc::Bool(BooleanBuilder::new()),
            (DataType::Float32, W::F32) => Acc::F32(Float32Builder::new()),
            (DataType::Float64, W::F64 | W::F32) => Acc::F64(Float64Builder::new()),
            (DataType::Decimal128(p, s), W::Bytes) => Acc::Dec(Decimal128Builder::new(), *p, *s),
            (DataType::Utf8, W::Bytes) => Acc::Str(StringBuilder::new()),
            (DataType::Binary, W::Bytes) => Acc::Bin(BinaryBuilder::new()),
            (DataType::Date32, W::DateTime) => Acc::Date(Date32Builder::new()),
            (DataType::Timestamp(TimeUnit::Microsecond, tz), W::DateTime) => {
                Acc::Ts(TimestampMicrosecondBuilder::new(), tz.is_some())
            }
            _ => Acc::Text(StringBuilder::new()),
        }
    }

    fn push_null(&mut self) {
        match self {
            Acc::I8(b) => b.append_null(),
            Acc::I16(b) => b.append_null(),
            Acc::I32(b) => b.append_null(),
            Acc::I64(b) => b.append_null(),
            Acc::U8(b) => b.append_null(),
            Acc::U16(b) => b.append_null(),
            Acc::U32(b) => b.append_null(),
            Acc::U64(b) => b.append_null(),
            Acc::Bool(b) => b.append_null(),
            Acc::F32(b) => b.append_null(),
            Acc::F64(b) => b.append_null(),
            Acc::Dec(b, ..) => b.append_null(),
            Acc::Str(b) | Acc::Text(b) => b.append_null(),
            Acc::Bin(b) => b.append_null(),
            Acc::Date(b) => b.append_null(),
            Acc::Ts(b, _) => b.append_null(),
        }
    }

    fn finish(self) -> Result<ArrayRef> {
        Ok(match self {
            Acc::I8(mut b) => Arc::new(b.finish()),
            Acc::I16(mut b) => Arc::new(b.finish()),
            Acc::I32(mut b) => Arc::new(b.finish()),
            Acc::I64(mut b) => Arc::new(b.finish()),
            Acc::U8(mut b) => Arc::new(b.finish()),
            Acc::U16(mut b) => Arc::new(b.finish()),
            Acc::U32(mut b) => Arc::new(b.finish()),
            Acc::U64(mut b) => Arc::new(b.finish()),
            Acc::Bool(mut b) => Arc::new(b.finish()),
            Acc::F32(mut b) => Arc::new(b.finish()),
            Acc::F64(mut b) => Arc::new(b.finish()),
            Acc::Dec(mut b, p, s) => Arc::new(b.finish().with_precision_and_scale(p, s)?),
            Acc::Str(mut b) | Acc::Text(mut b) => Arc::new(b.finish()),
            Acc::Bin(mut b) => Arc::new(b.finish()),
            Acc::Date(mut b) => Arc::new(b.finish()),
            Acc::Ts(mut b, utc) => Arc::new(b.finish().with_timezone_opt(utc.then_some("UTC"))),
        })
    }
}

/// A length-encoded integer at `at`; returns it and the bytes it took.
fn lenenc(row: &[u8], at: usize) -> std::result::Result<(u64, usize), String> {
    let short = || "short row".to_string();
    let first = *row.get(at).ok_or_else(short)?;
    let wide = |n: usize| -> std::result::Result<(u64, usize), String> {
        let b = row.get(at + 1..at + 1 + n).ok_or_else(short)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        Ok((u64::from_le_bytes(v), 1 + n))
    };
    match first {
        0xFC => wide(2),
        0xFD => wide(3),
        0xFE => wide(8),
        0xFB | 0xFF => Err(format!("unexpected length byte {first:#04x}")),
        n => Ok((n as u64, 1)),
    }
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Decodes binary-protocol rows into batches.
pub(super) struct RowDecoder {
    names: Vec<String>,
    kinds: Vec<WireKind>,
    specs: Vec<ColumnSpec>,
    accs: Vec<Acc>,
    rows: usize,
    batch_size: usize,
    /// Columns the result has (one when the scan selects a constant only).
    width: usize,
}

impl RowDecoder {
    pub(super) fn new(
        columns: &[ColumnSpec],
        defs: &[(ColumnType, ColumnFlags)],
        batch_size: usize,
    ) -> Result<Self> {
        let expected = columns.len().max(1);
        if defs.len() != expected {
            return Err(Error::Source {
                backend: "mysql",
                code: None,
                message: format!("the result has {} columns, expected {expected}", defs.len()),
                retryable: false,
            });
        }
        let kinds: Vec<WireKind> = defs.iter().map(|(t, f)| wire_kind(*t, *f)).collect();
        Ok(Self {
            names: columns.iter().map(|c| c.name().to_string()).collect(),
            accs: columns
                .iter()
                .zip(&kinds)
                .map(|(c, k)| Acc::new(c, *k))
                .collect(),
            kinds,
            specs: columns.to_vec(),
            rows: 0,
            batch_size: batch_size.max(1),
            width: expected,
        })
    }

    /// Decodes one row packet (header byte 0x00, NULL bitmap, values).
    pub(super) fn push(&mut self, row: &[u8]) -> Result<()> {
        let bitmap_len = (self.width + 7 + 2) / 8;
        let short = |name: &str| Error::Value {
            column: name.to_string(),
            message: "short row".into(),
        };
        let bitmap = row.get(1..1 + bitmap_len).ok_or_else(|| short("*"))?;
        let mut at = 1 + bitmap_len;
        if self.accs.is_empty() {
            self.rows += 1;
            return Ok(());
        }
        for (i, (acc, kind)) in self.accs.iter_mut().zip(&self.kinds).enumerate() {
            let bit = i + 2;
            if bitmap[bit / 8] & (1 << (bit % 8)) != 0 {
                acc.push_null();
                continue;
            }
            let name = &self.names[i];
            let used = push_value(acc, *kind, row, at, self.specs[i].read).map_err(|message| {
                Error::Value {
                    column: name.clone(),
                    message,
                }
            })?;
            at += used;
        }
        self.rows += 1;
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<RecordBatch> {
        let accs = std::mem::replace(
            &mut self.accs,
            self.specs
                .iter()
                .zip(&self.kinds)
                .map(|(c, k)| Acc::new(c, *k))
                .collect(),
        );
        let columns = accs
            .into_iter()
            .map(Acc::finish)
            .collect::<Result<Vec<_>>>()?;
        let fields: Vec<_> = columns
            .iter()
            .zip(&self.names)
            .map(|(c, n)| Field::new(n, c.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(self.rows)),
        )?;
        self.rows = 0;
        Ok(batch)
    }
}

/// Decodes one value at `at` into `acc`; returns the bytes it took.
fn push_value(
    acc: &mut Acc,
    kind: WireKind,
    row: &[u8],
    at: usize,
    read: ReadAs,
) -> std::result::Result<usize, String> {
    let short = || "short row".to_string();
    match kind {
        WireKind::Int(n, unsigned) => {
            let b = row.get(at..at + n).ok_or_else(short)?;
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(b);
            let (int, uint): (i128, u64) = if unsigned {
                let u = u64::from_le_bytes(v);
                (u as i128, u)
            } else {
                // Sign-extend.
                let shift = 64 - 8 * n as u32;
                let s = (i64::from_le_bytes(v) << shift) >> shift;
                (s as i128, s as u64)
            };
            let range = |t: &str| format!("{int} is out of range for {t}");
            match acc {
                Acc::I8(b) => b.append_value(i8::try_from(int).map_err(|_| range("Int8"))?),
                Acc::I16(b) => b.append_value(i16::try_from(int).map_err(|_| range("Int16"))?),
                Acc::I32(b) => b.append_value(i32::try_from(int).map_err(|_| range("Int32"))?),
                Acc::I64(b) => b.append_value(i64::try_from(int).map_err(|_| range("Int64"))?),
                Acc::U8(b) => b.append_value(u8::try_from(int).map_err(|_| range("UInt8"))?),
                Acc::U16(b) => b.append_value(u16::try_from(int).map_err(|_| range("UInt16"))?),
                Acc::U32(b) => b.append_value(u32::try_from(int).map_err(|_| range("UInt32"))?),
                Acc::U64(b) => {
                    if int < 0 {
                        return Err(range("UInt64"));
                    }
                    b.append_value(uint)
                }
                Acc::Bool(b) => b.append_value(int != 0),
                Acc::Text(b) => b.append_value(int.to_string()),
                _ => return Err("integer for a non-integer column".into()),
            }
            Ok(n)
        }
        WireKind::F32 => {
            let b = row.get(at..at + 4).ok_or_else(short)?;
            let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            match acc {
                Acc::F32(b) => b.append_value(v),
                Acc::F64(b) => b.append_value(v as f64),
                Acc::Text(b) => b.append_value(v.to_string()),
                _ => return Err("float for a non-float column".into()),
            }
            Ok(4)
        }
        WireKind::F64 => {
            let b = row.get(at..at + 8).ok_or_else(short)?;
            let v = f64::from_le_bytes(b.try_into().map_err(|_| short())?);
            match acc {
                Acc::F64(b) => b.append_value(v),
                Acc::Text(b) => b.append_value(v.to_string()),
                _ => return Err("double for a non-double column".into()),
            }
            Ok(8)
        }
        WireKind::DateTime => {
            let len = *row.get(at).ok_or_else(short)? as usize;
            let f = row.get(at + 1..at + 1 + len).ok_or_else(short)?;
            let part = |i: usize| f.get(i).copied().unwrap_or(0) as u32;
            let year = if len >= 2 {
                u16::from_le_bytes([f[0], f[1]]) as i64
            } else {
                0
            };
            let (month, day) = (part(2), part(3));
            let (hour, minute, second) = (part(4), part(5), part(6));
            let micros = if len >= 11 {
                u32::from_le_bytes([f[7], f[8], f[9], f[10]]) as i64
            } else {
                0
            };
            if month == 0 || day == 0 {
                // A zero date (`0000-00-00`, or a zero part as in `2024-05-00`): NULL with the
                // default `zero_dates=null`.
                if read == ReadAs::NativeZeroDateNull {
                    acc.push_null();
                    return Ok(1 + len);
                }
                return Err(format!(
                    "zero date {year:04}-{month:02}-{day:02} has no Arrow value"
                ));
            }
            if month > 12 || day > days_in_month(year, month) {
                return Err(format!("invalid date {year:04}-{month:02}-{day:02}"));
            }
            let days = days_from_civil(year, month, day);
            match acc {
                Acc::Date(b) => b.append_value(days as i32),
                Acc::Ts(b, _) => b.append_value(
                    (days * 86_400 + (hour * 3600 + minute * 60 + second) as i64) * 1_000_000
                        + micros,
                ),
                Acc::Text(b) => b.append_value(format!(
                    "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}"
                )),
                _ => return Err("date for a non-temporal column".into()),
            }
            Ok(1 + len)
        }
        WireKind::Time => {
            let len = *row.get(at).ok_or_else(short)? as usize;
            let f = row.get(at + 1..at + 1 + len).ok_or_else(short)?;
            let mut text = String::new();
            if len >= 8 {
                let negative = f[0] == 1;
                let days = u32::from_le_bytes([f[1], f[2], f[3], f[4]]) as u64;
                let hours = days * 24 + f[5] as u64;
                let micros = if len >= 12 {
                    u32::from_le_bytes([f[8], f[9], f[10], f[11]])
                } else {
                    0
                };
                text = format!(
                    "{}{hours:02}:{:02}:{:02}.{micros:06}",
                    if negative { "-" } else { "" },
                    f[6],
                    f[7]
                );
            } else {
                text.push_str("00:00:00");
            }
            match acc {
                Acc::Text(b) | Acc::Str(b) => b.append_value(text),
                _ => return Err("time for a non-text column".into()),
            }
            Ok(1 + len)
        }
        WireKind::Bytes => {
            let (len, head) = lenenc(row, at)?;
            let start = at + head;
            // A length from the wire: it may be anything, so no arithmetic trusts it.
            let len = usize::try_from(len).map_err(|_| short())?;
            let end = start.checked_add(len).ok_or_else(short)?;
            let bytes = row.get(start..end).ok_or_else(short)?;
            match acc {
                Acc::Str(b) | Acc::Text(b) => {
                    let s = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
                    if read == ReadAs::TrimPad {
                        b.append_value(s.trim_end_matches(' '))
                    } else {
                        b.append_value(s)
                    }
                }
                Acc::Bin(b) => b.append_value(bytes),
                Acc::Dec(b, p, s) => b.append_value(decimal_i128(bytes, *p, *s)?),
                _ => return Err("bytes for a non-byte column".into()),
            }
            Ok(head + len)
        }
        WireKind::Null => {
            acc.push_null();
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_impossible_dates() {
        let spec = |read| ColumnSpec::native("d", DataType::Date32, true, "date").with_read(read);
        let date = |y: u16, m: u8, d: u8| {
            let y = y.to_le_bytes();
            vec![4, y[0], y[1], m, d]
        };
        let mut acc = Acc::new(&spec(ReadAs::NativeZeroDateNull), WireKind::DateTime);
        for raw in [date(0, 0, 0), date(2024, 5, 0), vec![0]] {
            push_value(
                &mut acc,
                WireKind::DateTime,
                &raw,
                0,
                ReadAs::NativeZeroDateNull,
            )
            .unwrap();
        }
        push_value(
            &mut acc,
            WireKind::DateTime,
            &date(2024, 2, 29),
            0,
            ReadAs::NativeZeroDateNull,
        )
        .unwrap();
        let a = acc.finish().unwrap();
        assert_eq!(a.null_count(), 3);
        assert_eq!(
            a.as_primitive::<arrow::datatypes::Date32Type>().value(3),
            19_782
        );
        let mut acc = Acc::new(&spec(ReadAs::NativeZeroDateNull), WireKind::DateTime);
        for bad in [
            date(2024, 2, 30),
            date(2023, 2, 29),
            date(2024, 13, 1),
            date(2024, 4, 31),
        ] {
            let err = push_value(
                &mut acc,
                WireKind::DateTime,
                &bad,
                0,
                ReadAs::NativeZeroDateNull,
            )
            .unwrap_err();
            assert!(err.contains("invalid date"), "{err}");
        }
        let err = push_value(
            &mut acc,
            WireKind::DateTime,
            &date(0, 0, 0),
            0,
            ReadAs::Native,
        )
        .unwrap_err();
        assert!(err.contains("zero date"), "{err}");
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
    }

    /// A socket pair: what the returned thread writes, `Wire` reads.
    fn wire_fed_with(bytes: Vec<u8>) -> (Wire, std::thread::JoinHandle<Vec<u8>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(&bytes).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = vec![];
            let _ = s.read_to_end(&mut got);
            got
        });
        let sock = TcpStream::connect(addr).unwrap();
        (
            Wire::new(Sock::Plain(Plain::Tcp(sock)), ReadMetrics::default()),
            server,
        )
    }

    #[test]
    fn packets_longer_than_16_mib_are_assembled() {
        let mut bytes = vec![];
        bytes.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0]);
        bytes.extend(std::iter::repeat_n(7u8, MAX_PAYLOAD));
        bytes.extend_from_slice(&[3, 0, 0, 1, 1, 2, 3]);
        bytes.extend_from_slice(&[2, 0, 0, 0, 9, 9]);
        let (mut wire, server) = wire_fed_with(bytes);
        let big = wire.packet().unwrap();
        assert_eq!(big.len(), MAX_PAYLOAD + 3);
        assert_eq!(&big[MAX_PAYLOAD..], &[1, 2, 3]);
        assert_eq!(wire.packet().unwrap(), &[9, 9]);
        assert_eq!(wire.metrics.wire_bytes.value(), MAX_PAYLOAD + 17);
        let err = wire.packet().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        // A command is sent as packet 0, a reply continues the sequence.
        wire.command(0x03, b"SELECT 1").unwrap();
        wire.send(&[]).unwrap();
        drop(wire);
        let sent = server.join().unwrap();
        assert_eq!(&sent[..5], &[9, 0, 0, 0, 0x03]);
        assert_eq!(&sent[5..13], b"SELECT 1");
        assert_eq!(&sent[13..], &[0, 0, 0, 1]);
    }

    #[test]
    fn binary_rows_decode_into_declared_types() {
        let specs = vec![
            ColumnSpec::native("i", DataType::Int32, true, "int"),
            ColumnSpec::native("u", DataType::UInt64, true, "bigint unsigned"),
            ColumnSpec::native("d", DataType::Decimal128(15, 2), true, "decimal(15,2)"),
            ColumnSpec::native("s", DataType::Utf8, true, "varchar(10)"),
            ColumnSpec::native("t", DataType::Date32, true, "date"),
            ColumnSpec::native(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
                "datetime(6)",
            ),
        ];
        let defs = [
            (ColumnType::MYSQL_TYPE_LONG, ColumnFlags::empty()),
            (ColumnType::MYSQL_TYPE_LONGLONG, ColumnFlags::UNSIGNED_FLAG),
            (ColumnType::MYSQL_TYPE_NEWDECIMAL, ColumnFlags::empty()),
            (ColumnType::MYSQL_TYPE_VAR_STRING, ColumnFlags::empty()),
            (ColumnType::MYSQL_TYPE_DATE, ColumnFlags::empty()),
            (ColumnType::MYSQL_TYPE_DATETIME, ColumnFlags::empty()),
        ];
        let mut d = RowDecoder::new(&specs, &defs, 10).unwrap();
        // Row 1: every value present.
        let mut row = vec![0x00, 0];
        row.extend_from_slice(&(-5i32).to_le_bytes());
        row.extend_from_slice(&u64::MAX.to_le_bytes());
        row.extend_from_slice(&[6]);
        row.extend_from_slice(b"-12.50");
        row.extend_from_slice(&[2]);
        row.extend_from_slice("é".as_bytes());
        row.extend_from_slice(&[4, 0xD0, 0x07, 2, 29]); // 2000-02-29
        row.extend_from_slice(&[11, 0xB2, 0x07, 1, 1, 0, 0, 1]); // 1970-01-01 00:00:01
        row.extend_from_slice(&5u32.to_le_bytes()); // .000005
        d.push(&row).unwrap();
        // Row 2: NULL bitmap bits 2..=7 set: every column NULL.
        d.push(&[0x00, 0xFC]).unwrap();
        let b = d.flush().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(
            b.column(0)
                .as_primitive::<arrow::datatypes::Int32Type>()
                .value(0),
            -5
        );
        assert_eq!(
            b.column(1)
                .as_primitive::<arrow::datatypes::UInt64Type>()
                .value(0),
            u64::MAX
        );
        assert_eq!(
            b.column(2)
                .as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            -1250
        );
        assert_eq!(b.column(3).as_string::<i32>().value(0), "é");
        assert_eq!(
            b.column(4)
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(0),
            11_016
        );
        assert_eq!(
            b.column(5)
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0),
            1_000_005
        );
        assert!((0..6).all(|c| b.column(c).is_null(1)));
        // A short row names its column; a result of the wrong width is refused.
        let err = d.push(&[0x00, 0, 1]).unwrap_err().to_string();
        assert!(err.contains('i'), "{err}");
        assert!(RowDecoder::new(&specs, &defs[..2], 10).is_err());
    }

    #[test]
    fn length_encoded_integers() {
        assert_eq!(lenenc(&[5], 0).unwrap(), (5, 1));
        assert_eq!(lenenc(&[0xFC, 0x10, 0x01], 0).unwrap(), (272, 3));
        assert_eq!(lenenc(&[0xFD, 1, 0, 1], 0).unwrap(), (65_537, 4));
        assert!(lenenc(&[0xFC, 1], 0).is_err());
        assert!(lenenc(&[0xFB], 0).is_err());
    }
}

/// The handshake against a scripted server that asks for `caching_sha2_password`'s full
/// exchange (MariaDB, the test servers' kind, has no such plugin): the password goes over TLS
/// in clear, or without TLS encrypted with the RSA key the reader asks for.
#[cfg(test)]
mod auth_tests {
    use super::*;
    use mysql_common::constants::StatusFlags;
    use std::net::TcpListener;

    trait Rw: Read + Write {}
    impl<T: Read + Write> Rw for T {}

    fn read_packet(s: &mut dyn Rw) -> (u8, Vec<u8>) {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).unwrap();
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut p = vec![0; len];
        s.read_exact(&mut p).unwrap();
        (h[3], p)
    }

    fn write_packet(s: &mut dyn Rw, seq: u8, payload: &[u8]) {
        let len = (payload.len() as u32).to_le_bytes();
        s.write_all(&[len[0], len[1], len[2], seq]).unwrap();
        s.write_all(payload).unwrap();
        s.flush().unwrap();
    }

    /// A certificate and key for `localhost`, made by the openssl command.
    fn server_config(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        let (cert, key) = (dir.join("srv.pem"), dir.join("srv.key"));
        let ok = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl command")
            .status
            .success();
        assert!(ok);
        let chain = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .collect::<std::result::Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
        )
    }

    /// Serves one handshake; returns what the client sent after its handshake response.
    fn serve(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        rsa_public_key: Vec<u8>,
    ) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
        std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut caps = CapabilityFlags::CLIENT_PROTOCOL_41
                | CapabilityFlags::CLIENT_SECURE_CONNECTION
                | CapabilityFlags::CLIENT_PLUGIN_AUTH
                | CapabilityFlags::CLIENT_LONG_PASSWORD
                | CapabilityFlags::CLIENT_CONNECT_WITH_DB
                | CapabilityFlags::CLIENT_DEPRECATE_EOF;
            if tls.is_some() {
                caps |= CapabilityFlags::CLIENT_SSL;
            }
            let greeting = HandshakePacket::new(
                10,
                &b"8.4.0"[..],
                7,
                *b"abcdefgh",
                Some(&b"ijklmnopqrst"[..]),
                caps,
                45,
                StatusFlags::empty(),
                Some(&b"caching_sha2_password"[..]),
            );
            let mut buf = vec![];
            greeting.serialize(&mut buf);
            let mut plain = tcp;
            write_packet(&mut plain, 0, &buf);
            let mut stream: Box<dyn Rw> = match tls {
                Some(config) => {
                    let (_, request) = read_packet(&mut plain);
                    assert_eq!(request.len(), 32, "an SSL request");
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut s = rustls::StreamOwned::new(conn, plain);
                    while s.conn.is_handshaking() {
                        s.conn.complete_io(&mut s.sock).unwrap();
                    }
                    Box::new(s)
                }
                None => Box::new(plain),
            };
            let (seq, response) = read_packet(&mut *stream);
            assert!(
                response.windows(4).any(|w| w == b"user"),
                "the handshake response names the user"
            );
            let mut got = vec![];
            // caching_sha2_password: perform full authentication.
            write_packet(&mut *stream, seq + 1, &[0x01, 0x04]);
            let (seq, first) = read_packet(&mut *stream);
            got.push(first.clone());
            let mut seq = seq;
            if first == [0x02] {
                // The client asks for the RSA public key.
                let mut key = vec![0x01];
                key.extend_from_slice(&rsa_public_key);
                write_packet(&mut *stream, seq + 1, &key);
                let (s2, blob) = read_packet(&mut *stream);
                got.push(blob);
                seq = s2;
            }
            write_packet(
                &mut *stream,
                seq + 1,
                &[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00],
            );
            got
        })
    }

    fn reader(port: u16, options: &str) -> WireReader {
        let url = format!("mysql://user:pw-s3cret@localhost:{port}/db?{options}");
        let o = super::super::options::MySqlOptions::parse(
            &url,
            crate::connector::PoolOptions::default(),
        )
        .unwrap();
        WireReader {
            host: "localhost".into(),
            port,
            socket: None,
            tls: o.tls.clone(),
            user: "user".into(),
            password: Some("pw-s3cret".into()),
            database: "db".into(),
            session: vec![],
            target: o.target.clone(),
        }
    }

    #[test]
    fn full_exchange_over_tls_sends_the_password_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = serve(listener, Some(server_config(dir.path())), vec![]);
        reader(port, "ssl-mode=REQUIRED")
            .connect(&ReadMetrics::default())
            .unwrap();
        let got = server.join().unwrap();
        assert_eq!(got, vec![b"pw-s3cret\0".to_vec()]);
    }

    #[test]
    fn full_exchange_without_tls_encrypts_with_the_servers_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("rsa.pem");
        let ok = std::process::Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&key)
            .arg("2048")
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok);
        let public = std::process::Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&key)
            .output()
            .unwrap()
            .stdout;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = serve(listener, None, public);
        // PREFERRED (the default) against a server without TLS: plain text.
        reader(port, "").connect(&ReadMetrics::default()).unwrap();
        let got = server.join().unwrap();
        assert_eq!(got[0], vec![0x02], "asks for the key");
        assert_eq!(got[1].len(), 256, "one RSA-2048 block");
        assert!(!got[1].windows(9).any(|w| w == b"pw-s3cret"));
        // The server's decryption gives the password XORed with the scramble.
        let blob = dir.path().join("blob");
        std::fs::write(&blob, &got[1]).unwrap();
        let out = std::process::Command::new("openssl")
            .args([
                "pkeyutl",
                "-decrypt",
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-inkey",
            ])
            .arg(&key)
            .arg("-in")
            .arg(&blob)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let nonce = b"abcdefghijklmnopqrst";
        let clear: Vec<u8> = out
            .stdout
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ nonce[i % nonce.len()])
            .collect();
        assert_eq!(clear, b"pw-s3cret\0");
    }

    #[test]
    fn required_tls_against_a_server_without_it_is_a_tls_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _server = std::thread::spawn(move || {
            // The greeting of a server without TLS, then whatever comes.
            let _ = serve(listener, None, vec![]).join();
        });
        let err = reader(port, "ssl-mode=REQUIRED")
            .connect(&ReadMetrics::default())
            .err()
            .unwrap();
        assert!(matches!(err, Error::Tls { .. }), "{err:?}");
        assert!(err.to_string().contains("does not offer TLS"), "{err}");
        assert!(!format!("{err:?}").contains("pw-s3cret"));
    }
}
