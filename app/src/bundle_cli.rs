//! `sajili bundle`: the ministry signs a centre's trust bundle with its provisioning key (kept
//! offline), and anyone checks a bundle against the key an image was built with, before it
//! goes onto a device.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sajili::device::signed;

use crate::Failure;

/// `sajili bundle ...`.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Sign a trust bundle (`sajili-registry init --bundle-out`, or a centre's) with the
    /// provisioning key, for `image-build/provision`.
    Sign {
        /// The provisioning key's secret seed (32 bytes; keep it offline).
        #[arg(long)]
        key: PathBuf,
        /// The trust bundle to sign.
        #[arg(long)]
        bundle: PathBuf,
        /// Where to write the signed provisioning bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a provisioning bundle against a provisioning key's public half (hex, as the image
    /// carries it in /usr/lib/sajili/provisioning-key.pub). Exits 2 when it would be refused.
    Check {
        /// The public key file.
        #[arg(long)]
        provisioning_key: PathBuf,
        /// The provisioning bundle.
        bundle: PathBuf,
    },
    /// Print the public half of a provisioning key (hex), as the image carries it.
    PublicKey {
        /// The provisioning key's secret seed.
        #[arg(long)]
        key: PathBuf,
    },
}

/// Runs `sajili bundle`.
pub fn run(command: BundleCommand) -> Result<(), Failure> {
    match command {
        BundleCommand::Sign { key, bundle, out } => {
            let key = crate::update_cli::read_seed(&key)?;
            let trust = read(&bundle)?;
            let signed = signed::sign(&trust, &key)
                .map_err(|e| Failure::Input(format!("{}: {e}", bundle.display())))?;
            std::fs::write(&out, signed)
                .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", out.display())))?;
            println!(
                "signed {} with provisioning key {}: {}",
                bundle.display(),
                sajili::record::hex(key.verifying_key().as_bytes()),
                out.display()
            );
            Ok(())
        }
        BundleCommand::Check {
            provisioning_key,
            bundle,
        } => {
            let key = public_key(&provisioning_key)?;
            let (_, trust) = signed::open(&read(&bundle)?, &key)
                .map_err(|e| Failure::Input(format!("{}: {e}", bundle.display())))?;
            println!(
                "{}: signed by the provisioning key; registry {}",
                bundle.display(),
                trust.registry_url
            );
            Ok(())
        }
        BundleCommand::PublicKey { key } => {
            let key = crate::update_cli::read_seed(&key)?;
            println!("{}", sajili::record::hex(key.verifying_key().as_bytes()));
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))
}

/// Reads a provisioning key's public half (hex) from `path`.
pub fn public_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("the provisioning key {}: {e}", path.display())))?;
    signed::parse_public_key(&text).ok_or_else(|| {
        Failure::Input(format!(
            "{} is not a provisioning key's public half (64 hex digits)",
            path.display()
        ))
    })
}
