//! TCP_NODELAY on the PostgreSQL connections, which sqlx 0.9.0 no longer sets (sqlx issue #4335;
//! fixed upstream after 0.9.0, not yet released). Without it, a statement larger than the socket's
//! send buffer — an intake batch of a few dozen events — goes out in two writes, and Nagle's
//! algorithm holds the second until PostgreSQL's delayed ACK: about 40 ms per such statement,
//! measured as 44 ms per batch of 32 events (`benches/store_write.rs`) and as the p99 of intake on
//! PostgreSQL.
//!
//! sqlx does not hand out its sockets, so after each new connection this looks through the
//! process's own file descriptors (`/proc/self/fd`) for TCP sockets connected to the database's port
//! and turns Nagle off on them. That is idempotent, and harmless on any other socket it might match.
//! Remove this module once sqlx sets the option itself again.

/// Set TCP_NODELAY on every TCP socket of this process whose peer port is `port`. Returns how many
/// sockets now have it set. Linux only (elsewhere: 0, and nothing changes).
pub fn apply(port: u16) -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return 0 };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&fd| set_if_peer_port(fd, port))
            .count()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        0
    }
}

#[cfg(target_os = "linux")]
fn set_if_peer_port(fd: i32, port: u16) -> bool {
    use std::os::fd::BorrowedFd;
    // SAFETY: the descriptor is only borrowed for the `getsockopt`/`setsockopt` calls below and is
    // never closed or read here. Should another thread close it meanwhile, the calls fail with
    // EBADF; should the number be reused, the option lands on another TCP socket or fails with
    // ENOTSOCK. No memory is touched through it either way.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&fd);
    let is_stream = sock.r#type().is_ok_and(|t| t == socket2::Type::STREAM);
    let peer_port = sock.peer_addr().ok().and_then(|a| a.as_socket()).map(|a| a.port());
    is_stream && peer_port == Some(port) && sock.set_tcp_nodelay(true).is_ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::apply;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn sockets_to_the_port_get_nodelay_and_others_do_not() {
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let to_target = TcpStream::connect(target.local_addr().unwrap()).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_target.nodelay().unwrap() && !to_other.nodelay().unwrap(), "the kernel default is Nagle on");
        assert_eq!(apply(target.local_addr().unwrap().port()), 1);
        assert!(to_target.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap(), "a socket to another port is left alone");
    }
}
