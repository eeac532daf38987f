//! Bytes from a fingerprint sensor's serial line: the packet parser never panics and what it
//! parses re-encodes identically; the twin survives any byte stream a client sends.
#![no_main]
use sajili_drivers::fingerprint::packet::decode_prefix;
use sajili_drivers::fingerprint::{Twin, TwinConfig};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(Some((packet, used))) = decode_prefix(data) {
        assert_eq!(packet.encode(), &data[..used]);
    }
    // A flat image and no polls: cheap per input, and every command path (upload included) runs.
    let mut twin = Twin::new(TwinConfig {
        images: vec![vec![128; 256 * 288]],
        polls_before_finger: 0,
        ..TwinConfig::default()
    });
    let mut link = std::io::Cursor::new(data.to_vec());
    let mut sink = Vec::new();
    let mut duplex = Duplex { input: &mut link, output: &mut sink };
    let _ = twin.serve(&mut duplex);
});

struct Duplex<'a> {
    input: &'a mut std::io::Cursor<Vec<u8>>,
    output: &'a mut Vec<u8>,
}

impl std::io::Read for Duplex<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl std::io::Write for Duplex<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
