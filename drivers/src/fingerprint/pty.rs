//! A pseudo-terminal for the twin: the twin holds the master side; any client (the driver,
//! `pyfingerprint`, a field engineer's tool) opens the slave path as it would /dev/ttyUSB0.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags, open};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};

/// An open pseudo-terminal pair.
#[derive(Debug)]
pub struct Pty {
    /// The master side: what the twin reads commands from and writes answers to.
    pub master: File,
    /// The slave side's path, for clients.
    pub path: PathBuf,
    /// A slave handle the twin keeps open, so the master never sees end-of-file between clients.
    _slave: File,
}

impl Pty {
    /// Opens a new pair in raw mode (no echo, no line editing: bytes pass as they are).
    pub fn open() -> io::Result<Self> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let path = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = open(
            &path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut termios = tcgetattr(&slave)?;
        termios.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &termios)?;
        Ok(Self {
            master: File::from(master),
            path,
            _slave: File::from(slave),
        })
    }
}
