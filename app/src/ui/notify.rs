//! systemd's notify protocol: "ready" once the first screen is up, then a watchdog ping from
//! the UI thread's timer, so a hung screen gets the kiosk restarted (the journal brings the
//! person back to where they were).

use std::os::unix::net::UnixDatagram;

/// Sends one notification (`READY=1`, `WATCHDOG=1`) if systemd asked for them.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let sent = match path.strip_prefix('@') {
        // An abstract socket name (Linux).
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|address| socket.send_to_addr(state.as_bytes(), &address))
        }
        None => socket.send_to(state.as_bytes(), &path),
    };
    if let Err(error) = sent {
        log::warn!("systemd notification failed: {error}");
    }
}
