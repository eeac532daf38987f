//! Test fixtures: the shared ones (synthetic images and sample enrolments, from
//! `sajili-record`) and the staff the sample enrolments name.

pub use sajili_record::fixtures::*;

/// The operator the fixtures' enrolments name (`OP-0042`), with a PIN.
pub const FIXTURE_OPERATOR: (&str, &str) = ("OP-0042", "424242");
/// The supervisor the documented example names (`SUP-0007`), with a PIN.
pub const FIXTURE_SUPERVISOR: (&str, &str) = ("SUP-0007", "707070");

/// Enrols the fixtures' operator and supervisor on a device, so records naming them seal.
pub fn add_fixture_staff(store: &crate::store::Store) -> Result<(), crate::staff::StaffError> {
    use crate::staff::{Role, add};
    add(
        store,
        FIXTURE_OPERATOR.0,
        Role::Operator,
        FIXTURE_OPERATOR.1,
    )?;
    add(
        store,
        FIXTURE_SUPERVISOR.0,
        Role::Supervisor,
        FIXTURE_SUPERVISOR.1,
    )
}
