//! What flows between the back office and the kiosk besides records, at each pass: the newest
//! fleet policy comes down (handed to the kiosk in the spool, which checks its signature), and
//! the kiosk's signed audit events go up. Neither may hold records back: a failure here is
//! noted and the pass goes on, except a withdrawal, which ends it.

use super::client::{CallError, Registry};
use super::state::UplinkState;
use crate::spool::Spool;

/// Fetches a newer policy into the spool and sends the audit files waiting; notes in words
/// what it did or why a step failed. Returns an error only for a withdrawal.
pub fn exchange(
    registry: &Registry,
    spool: &Spool,
    state: &mut UplinkState,
    notes: &mut Vec<String>,
) -> Result<(), CallError> {
    match registry.policy(state.policy_version) {
        Ok(Some(signed)) => match sajili_record::policy::claimed_version(&signed) {
            Some(version) if version > state.policy_version => match spool.put_policy(&signed) {
                Ok(()) => {
                    state.policy_version = version;
                    notes.push(format!("fleet policy version {version} fetched"));
                }
                Err(error) => notes.push(format!("could not hand over the policy: {error}")),
            },
            _ => notes.push("the registry sent a policy that is not newer; ignored".into()),
        },
        Ok(None) => {}
        Err(error @ CallError::Withdrawn(_)) => return Err(error),
        Err(error) => notes.push(format!("could not fetch the fleet policy: {error}")),
    }
    let files = match spool.audit_files() {
        Ok(files) => files,
        Err(error) => {
            notes.push(format!("could not list the audit files: {error}"));
            return Ok(());
        }
    };
    let sent_through = state.audit_through;
    for last in files.into_iter().filter(|last| *last > sent_through) {
        let bytes = match spool.audit(last) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(error) => {
                notes.push(format!("audit file {last} is not readable: {error}"));
                break;
            }
        };
        match registry.audit(&bytes) {
            Ok(answer) => {
                state.audit_through = state.audit_through.max(last.min(answer.held_through))
            }
            Err(error @ CallError::Withdrawn(_)) => return Err(error),
            Err(error) => {
                notes.push(format!("could not send audit events up to {last}: {error}"));
                break;
            }
        }
    }
    Ok(())
}
