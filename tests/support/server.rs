//! The real `driftfix serve` binary as a child process, and a minimal blocking HTTP/1.1 client to
//! talk to it (and to the fakes) without async plumbing.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `driftfix serve`; dropping it kills the process (also when a test panics).
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(config: &Path, port: u16) -> Server {
        Server::start_with_env(config, port, &[])
    }

    /// With these extra environment variables (e.g. AWS credentials for the SDK's default chain).
    pub fn start_with_env(config: &Path, port: u16, env: &[(&str, &str)]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_driftfix"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("DRIFTFIX_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("driftfix serve starts");
        let server = Server { child, base: format!("http://127.0.0.1:{port}") };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get(&format!("{}/readyz", self.base), None).is_some_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become ready");
    }

    pub fn signal(&mut self, sig: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit in {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal blocking HTTP/1.1 client over std (keeps the test free of async plumbing).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

pub fn http_get(url: &str, token: Option<&str>) -> Option<(u16, String)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
    http("GET", url, &headers, "")
}
