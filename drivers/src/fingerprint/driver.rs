//! The R30x / AS608 / ZFM driver: commands over a serial link, with retries where the wire
//! garbles a packet, and a clear error where the module or the link fails.

use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::packet::{self, HEADER_LEN, Packet, PacketError, PacketKind};
use super::protocol::{ModuleError, SystemParameters, instruction, parameter, unpack_image};
use super::{FingerImage, FingerprintSensor, SensorDescription};

/// A serial line to a sensor: a real UART bridge, or the twin's pseudo-terminal.
pub trait SerialLink: Read + Write + Send {
    /// Changes the line's baud rate.
    fn set_baud(&mut self, baud: u32) -> io::Result<()>;
    /// Drops bytes waiting to be read (after a garbled packet, to get back in step).
    fn discard_input(&mut self) -> io::Result<()>;
    /// How many bytes are waiting to be read.
    fn bytes_waiting(&mut self) -> io::Result<u32>;
}

impl SerialLink for Box<dyn serialport::SerialPort> {
    fn set_baud(&mut self, baud: u32) -> io::Result<()> {
        self.set_baud_rate(baud).map_err(io::Error::other)
    }

    fn discard_input(&mut self) -> io::Result<()> {
        self.clear(serialport::ClearBuffer::Input)
            .map_err(io::Error::other)
    }

    fn bytes_waiting(&mut self) -> io::Result<u32> {
        self.bytes_to_read().map_err(io::Error::other)
    }
}

/// Opens a serial device (e.g. `/dev/ttyUSB0`, or the twin's pty) at `baud`, 8N1, with reads
/// that give up after `timeout`.
pub fn open_serial(
    path: &str,
    baud: u32,
    timeout: Duration,
) -> Result<Box<dyn serialport::SerialPort>, SensorError> {
    serialport::new(path, baud)
        .timeout(timeout)
        .open()
        .map_err(|e| SensorError::Open {
            path: path.to_string(),
            detail: e.to_string(),
        })
}

/// Why talking to the sensor failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SensorError {
    /// The serial device could not be opened (unplugged, or no permission).
    Open {
        /// The device.
        path: String,
        /// What the system said.
        detail: String,
    },
    /// The sensor did not answer in time: unplugged, wrong baud rate, or not a sensor.
    NotAnswering,
    /// The link failed (device gone).
    Link(io::Error),
    /// Bytes arrived garbled, again after every retry.
    Garbled(PacketError),
    /// An answer from another module address.
    WrongAddress {
        /// The address we talk to.
        expected: u32,
        /// The address that answered.
        found: u32,
    },
    /// A packet of the wrong kind where an ack or data was due.
    UnexpectedPacket(PacketKind),
    /// The module reported an error.
    Module(ModuleError),
    /// No finger was placed before the deadline.
    NoFinger,
    /// The image is not a size this driver knows.
    UnknownImageSize {
        /// Bytes received.
        bytes: usize,
    },
    /// The module's parameters do not parse.
    BadParameters,
}

impl fmt::Display for SensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, detail } => {
                write!(f, "cannot open the fingerprint sensor at {path}: {detail}")
            }
            Self::NotAnswering => {
                f.write_str("the fingerprint sensor is not answering: check its cable")
            }
            Self::Link(error) => write!(f, "the fingerprint sensor's link failed: {error}"),
            Self::Garbled(error) => {
                write!(f, "garbled answers from the fingerprint sensor ({error})")
            }
            Self::WrongAddress { expected, found } => {
                write!(
                    f,
                    "a sensor at address {found:#010x} answered; expected {expected:#010x}"
                )
            }
            Self::UnexpectedPacket(kind) => {
                write!(f, "the sensor sent an unexpected {kind:?} packet")
            }
            Self::Module(error) => error.fmt(f),
            Self::NoFinger => f.write_str("no finger was placed on the sensor in time"),
            Self::UnknownImageSize { bytes } => write!(
                f,
                "the sensor sent an image of {bytes} bytes, not a known size"
            ),
            Self::BadParameters => f.write_str("the sensor's system parameters do not make sense"),
        }
    }
}

impl std::error::Error for SensorError {}

/// How many times a garbled or lost exchange is tried again before giving up.
const RETRIES: u32 = 3;
/// Silence that means a garbled answer has finished arriving: eight packets' time at 57,600.
const QUIET: Duration = Duration::from_millis(40);
/// Pause between finger polls.
const POLL_INTERVAL: Duration = Duration::from_millis(60);

/// A connected R30x-family sensor.
pub struct R30x<L: SerialLink> {
    link: L,
    address: u32,
    parameters: SystemParameters,
}

impl<L: SerialLink> fmt::Debug for R30x<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("R30x")
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}

impl<L: SerialLink> R30x<L> {
    /// Handshakes with the module at `address`: checks `password`, reads its parameters.
    pub fn connect(link: L, address: u32, password: u32) -> Result<Self, SensorError> {
        let mut sensor = Self {
            link,
            address,
            parameters: SystemParameters {
                status: 0,
                system_id: 0,
                capacity: 0,
                security_level: 0,
                address,
                packet_size: 128,
                baud: 57_600,
            },
        };
        let mut verify = vec![instruction::VFY_PWD];
        verify.extend_from_slice(&password.to_be_bytes());
        sensor.command(&verify)?;
        let answer = sensor.command(&[instruction::READ_SYS_PARA])?;
        sensor.parameters = SystemParameters::parse(&answer).ok_or(SensorError::BadParameters)?;
        Ok(sensor)
    }

    /// The module's parameters as read at connection.
    pub fn parameters(&self) -> SystemParameters {
        self.parameters
    }

    /// Switches module and line to `baud` (9600 x N, N 1..=12). On the wire alone an image
    /// needs ~7 s at 57,600 and half that at 115,200 (arithmetic, not a measurement: whether a
    /// real module keeps up at the higher rate is not measured yet).
    pub fn set_baud(&mut self, baud: u32) -> Result<(), SensorError> {
        let n = (baud / 9600) as u8;
        self.command(&[instruction::SET_SYS_PARA, parameter::BAUD, n])?;
        self.link.set_baud(baud).map_err(SensorError::Link)?;
        self.parameters.baud = baud;
        Ok(())
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), SensorError> {
        let bytes = Packet::command(self.address, payload.to_vec()).encode();
        self.link.write_all(&bytes).map_err(link_error)?;
        self.link.flush().map_err(link_error)
    }

    fn read_packet(&mut self) -> Result<Packet, SensorError> {
        let mut header = [0u8; HEADER_LEN];
        self.link.read_exact(&mut header).map_err(link_error)?;
        let length = packet::body_len(&header).map_err(SensorError::Garbled)?;
        let mut body = vec![0u8; length];
        self.link.read_exact(&mut body).map_err(link_error)?;
        let packet = packet::decode(&header, &body).map_err(SensorError::Garbled)?;
        if packet.address != self.address {
            return Err(SensorError::WrongAddress {
                expected: self.address,
                found: packet.address,
            });
        }
        Ok(packet)
    }

    fn read_ack(&mut self) -> Result<Vec<u8>, SensorError> {
        let packet = self.read_packet()?;
        if packet.kind != PacketKind::Ack {
            return Err(SensorError::UnexpectedPacket(packet.kind));
        }
        match packet.payload.split_first() {
            Some((0, rest)) => Ok(rest.to_vec()),
            Some((code, _)) => Err(SensorError::Module(ModuleError::from_code(*code))),
            None => Err(SensorError::UnexpectedPacket(PacketKind::Ack)),
        }
    }

    /// Sends a command and returns the ack's payload after the confirmation code, trying again
    /// when the exchange is garbled or lost.
    fn command(&mut self, payload: &[u8]) -> Result<Vec<u8>, SensorError> {
        self.retrying(|sensor| {
            sensor.send(payload)?;
            sensor.read_ack()
        })
    }

    fn retrying<T>(
        &mut self,
        mut exchange: impl FnMut(&mut Self) -> Result<T, SensorError>,
    ) -> Result<T, SensorError> {
        let mut attempt = 0;
        loop {
            match exchange(self) {
                Err(
                    SensorError::Garbled(_)
                    | SensorError::NotAnswering
                    | SensorError::Module(ModuleError::PacketReceive),
                ) if attempt < RETRIES => {
                    attempt += 1;
                    self.resynchronise();
                }
                other => return other,
            }
        }
    }

    /// Drops the rest of a garbled answer (an image upload can still be streaming) until the
    /// line has been quiet for a moment, so the next command's answer starts in step.
    fn resynchronise(&mut self) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while Instant::now() < give_up {
            let _ = self.link.discard_input();
            std::thread::sleep(QUIET);
            match self.link.bytes_waiting() {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Sets the ring LED of modules that have one (R503: AuraLedConfig): `control` 1 breathing,
    /// 2 flashing, 3 on, 4 off, 5 gradually on, 6 gradually off; `colour` 1 red, 2 blue,
    /// 3 purple, 4 green, 5 yellow, 6 cyan, 7 white. Modules without a ring LED answer with a
    /// module error, which callers may ignore.
    pub fn set_led(
        &mut self,
        control: u8,
        speed: u8,
        colour: u8,
        count: u8,
    ) -> Result<(), SensorError> {
        self.command(&[instruction::AURA_LED_CONFIG, control, speed, colour, count])
            .map(|_| ())
    }

    /// Waits up to `wait` for a finger, then uploads its image.
    pub fn capture_image(&mut self, wait: Duration) -> Result<FingerImage, SensorError> {
        let deadline = Instant::now() + wait;
        loop {
            match self.command(&[instruction::GEN_IMG]) {
                Ok(_) => break,
                Err(SensorError::Module(ModuleError::NoFinger)) if Instant::now() < deadline => {
                    std::thread::sleep(POLL_INTERVAL);
                }
                Err(SensorError::Module(ModuleError::NoFinger)) => {
                    return Err(SensorError::NoFinger);
                }
                Err(other) => return Err(other),
            }
        }
        self.retrying(|sensor| {
            sensor.send(&[instruction::UP_IMAGE])?;
            sensor.read_ack()?;
            sensor.read_image_data()
        })
    }

    fn read_image_data(&mut self) -> Result<FingerImage, SensorError> {
        let mut packed = Vec::with_capacity(36_864);
        loop {
            let packet = self.read_packet()?;
            match packet.kind {
                PacketKind::Data | PacketKind::EndData => packed.extend_from_slice(&packet.payload),
                other => return Err(SensorError::UnexpectedPacket(other)),
            }
            if packet.kind == PacketKind::EndData {
                break;
            }
            if packed.len() > 36_864 {
                break;
            }
        }
        let (width, height) = match packed.len() {
            36_864 => (256, 288),
            18_432 => (192, 192),
            bytes => {
                packed.zeroize();
                return Err(SensorError::UnknownImageSize { bytes });
            }
        };
        let pixels = unpack_image(&packed);
        packed.zeroize();
        Ok(FingerImage {
            width,
            height,
            pixels,
        })
    }
}

fn link_error(error: io::Error) -> SensorError {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof => {
            SensorError::NotAnswering
        }
        _ => SensorError::Link(error),
    }
}

impl<L: SerialLink> FingerprintSensor for R30x<L> {
    fn describe(&self) -> SensorDescription {
        SensorDescription {
            family: "R30x/AS608/ZFM",
            address: self.parameters.address,
            baud: self.parameters.baud,
            packet_size: self.parameters.packet_size,
        }
    }

    fn capture(&mut self, wait: Duration) -> Result<FingerImage, SensorError> {
        self.capture_image(wait)
    }
}
