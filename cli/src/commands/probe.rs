//! `msgmig probe`: asks a running worker's `/healthz` or `/readyz` and exits 0 only on HTTP 200,
//! for container health checks (the runtime image has no curl).

use super::{EXIT_INCOMPLETE, EXIT_OK};
use anyhow::Result;
use std::io::{Read, Write};
use std::time::Duration;

/// Probes `addr` (`host:port` of `--metrics-addr`) on `/readyz` when `ready`, else `/healthz`.
/// Exit 0 on 200; 1 (with the status line or the connection error on stderr) otherwise.
pub fn run(args: crate::cli::ProbeArgs) -> Result<i32> {
    let path = if args.ready { "/readyz" } else { "/healthz" };
    match get(&args.addr, path, Duration::from_secs(args.timeout_secs)) {
        Ok(status) if status.split_whitespace().nth(1) == Some("200") => Ok(EXIT_OK),
        Ok(status) => {
            eprintln!("{}{path}: {status}", args.addr);
            Ok(EXIT_INCOMPLETE)
        }
        Err(e) => {
            eprintln!("{}{path}: {e}", args.addr);
            Ok(EXIT_INCOMPLETE)
        }
    }
}

/// The status line of `GET path` over HTTP/1.1.
fn get(addr: &str, path: &str, timeout: Duration) -> std::io::Result<String> {
    use std::net::ToSocketAddrs;
    let target = addr.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "address resolves to nothing")
    })?;
    let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}
